// The least_connections selector (plugins/balancer_least_connections), driven directly with a fake
// load table, plus the plugin library through the C ABI.
#include "balancer_least_connections/least_connections.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <thread>

#include "plugin/registry.h"
#include "support/plugins/fake_config.h"
#include "unit/plugins/balancer_test_support.h"

namespace postern::plugins::least_connections {
namespace {

using testing::BackendSet;
using testing::FakeLoad;

/** Picks and keeps the connection open (load + onOpen), as the core does for a long-lived one. */
std::uint32_t openOne(LeastConnectionsSelector& s, FakeLoad& load) {
    std::uint32_t out[16];
    EXPECT_GE(s.pick({0, 0, 0, 0}, out), 1u);
    load.add(out[0], 1);
    s.onOpen(out[0]);
    return out[0];
}

void closeOne(LeastConnectionsSelector& s, FakeLoad& load, std::uint32_t i) {
    load.add(i, -1);
    s.onClose(i);
}

TEST(LeastConnections, EqualisesLongLivedConnections) {
    BackendSet set(3);
    FakeLoad load(3);
    LeastConnectionsSelector s(set.views(), load.load());
    std::vector<std::vector<int>> open(3);
    for (int i = 0; i < 30; ++i) open[openOne(s, load)].push_back(i);
    EXPECT_EQ(load.get(0), 10u);
    EXPECT_EQ(load.get(1), 10u);
    EXPECT_EQ(load.get(2), 10u);
    // Backend 1's clients leave: the next 10 connections all go to it.
    for (int k = 0; k < 10; ++k) closeOne(s, load, 1);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(openOne(s, load), 1u) << "connection " << i;
    EXPECT_EQ(load.get(1), 10u);
}

TEST(LeastConnections, WeightsRespectedWithin5PercentOver10000HeldConnections) {
    const std::vector<std::uint32_t> weights = {1, 2, 3, 4, 10};
    BackendSet set(weights);
    FakeLoad load(weights.size());
    LeastConnectionsSelector s(set.views(), load.load());
    for (int i = 0; i < 10000; ++i) openOne(s, load);
    for (std::size_t i = 0; i < weights.size(); ++i) {
        const double share = load.get(i) / 10000.0;
        EXPECT_NEAR(share, testing::weightShare(weights, i),
                    0.05 * testing::weightShare(weights, i))
            << "backend " << i << " weight " << weights[i];
    }
}

TEST(LeastConnections, ShortLivedTrafficFollowsTheWeightsInsteadOfPilingOnOneBackend) {
    const std::vector<std::uint32_t> weights = {1, 3, 6};
    BackendSet set(weights);
    FakeLoad load(weights.size());
    LeastConnectionsSelector s(set.views(), load.load());
    std::vector<int> picks(weights.size());
    for (int i = 0; i < 10000; ++i) {
        const std::uint32_t b = openOne(s, load);
        ++picks[b];
        closeOne(s, load, b);  // every connection ends before the next starts: all loads stay 0
    }
    for (std::size_t i = 0; i < weights.size(); ++i)
        EXPECT_NEAR(picks[i] / 10000.0, testing::weightShare(weights, i),
                    0.05 * testing::weightShare(weights, i))
            << "backend " << i;
}

TEST(LeastConnections, FirstCandidateIsAlwaysTheLeastLoadedPerWeight) {
    const std::vector<std::uint32_t> weights = {1, 2, 1, 5, 3, 1, 1, 2, 4, 1, 1, 7, 1};
    BackendSet set(weights);
    FakeLoad load(weights.size());
    LeastConnectionsSelector s(set.views(), load.load());
    std::mt19937 rng(7);
    for (int step = 0; step < 5000; ++step) {
        // Random opens and closes, then check the choice against a brute-force scan.
        const std::uint32_t b = rng() % weights.size();
        if (load.get(b) > 0 && rng() % 2) {
            closeOne(s, load, b);
        } else {
            load.add(b, 1);
            s.onOpen(b);
        }
        std::uint32_t out[16];
        const std::uint32_t n = s.pick({0, 0, 0, 0}, out);
        ASSERT_EQ(n, 13u);
        const auto perWeight = [&](std::uint32_t i) { return double(load.get(i)) / weights[i]; };
        for (std::uint32_t i = 0; i < weights.size(); ++i)
            ASSERT_LE(perWeight(out[0]), perWeight(i))
                << "step " << step << ": picked " << out[0] << " over " << i;
        // The second candidate is the true second best.
        for (std::uint32_t i = 0; i < weights.size(); ++i)
            if (i != out[0]) {
                ASSERT_LE(perWeight(out[1]), perWeight(i)) << "step " << step;
            }
        ASSERT_EQ(std::set<std::uint32_t>(out, out + n).size(), n) << "candidates repeat";
    }
}

TEST(LeastConnections, ConnectionsOpenedThroughAnotherSelectorAreSeenBeforeChoosing) {
    BackendSet set(2);
    FakeLoad load(2);
    LeastConnectionsSelector s(set.views(), load.load());
    // The core counted 5 connections to backend 0 that went through an older snapshot's selector:
    // this tree never heard of them, but pick() checks its answer against the live count.
    load.set(0, 5);
    std::uint32_t out[2];
    ASSERT_EQ(s.pick({0, 0, 0, 0}, out), 2u);
    EXPECT_EQ(out[0], 1u);
    EXPECT_EQ(out[1], 0u);
}

TEST(LeastConnections, StartsFromTheLiveCounts) {
    BackendSet set(3);
    FakeLoad load(3);
    load.set(0, 4);
    load.set(1, 1);
    load.set(2, 3);
    LeastConnectionsSelector s(set.views(), load.load());
    EXPECT_EQ(s.best(), 1u);
}

TEST(LeastConnections, CandidateListsAreDistinctBoundedAndCoverSmallPools) {
    for (std::size_t n : {1u, 2u, 5u, 16u, 17u, 100u, 1000u}) {
        BackendSet set(n);
        FakeLoad load(n);
        LeastConnectionsSelector s(set.views(), load.load());
        std::uint32_t out[64];
        const std::uint32_t got = s.pick({0, 0, 0, 0}, out);
        EXPECT_EQ(got, std::min<std::size_t>(n, 16)) << n;
        std::set<std::uint32_t> distinct(out, out + got);
        EXPECT_EQ(distinct.size(), got) << n;
        EXPECT_LT(*distinct.rbegin(), n) << n;
    }
    BackendSet none(0);
    FakeLoad no_load(0);
    LeastConnectionsSelector empty(none.views(), no_load.load());
    std::uint32_t out[4];
    EXPECT_EQ(empty.pick({0, 0, 0, 0}, out), 0u);
}

TEST(LeastConnections, ConcurrentOpensAndClosesLeaveAConsistentTree) {
    BackendSet set(64);
    FakeLoad load(64);
    LeastConnectionsSelector s(set.views(), load.load());
    auto work = [&](unsigned seed) {
        std::mt19937 rng(seed);
        std::vector<std::uint32_t> mine;
        for (int i = 0; i < 20000; ++i) {
            if (!mine.empty() && rng() % 2) {
                const std::uint32_t b = mine.back();
                mine.pop_back();
                load.add(b, -1);
                s.onClose(b);
            } else {
                std::uint32_t out[16];
                if (s.pick({0, 0, 0, rng()}, out) == 0) continue;
                load.add(out[0], 1);
                s.onOpen(out[0]);
                mine.push_back(out[0]);
            }
        }
        for (std::uint32_t b : mine) {
            load.add(b, -1);
            s.onClose(b);
        }
    };
    std::thread a(work, 1), b(work, 2);
    a.join();
    b.join();
    // Everything closed: one more update per backend repairs any race, and the tree agrees.
    for (std::uint32_t i = 0; i < 64; ++i) EXPECT_EQ(load.get(i), 0u);
    load.add(5, 1);
    s.onOpen(5);
    std::uint32_t out[16];
    ASSERT_GE(s.pick({0, 0, 0, 0}, out), 1u);
    EXPECT_NE(out[0], 5u);
}

TEST(LeastConnectionsPlugin, LoadsThroughTheAbiAndReadsNoKeys) {
    plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_BALANCER, "least_connections");
    ASSERT_NE(p, nullptr);
    testing::FakeConfig config(testing::Value::table({{"bias", testing::Value::integer(1)}}));
    void* raw = p->descriptor->balancer->create(config.raw(), registry.host(*p));
    ASSERT_NE(raw, nullptr);
    plugin::BalancerFactory factory(p, raw);
    config.reportUnknownKeys();
    EXPECT_EQ(config.lines(), (std::vector<std::string>{"bias: unknown key 'bias'"}));

    BackendSet set(3);
    FakeLoad load(3);
    load.set(0, 2);
    load.set(2, 1);
    auto selector = factory.build(set.views(), &load.load());
    ASSERT_NE(selector, nullptr);
    std::uint32_t out[3];
    ASSERT_EQ(selector->pick({0, 0, 0, 0}, out, 3), 3u);
    EXPECT_EQ(out[0], 1u);
    EXPECT_EQ(out[1], 2u);
    EXPECT_EQ(out[2], 0u);
}

}  // namespace
}  // namespace postern::plugins::least_connections
