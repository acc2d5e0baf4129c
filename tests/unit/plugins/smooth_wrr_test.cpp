// The round_robin plugin's algorithm, compiled directly into the test binary.
#include "balancer_round_robin/smooth_wrr.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>
#include <thread>
#include <vector>

using postern::plugins::round_robin::kMaxCycle;
using postern::plugins::round_robin::normalizeWeights;
using postern::plugins::round_robin::smoothWrrCycle;
using postern::plugins::round_robin::SmoothWrrSelector;

namespace {

// nginx's ngx_http_upstream_get_peer, literally: the reference the precomputed cycle must match.
std::vector<std::uint32_t> nginxSequence(const std::vector<std::uint32_t>& weights, std::size_t n) {
    std::vector<std::int64_t> current(weights.size(), 0);
    std::vector<std::uint32_t> out;
    for (std::size_t step = 0; step < n; ++step) {
        std::int64_t total = 0;
        std::size_t best = weights.size();
        for (std::size_t i = 0; i < weights.size(); ++i) {
            current[i] += weights[i];
            total += weights[i];
            if (best == weights.size() || current[i] > current[best]) best = i;
        }
        current[best] -= total;
        out.push_back(static_cast<std::uint32_t>(best));
    }
    return out;
}

std::vector<std::uint32_t> primaries(SmoothWrrSelector& s, std::size_t picks) {
    postern_pick_context ctx{0, 0, 0, 0};
    std::vector<std::uint32_t> out;
    std::uint32_t one = 0;
    for (std::size_t i = 0; i < picks; ++i) {
        EXPECT_EQ(s.pick(ctx, std::span<std::uint32_t>(&one, 1)), 1u);
        out.push_back(one);
    }
    return out;
}

}  // namespace

TEST(SmoothWrr, NginxSequenceForFiveOneOne) {
    // a,a,b,a,c,a,a — the example in nginx's commit introducing smooth weighted round robin.
    const std::vector<std::uint32_t> expected = {0, 0, 1, 0, 2, 0, 0};
    std::vector<std::uint32_t> w = {5, 1, 1};
    EXPECT_EQ(smoothWrrCycle(w), expected);
    SmoothWrrSelector s(w);
    auto seq = primaries(s, 14);
    EXPECT_EQ(std::vector<std::uint32_t>(seq.begin(), seq.begin() + 7), expected);
    EXPECT_EQ(std::vector<std::uint32_t>(seq.begin() + 7, seq.end()), expected);  // it cycles
}

TEST(SmoothWrr, MatchesNginxForRandomWeights) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 200; ++round) {
        std::size_t n = 1 + rng() % 12;
        std::vector<std::uint32_t> w(n);
        for (auto& x : w) x = 1 + rng() % (round % 2 ? 5 : 40);  // many ties, and varied weights
        auto norm = normalizeWeights(w);
        std::uint64_t len = 0;
        for (auto x : norm) len += x;
        ASSERT_EQ(smoothWrrCycle(w), nginxSequence(norm, len)) << "round " << round;
    }
}

TEST(SmoothWrr, WeightsAreReducedByTheirGcd) {
    std::vector<std::uint32_t> w = {10, 20, 30};
    EXPECT_EQ(normalizeWeights(w), (std::vector<std::uint32_t>{1, 2, 3}));
    EXPECT_EQ(smoothWrrCycle(w).size(), 6u);
    std::vector<std::uint32_t> zero = {0, 0};  // 0 is taken as 1
    EXPECT_EQ(smoothWrrCycle(zero), (std::vector<std::uint32_t>{0, 1}));
}

TEST(SmoothWrr, LargeWeightSumsAreScaledProportionally) {
    std::vector<std::uint32_t> w = {1000000, 500000, 1, 3};
    auto norm = normalizeWeights(w);
    std::uint64_t sum = 0;
    for (auto x : norm) sum += x;
    EXPECT_LE(sum, kMaxCycle + w.size());
    EXPECT_GE(norm[2], 1u);  // nobody drops to zero
    EXPECT_GE(norm[3], 1u);
    EXPECT_NEAR(static_cast<double>(norm[0]) / norm[1], 2.0, 0.001);
    auto cycle = smoothWrrCycle(w);
    EXPECT_EQ(cycle.size(), sum);
    for (std::uint32_t i = 0; i < w.size(); ++i)
        EXPECT_EQ(static_cast<std::uint64_t>(std::count(cycle.begin(), cycle.end(), i)), norm[i]);
}

TEST(SmoothWrr, WeightsRespectedOverTenThousandPicks) {
    std::vector<std::uint32_t> w = {1, 2, 3, 4};
    SmoothWrrSelector s(w);
    std::vector<int> counts(4, 0);
    for (auto i : primaries(s, 10000)) ++counts[i];
    for (int i = 0; i < 4; ++i) {
        double expected = 10000.0 * w[i] / 10.0;
        EXPECT_NEAR(counts[i], expected, expected * 0.05) << "backend " << i;
    }
}

TEST(SmoothWrr, EqualWeightsAreExactRoundRobin) {
    std::vector<std::uint32_t> w = {1, 1, 1};
    SmoothWrrSelector s(w);
    auto seq = primaries(s, 30);
    std::vector<int> counts(3, 0);
    for (auto i : seq) ++counts[i];
    EXPECT_EQ(counts, (std::vector<int>{10, 10, 10}));
    for (std::size_t k = 0; k < seq.size(); ++k) EXPECT_EQ(seq[k], k % 3);
}

TEST(SmoothWrr, CandidateListsNeverRepeatABackend) {
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
        std::size_t n = 1 + rng() % 20;
        std::vector<std::uint32_t> w(n);
        for (auto& x : w) x = 1 + rng() % 10;
        SmoothWrrSelector s(w);
        for (std::uint32_t cap : {1u, 2u, 3u, 8u, 9u, 32u}) {
            std::vector<std::uint32_t> out(cap);
            for (std::uint64_t pos = 0; pos < s.cycle().size() + 3; ++pos) {
                std::uint32_t got = s.candidates(pos, out);
                ASSERT_EQ(got, std::min<std::uint32_t>(cap, static_cast<std::uint32_t>(n)));
                EXPECT_EQ(out[0], s.cycle()[pos % s.cycle().size()]);
                std::set<std::uint32_t> distinct(out.begin(), out.begin() + got);
                ASSERT_EQ(distinct.size(), got) << "round " << round << " cap " << cap << " pos " << pos;
                for (auto i : distinct) ASSERT_LT(i, n);
            }
        }
    }
}

TEST(SmoothWrr, RetriesFollowTheCycle) {
    // Cycle for {5,1,1}: a a b a c a a. After an `a` at position 0 the next distinct backend in the
    // cycle is b, then c; after the `a` at position 3 it is c, then b.
    std::vector<std::uint32_t> w = {5, 1, 1};
    SmoothWrrSelector s(w);
    std::uint32_t out[3];
    ASSERT_EQ(s.candidates(0, out), 3u);
    EXPECT_EQ((std::vector<std::uint32_t>(out, out + 3)), (std::vector<std::uint32_t>{0, 1, 2}));
    ASSERT_EQ(s.candidates(3, out), 3u);
    EXPECT_EQ((std::vector<std::uint32_t>(out, out + 3)), (std::vector<std::uint32_t>{0, 2, 1}));
    ASSERT_EQ(s.candidates(2, out), 3u);
    EXPECT_EQ((std::vector<std::uint32_t>(out, out + 3)), (std::vector<std::uint32_t>{1, 0, 2}));
}

TEST(SmoothWrr, LongListsCoverEveryBackend) {
    std::vector<std::uint32_t> w(40, 1);
    w[3] = 100;  // the cycle alone would take long to reach everyone
    SmoothWrrSelector s(w);
    std::vector<std::uint32_t> out(64);
    ASSERT_EQ(s.candidates(0, out), 40u);
    std::set<std::uint32_t> all(out.begin(), out.begin() + 40);
    EXPECT_EQ(all.size(), 40u);
}

TEST(SmoothWrr, EmptySnapshotPicksNothing) {
    SmoothWrrSelector s(std::span<const std::uint32_t>{});
    std::uint32_t out[4];
    postern_pick_context ctx{0, 0, 0, 0};
    EXPECT_EQ(s.pick(ctx, out), 0u);
}

TEST(SmoothWrr, ConcurrentPicksLoseNothing) {
    std::vector<std::uint32_t> w = {1, 2, 3, 4};
    SmoothWrrSelector s(w);
    constexpr int kThreads = 4;
    constexpr int kPicksEach = 25000;  // 100000 picks in all: exactly 10000 cycles
    std::vector<std::vector<int>> counts(kThreads, std::vector<int>(4, 0));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            postern_pick_context ctx{0, 0, 0, 0};
            std::uint32_t out[3];
            for (int i = 0; i < kPicksEach; ++i) {
                std::uint32_t n = s.pick(ctx, out);
                if (n != 3 || out[0] > 3) continue;  // counted as lost below
                ++counts[t][out[0]];
            }
        });
    go = true;
    for (auto& th : threads) th.join();
    std::vector<int> total(4, 0);
    for (const auto& c : counts)
        for (int i = 0; i < 4; ++i) total[i] += c[i];
    // Every cursor value 0..99999 was taken exactly once, so the split is exact.
    EXPECT_EQ(total, (std::vector<int>{10000, 20000, 30000, 40000}));
}
