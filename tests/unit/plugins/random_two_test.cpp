// The random_two selector (plugins/balancer_random_two): power of two choices, weighted.
#include "balancer_random_two/random_two.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "plugin/registry.h"
#include "support/plugins/fake_config.h"
#include "unit/plugins/balancer_test_support.h"

namespace postern::plugins::random_two {
namespace {

using testing::BackendSet;
using testing::FakeLoad;

TEST(RandomTwo, NeverPicksTheBusierOfItsTwoDraws) {
    const std::vector<std::uint32_t> weights = {1, 2, 1, 3, 1, 1, 4, 1};
    BackendSet set(weights);
    FakeLoad load(weights.size());
    RandomTwoSelector s(set.views(), load.load());
    std::mt19937_64 rng(11);
    int compared = 0;
    for (int i = 0; i < 10000; ++i) {
        for (std::size_t b = 0; b < weights.size(); ++b)
            load.set(b, static_cast<std::uint32_t>(rng() % 20));
        const std::uint64_t random = rng();
        std::uint32_t first = 0, second = 0;
        ASSERT_EQ(s.draws(random, &first, &second), 2u);
        ASSERT_NE(first, second);
        std::uint32_t out[16];
        const std::uint32_t n = s.pick({0, 0, 0, random}, out);
        ASSERT_EQ(n, weights.size());
        // The two candidates are exactly the two draws, the less loaded per weight first.
        ASSERT_EQ(std::set<std::uint32_t>({out[0], out[1]}),
                  std::set<std::uint32_t>({first, second}));
        const double a = double(load.get(out[0])) / weights[out[0]];
        const double b = double(load.get(out[1])) / weights[out[1]];
        ASSERT_LE(a, b) << "picked the busier backend " << out[0] << " over " << out[1];
        if (a != b) ++compared;
        ASSERT_EQ(std::set<std::uint32_t>(out, out + n).size(), n);
    }
    EXPECT_GT(compared, 5000);  // the loads really differed most of the time
}

TEST(RandomTwo, WeightsRespectedWithin5PercentOver10000HeldConnections) {
    const std::vector<std::uint32_t> weights = {1, 2, 3, 4};
    BackendSet set(weights);
    FakeLoad load(weights.size());
    RandomTwoSelector s(set.views(), load.load());
    std::mt19937_64 rng(3);
    for (int i = 0; i < 10000; ++i) {
        std::uint32_t out[16];
        ASSERT_GE(s.pick({0, 0, 0, rng()}, out), 1u);
        load.add(out[0], 1);
    }
    for (std::size_t i = 0; i < weights.size(); ++i)
        EXPECT_NEAR(load.get(i) / 10000.0, testing::weightShare(weights, i),
                    0.05 * testing::weightShare(weights, i))
            << "backend " << i;
}

TEST(RandomTwo, IdleTrafficFollowsTheWeights) {
    const std::vector<std::uint32_t> weights = {1, 3, 6};
    BackendSet set(weights);
    FakeLoad load(weights.size());  // every connection ends before the next: all loads stay 0
    RandomTwoSelector s(set.views(), load.load());
    std::mt19937_64 rng(5);
    std::vector<int> picks(weights.size());
    for (int i = 0; i < 10000; ++i) {
        std::uint32_t out[16];
        ASSERT_GE(s.pick({0, 0, 0, rng()}, out), 1u);
        ++picks[out[0]];
    }
    for (std::size_t i = 0; i < weights.size(); ++i)
        EXPECT_NEAR(picks[i] / 10000.0, testing::weightShare(weights, i),
                    0.05 * testing::weightShare(weights, i))
            << "backend " << i;
}

TEST(RandomTwo, AliasTableHoldsExactlyTheWeightShares) {
    const std::vector<std::uint32_t> weights = {1, 2, 3, 4, 0, 7, 1000000};
    AliasTable t(weights);
    ASSERT_EQ(t.size(), weights.size());
    const double n = static_cast<double>(weights.size());
    std::vector<double> p(weights.size());
    // draw() picks each column with probability 1/n, then the column itself or its alias.
    for (std::uint32_t c = 0; c < weights.size(); ++c) {
        const double keep = static_cast<double>(t.threshold(c)) / 4294967296.0;
        p[c] += keep / n;
        p[t.alias(c)] += (1.0 - keep) / n;
    }
    double sum = 0;
    for (auto w : weights) sum += std::max<std::uint32_t>(w, 1);
    for (std::size_t i = 0; i < weights.size(); ++i)
        EXPECT_NEAR(p[i], std::max<std::uint32_t>(weights[i], 1) / sum, 1e-9) << "backend " << i;
    // And draw() follows the table: the top bits choose the column, the low bits the coin.
    for (std::uint32_t c = 0; c < weights.size(); ++c) {
        const std::uint64_t column_bits =
            ((std::uint64_t{c} << 32) + static_cast<std::uint64_t>(n) - 1) /
            static_cast<std::uint64_t>(n);
        if (t.threshold(c) > 0) {
            EXPECT_EQ(t.draw(column_bits << 32), c);
        }
        if (t.threshold(c) < (std::uint64_t{1} << 32)) {
            EXPECT_EQ(t.draw((column_bits << 32) | 0xffffffffu), t.alias(c));
        }
    }
}

TEST(RandomTwo, OneBackendAndEmpty) {
    BackendSet one(1);
    FakeLoad load(1);
    RandomTwoSelector s(one.views(), load.load());
    std::uint32_t out[4];
    ASSERT_EQ(s.pick({0, 0, 0, 42}, out), 1u);
    EXPECT_EQ(out[0], 0u);
    BackendSet none(0);
    FakeLoad no_load(0);
    RandomTwoSelector empty(none.views(), no_load.load());
    EXPECT_EQ(empty.pick({0, 0, 0, 42}, out), 0u);
}

TEST(RandomTwoPlugin, LoadsThroughTheAbi) {
    plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_BALANCER, "random_two");
    ASSERT_NE(p, nullptr);
    testing::FakeConfig config;
    void* raw = p->descriptor->balancer->create(config.raw(), registry.host(*p));
    ASSERT_NE(raw, nullptr);
    plugin::BalancerFactory factory(p, raw);
    BackendSet set(2);
    FakeLoad load(2);
    load.set(0, 9);
    auto selector = factory.build(set.views(), &load.load());
    ASSERT_NE(selector, nullptr);
    for (std::uint64_t r = 0; r < 50; ++r) {
        std::uint32_t out[2];
        ASSERT_EQ(selector->pick({0, 0, 0, r}, out, 2), 2u);
        EXPECT_EQ(out[0], 1u);  // of two backends both are always drawn: the idle one wins
    }
}

}  // namespace
}  // namespace postern::plugins::random_two
