// The maglev selector (plugins/balancer_maglev): table balance, agreement between instances,
// disruption when a backend leaves, weights.
#include "balancer_maglev/maglev.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "plugin/registry.h"
#include "support/plugins/fake_config.h"
#include "unit/plugins/balancer_test_support.h"

namespace postern::plugins::maglev {
namespace {

using testing::BackendSet;

/** The backend id in every slot (ids, not indices, are what two builds can be compared by). */
std::vector<std::uint64_t> idTable(const BackendSet& set) {
    const auto table = buildTable(set.views());
    std::vector<std::uint64_t> ids;
    ids.reserve(table.size());
    for (auto i : table) ids.push_back(set.id(i));
    return ids;
}

/** The client hash postern computes for an IPv4 client (FNV-1a of the four address bytes). */
std::uint64_t clientHash(std::uint32_t ip) {
    std::uint64_t h = 1469598103934665603ull;
    for (int shift = 24; shift >= 0; shift -= 8) {
        h ^= (ip >> shift) & 0xff;
        h *= 1099511628211ull;
    }
    return h;
}

TEST(Maglev, EveryBackendGetsAnEqualShareOfTheTable) {
    BackendSet set(10);
    const auto table = buildTable(set.views());
    ASSERT_EQ(table.size(), kTableSize);
    std::map<std::uint32_t, int> count;
    for (auto i : table) ++count[i];
    ASSERT_EQ(count.size(), 10u);
    for (const auto& [i, c] : count) {
        EXPECT_GE(c, int(kTableSize / 10)) << "backend " << i;
        EXPECT_LE(c, int(kTableSize / 10) + 1) << "backend " << i;
    }
}

TEST(Maglev, TwoInstancesWithTheSameBackendsInAnotherOrderBuildTheSameTable) {
    BackendSet set(25);
    EXPECT_EQ(idTable(set), idTable(set.reversed()));
    // And the selectors agree on every client, candidates included.
    MaglevSelector a(set.views());
    const BackendSet reversed = set.reversed();
    MaglevSelector b(reversed.views());
    for (std::uint32_t ip = 0x0a000001; ip < 0x0a000001 + 2000; ++ip) {
        std::uint32_t out_a[MaglevSelector::kTableCandidates],
            out_b[MaglevSelector::kTableCandidates];
        ASSERT_EQ(a.pick({clientHash(ip), 0, 0, 1}, out_a), MaglevSelector::kTableCandidates);
        ASSERT_EQ(b.pick({clientHash(ip), 0, 0, 2}, out_b), MaglevSelector::kTableCandidates);
        for (std::uint32_t k = 0; k < MaglevSelector::kTableCandidates; ++k)
            ASSERT_EQ(set.id(out_a[k]), reversed.id(out_b[k])) << "client " << ip << " #" << k;
    }
}

TEST(Maglev, RemovingOneOfTenBackendsMovesAtMost15PercentOfKeys) {
    BackendSet ten(10);
    const auto before = idTable(ten);
    for (std::size_t removed = 0; removed < 10; ++removed) {
        const auto after = idTable(ten.without(removed));
        std::size_t moved = 0, owned = 0;
        for (std::size_t s = 0; s < kTableSize; ++s) {
            if (before[s] != after[s]) ++moved;
            if (before[s] == ten.id(removed)) ++owned;
        }
        const double fraction = double(moved) / kTableSize;
        EXPECT_LE(fraction, 0.15) << "removing backend " << removed;
        // At least the removed backend's own slots moved; the rest is Maglev's small reshuffle.
        EXPECT_GE(moved, owned);
    }
    // The same measured over client addresses instead of slots.
    MaglevSelector all(ten.views());
    const BackendSet nine = ten.without(3);
    MaglevSelector fewer(nine.views());
    int moved = 0;
    for (std::uint32_t ip = 0xc0a80001; ip < 0xc0a80001 + 10000; ++ip) {
        std::uint32_t x[1], y[1];
        all.pick({clientHash(ip), 0, 0, 0}, x);
        fewer.pick({clientHash(ip), 0, 0, 0}, y);
        if (ten.id(x[0]) != nine.id(y[0])) ++moved;
    }
    EXPECT_LE(moved, 1500);
    EXPECT_GE(moved, 800);  // ~1/10 must move: the removed backend's clients
}

TEST(Maglev, WeightsRespectedWithin5PercentOver10000Clients) {
    const std::vector<std::uint32_t> weights = {1, 2, 3, 4};
    BackendSet set(weights);
    MaglevSelector s(set.views());
    std::map<std::uint32_t, int> table_count;
    for (auto i : s.table()) ++table_count[i];
    std::vector<int> picks(weights.size());
    std::mt19937 rng(9);
    for (int i = 0; i < 10000; ++i) {
        std::uint32_t out[1];
        ASSERT_EQ(s.pick({clientHash(rng()), 0, 0, 0}, out), 1u);
        ++picks[out[0]];
    }
    for (std::uint32_t i = 0; i < weights.size(); ++i) {
        const double expected = testing::weightShare(weights, i);
        EXPECT_NEAR(double(table_count[i]) / kTableSize, expected, 0.01 * expected)
            << "table share of " << i;
        EXPECT_NEAR(picks[i] / 10000.0, expected, 0.05 * expected) << "client share of " << i;
    }
}

TEST(Maglev, CandidatesStartAtTheClientsSlotAndNeverRepeat) {
    BackendSet set(40);
    MaglevSelector s(set.views());
    for (std::uint64_t h = 0; h < 500; ++h) {
        std::uint32_t out[64];
        const std::uint32_t n = s.pick({h * 0x9e3779b97f4a7c15ull, 0, 0, 0}, out);
        ASSERT_EQ(n, 16u);
        EXPECT_EQ(out[0], s.table()[slotOf(h * 0x9e3779b97f4a7c15ull)]);
        EXPECT_EQ(std::set<std::uint32_t>(out, out + n).size(), n);
        // The same client gets the same list on every attempt (the core skips what it tried).
        std::uint32_t again[64];
        ASSERT_EQ(s.pick({h * 0x9e3779b97f4a7c15ull, 3, 0, 77}, again), n);
        EXPECT_TRUE(std::equal(out, out + n, again));
    }
    BackendSet none(0);
    MaglevSelector empty(none.views());
    std::uint32_t out[4];
    EXPECT_EQ(empty.pick({1, 0, 0, 0}, out), 0u);
}

TEST(MaglevPlugin, LoadsThroughTheAbi) {
    plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_BALANCER, "maglev");
    ASSERT_NE(p, nullptr);
    testing::FakeConfig config;
    void* raw = p->descriptor->balancer->create(config.raw(), registry.host(*p));
    ASSERT_NE(raw, nullptr);
    plugin::BalancerFactory factory(p, raw);
    BackendSet set(5);
    auto selector = factory.build(set.views(), nullptr);
    ASSERT_NE(selector, nullptr);
    MaglevSelector local(set.views());
    for (std::uint64_t h = 1; h < 200; ++h) {
        std::uint32_t a[1], b[1];
        ASSERT_EQ(selector->pick({h, 0, 0, 0}, a, 1), 1u);
        ASSERT_EQ(local.pick({h, 0, 0, 0}, b), 1u);
        EXPECT_EQ(a[0], b[0]);  // the library and the sources compiled here agree
    }
}

}  // namespace
}  // namespace postern::plugins::maglev
