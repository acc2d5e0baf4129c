// The core's balancing rules in Pool::pick, with the real built-in balancers linked in (through
// the SDK's C glue, exactly as the plugin libraries export them): capacity, utilization, probe
// "drain", client IP affinity, locality tiers, retries.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "balancer_least_connections/least_connections.h"
#include "balancer_maglev/maglev.h"
#include "balancer_random_two/random_two.h"
#include "balancer_round_robin/smooth_wrr.h"
#include "upstream/pool.h"

namespace postern::upstream {
namespace {

using Glue = const postern_balancer_ops*;

/** round_robin's factory lives in its descriptor file; this one builds the same selector. */
class RoundRobinFactory final : public sdk::BalancerFactory {
public:
    static std::unique_ptr<RoundRobinFactory> create(sdk::Config&, sdk::Host&) noexcept {
        return std::make_unique<RoundRobinFactory>();
    }
    std::unique_ptr<sdk::Balancer> build(std::span<const postern_backend> backends,
                                         const postern_backend_load&) noexcept override {
        std::vector<std::uint32_t> w;
        for (const auto& b : backends) w.push_back(b.weight);
        return std::make_unique<plugins::round_robin::SmoothWrrSelector>(w);
    }
};

template <class F>
sdk::BalancerFactory* newFactory() {
    return new F();
}

struct Balancer {
    std::string name;
    Glue ops;
    sdk::BalancerFactory* (*make)();
};

const Balancer kBalancers[] = {
    {"round_robin", &sdk::detail::BalancerGlue<RoundRobinFactory>::ops, &newFactory<RoundRobinFactory>},
    {"least_connections", &sdk::detail::BalancerGlue<plugins::least_connections::LeastConnectionsFactory>::ops,
     &newFactory<plugins::least_connections::LeastConnectionsFactory>},
    {"random_two", &sdk::detail::BalancerGlue<plugins::random_two::RandomTwoFactory>::ops,
     &newFactory<plugins::random_two::RandomTwoFactory>},
    {"maglev", &sdk::detail::BalancerGlue<plugins::maglev::MaglevFactory>::ops,
     &newFactory<plugins::maglev::MaglevFactory>},
};

/** A pool over loopback backends 127.0.0.1:<port> with one of the built-in balancers. */
struct PoolFixture {
    postern_descriptor desc{};
    plugin::LoadedPlugin plugin;
    config::PoolConfig pc;
    std::unique_ptr<Pool> pool;

    explicit PoolFixture(const Balancer& balancer, void (*configure)(config::PoolConfig&) = nullptr) {
        desc.abi_version = POSTERN_PLUGIN_ABI_VERSION;
        desc.descriptor_size = sizeof desc;
        desc.kind = POSTERN_KIND_BALANCER;
        desc.balancer = balancer.ops;
        plugin.kind = POSTERN_KIND_BALANCER;
        plugin.name = balancer.name;
        plugin.descriptor = &desc;
        pc.name = "p";
        pc.balancer = balancer.name;
        if (configure) configure(pc);
        pc.balancer_factory = std::make_shared<plugin::BalancerFactory>(&plugin, balancer.make());
        pool = std::make_unique<Pool>(pc, nullptr);
    }
    std::shared_ptr<Backend> add(std::uint16_t port, std::string region = {}, std::uint32_t max = 0,
                                 std::uint32_t weight = 1) {
        auto b = std::make_shared<Backend>();
        b->host = "127.0.0.1";
        b->port = port;
        b->address = *net::SocketAddress::fromIp("127.0.0.1", port);
        b->address_text = b->address.toString();
        b->ip_text = "127.0.0.1";
        b->max_connections = max;
        b->weight = weight;
        b->region = std::move(region);
        b->id = backendId(b->host, port);
        b->up.store(true);
        pool->backends().push_back(b);
        return b;
    }

    struct Conn {
        std::shared_ptr<const Snapshot> snap;
        std::shared_ptr<Backend> backend;
        std::uint32_t index = 0;
    };
    /** pick() as a session does it; nullopt-like (null backend) with `why` on refusal. */
    Conn open(std::uint64_t client = 0, std::uint64_t random = 0, PickFailure* why = nullptr,
              std::span<const Backend* const> tried = {}) {
        Conn c;
        c.snap = pool->snapshot();
        PickFailure w = PickFailure::None;
        c.backend = pool->pick(*c.snap, client, random, tried, &c.index, &w);
        if (why) *why = w;
        return c;
    }
    void close(Conn& c) {
        if (c.backend) pool->release(*c.snap, c.index, *c.backend);
        c.backend.reset();
    }
};

class PoolRules : public ::testing::TestWithParam<Balancer> {};

TEST_P(PoolRules, FullBackendsAreSkippedAndTheLastConnectionIsRefusedAsCapacity) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.max_connections_per_backend = 2; });
    f.add(1);
    f.add(2);
    f.pool->republish();
    std::vector<PoolFixture::Conn> open;
    std::map<std::uint16_t, int> per_backend;
    for (int i = 0; i < 4; ++i) {
        open.push_back(f.open(i, i * 7919));
        ASSERT_TRUE(open.back().backend) << "connection " << i;
        ++per_backend[open.back().backend->port];
    }
    EXPECT_EQ(per_backend[1], 2);
    EXPECT_EQ(per_backend[2], 2);
    PickFailure why;
    EXPECT_FALSE(f.open(9, 9, &why).backend);
    EXPECT_EQ(why, PickFailure::Capacity);
    f.close(open[1]);
    auto again = f.open(9, 9, &why);
    ASSERT_TRUE(again.backend);
    EXPECT_EQ(again.backend->port, open[1].snap->backends[open[1].index]->port);
    for (auto& c : open) f.close(c);
    f.close(again);
}

TEST_P(PoolRules, PerTargetLimitAppliesAndTheSmallerOfBothWins) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.max_connections_per_backend = 3; });
    auto small = f.add(1, "", 1);
    auto big = f.add(2, "", 10);  // the pool's 3 is smaller
    f.pool->republish();
    std::vector<PoolFixture::Conn> open;
    for (int i = 0; i < 4; ++i) {
        open.push_back(f.open(i, i));
        ASSERT_TRUE(open.back().backend);
    }
    EXPECT_EQ(small->active.load(), 1u);
    EXPECT_EQ(big->active.load(), 3u);
    PickFailure why;
    EXPECT_FALSE(f.open(5, 5, &why).backend);
    EXPECT_EQ(why, PickFailure::Capacity);
    for (auto& c : open) f.close(c);
    EXPECT_EQ(small->active.load() + big->active.load(), 0u);
}

TEST_P(PoolRules, OneFreeBackendAmongManyFullOnesIsFound) {
    // 200 backends, all but one full: whatever the balancer lists first, the free one is found.
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.max_connections_per_backend = 1; });
    std::vector<std::shared_ptr<Backend>> all;
    for (std::uint16_t p = 1; p <= 200; ++p) all.push_back(f.add(p));
    f.pool->republish();
    for (std::uint16_t p = 0; p < 200; ++p)
        if (p != 137) all[p]->active.store(1);
    auto c = f.open(12345, 678);
    ASSERT_TRUE(c.backend);
    EXPECT_EQ(c.backend->port, 138);
    f.close(c);
    all[137]->active.store(1);
    PickFailure why;
    EXPECT_FALSE(f.open(12345, 678, &why).backend);
    EXPECT_EQ(why, PickFailure::Capacity);
}

TEST_P(PoolRules, RetriesNeverTryTheSameBackendTwice) {
    PoolFixture f(GetParam());
    for (std::uint16_t p = 1; p <= 5; ++p) f.add(p);
    f.pool->republish();
    for (std::uint64_t client = 0; client < 20; ++client) {
        std::vector<const Backend*> tried;
        std::set<std::uint16_t> ports;
        for (int attempt = 0; attempt < 5; ++attempt) {
            auto c = f.open(client, client * 31 + attempt, nullptr, tried);
            ASSERT_TRUE(c.backend) << "attempt " << attempt;
            EXPECT_TRUE(ports.insert(c.backend->port).second) << "backend tried twice";
            tried.push_back(c.backend.get());
            f.close(c);  // the connect failed
        }
        PickFailure why;
        EXPECT_FALSE(f.open(client, 1, &why, tried).backend);
        EXPECT_EQ(why, PickFailure::NoBackend);
    }
}

TEST_P(PoolRules, UtilizationModeSkipsBackendsAboveMaxUtilization) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) {
        pc.balancing_mode = config::BalancingMode::Utilization;
        pc.max_utilization = 0.8;
    });
    auto hot = f.add(1);
    auto cool = f.add(2);
    auto unknown = f.add(3);
    f.pool->republish();
    hot->utilization.store(0.95);
    cool->utilization.store(0.30);
    for (std::uint64_t i = 0; i < 60; ++i) {
        auto c = f.open(i, i * 104729);
        ASSERT_TRUE(c.backend);
        EXPECT_NE(c.backend, hot);
        f.close(c);
    }
    cool->utilization.store(0.81);
    unknown->utilization.store(0.9);
    PickFailure why;
    EXPECT_FALSE(f.open(1, 1, &why).backend);
    EXPECT_EQ(why, PickFailure::Capacity);
    hot->utilization.store(0.8);  // at the limit is fine: only above is skipped
    auto c = f.open(1, 1);
    ASSERT_TRUE(c.backend);
    EXPECT_EQ(c.backend, hot);
    f.close(c);
}

TEST_P(PoolRules, ConnectionModeIgnoresUtilization) {
    PoolFixture f(GetParam());
    auto b = f.add(1);
    f.pool->republish();
    b->utilization.store(5.0);
    auto c = f.open();
    EXPECT_TRUE(c.backend);
    f.close(c);
}

TEST_P(PoolRules, ProbeDrainStopsNewConnectionsButKeepsTheBackendUp) {
    PoolFixture f(GetParam());
    auto a = f.add(1);
    auto b = f.add(2);
    f.pool->republish();
    auto existing = f.open(0, 0);
    ASSERT_TRUE(existing.backend);
    auto draining = existing.backend;
    draining->probe_drain.store(true);
    // Before and after the republish the health checker does on the change.
    for (int round = 0; round < 2; ++round) {
        for (std::uint64_t i = 0; i < 20; ++i) {
            auto c = f.open(i, i);
            ASSERT_TRUE(c.backend);
            EXPECT_NE(c.backend, draining);
            f.close(c);
        }
        f.pool->republish();
    }
    EXPECT_EQ(f.pool->snapshot()->backends.size(), 1u);
    EXPECT_TRUE(draining->up.load());
    EXPECT_EQ(draining->active.load(), 1u);  // its open connection is untouched
    f.close(existing);                        // and releases through its own snapshot
    EXPECT_EQ(draining->active.load(), 0u);
    (void)a;
    (void)b;
}

TEST_P(PoolRules, ClientIpAffinityKeepsEachClientOnOneBackend) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.affinity = config::Affinity::ClientIp; });
    for (std::uint16_t p = 1; p <= 4; ++p) f.add(p);
    f.pool->republish();
    std::map<std::uint64_t, std::set<std::uint16_t>> seen;
    std::set<std::uint16_t> used;
    for (int round = 0; round < 10; ++round) {
        for (std::uint64_t client = 1; client <= 40; ++client) {
            auto c = f.open(client * 0x9e3779b97f4a7c15ull, round * 1000 + client);
            ASSERT_TRUE(c.backend);
            seen[client].insert(c.backend->port);
            used.insert(c.backend->port);
            f.close(c);
        }
    }
    for (const auto& [client, ports] : seen) EXPECT_EQ(ports.size(), 1u) << "client " << client;
    EXPECT_EQ(used.size(), 4u);  // 40 clients spread over all four
}

TEST_P(PoolRules, AffinityMovesOnlyTheClientsOfABackendThatWentDownAndBringsThemBack) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.affinity = config::Affinity::ClientIp; });
    std::vector<std::shared_ptr<Backend>> bs;
    for (std::uint16_t p = 1; p <= 5; ++p) bs.push_back(f.add(p));
    f.pool->republish();
    auto homeOf = [&](std::uint64_t client) {
        auto c = f.open(client, 99);
        EXPECT_TRUE(c.backend);
        const std::uint16_t port = c.backend ? c.backend->port : 0;
        f.close(c);
        return port;
    };
    std::map<std::uint64_t, std::uint16_t> before;
    for (std::uint64_t client = 0; client < 200; ++client) before[client] = homeOf(client * 7777);
    bs[2]->up.store(false);
    f.pool->republish();
    for (const auto& [client, port] : before) {
        const std::uint16_t now = homeOf(client * 7777);
        if (port == 3) EXPECT_NE(now, 3) << "client " << client;
        else EXPECT_EQ(now, port) << "client " << client << " moved although its backend stayed up";
    }
    bs[2]->up.store(true);
    f.pool->republish();
    for (const auto& [client, port] : before) EXPECT_EQ(homeOf(client * 7777), port) << "client " << client;
}

TEST_P(PoolRules, AffinityHomeThatIsFullSendsTheClientElsewhereUntilItHasRoom) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) {
        pc.affinity = config::Affinity::ClientIp;
        pc.max_connections_per_backend = 1;
    });
    f.add(1);
    f.add(2);
    f.add(3);
    f.pool->republish();
    auto first = f.open(42, 1);
    ASSERT_TRUE(first.backend);
    auto second = f.open(42, 2);  // home is full now
    ASSERT_TRUE(second.backend);
    EXPECT_NE(second.backend, first.backend);
    const auto home = first.backend;
    f.close(first);
    f.close(second);
    auto back = f.open(42, 3);
    EXPECT_EQ(back.backend, home);
    f.close(back);
}

TEST_P(PoolRules, LocalRegionFirstThenRegionOrderThenTheRest) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) {
        pc.local_region = "eu-west";
        pc.region_order = {"eu-west", "eu-north", "us-east"};
        pc.max_connections_per_backend = 2;
    });
    auto other = f.add(1, "ap-south");
    auto us = f.add(2, "us-east");
    auto north = f.add(3, "eu-north");
    auto local = f.add(4, "eu-west");
    auto local2 = f.add(5, "eu-west");
    f.pool->republish();
    const auto snap = f.pool->snapshot();
    ASSERT_EQ(snap->tiers.size(), 4u);
    EXPECT_EQ(snap->backends[0], local);
    EXPECT_EQ(snap->backends[1], local2);
    EXPECT_EQ(snap->backends[2], north);
    EXPECT_EQ(snap->backends[3], us);
    EXPECT_EQ(snap->backends[4], other);

    // Capacity spill-over: the local region fills up (2 x 2), then eu-north, then us-east, then
    // the unlisted region, then refusal.
    std::vector<PoolFixture::Conn> open;
    std::vector<std::uint16_t> order;
    for (int i = 0; i < 10; ++i) {
        open.push_back(f.open(i, i));
        ASSERT_TRUE(open.back().backend) << i;
        order.push_back(open.back().backend->port);
    }
    EXPECT_EQ(std::multiset<std::uint16_t>(order.begin(), order.begin() + 4), (std::multiset<std::uint16_t>{4, 4, 5, 5}));
    EXPECT_EQ(std::vector<std::uint16_t>(order.begin() + 4, order.end()),
              (std::vector<std::uint16_t>{3, 3, 2, 2, 1, 1}));
    PickFailure why;
    EXPECT_FALSE(f.open(11, 11, &why).backend);
    EXPECT_EQ(why, PickFailure::Capacity);
    for (auto& c : open) f.close(c);

    // Health spill-over: the local region down → eu-north; back up → local again.
    local->up.store(false);
    local2->up.store(false);
    f.pool->republish();
    for (int i = 0; i < 5; ++i) {
        auto c = f.open(i, i);
        ASSERT_TRUE(c.backend);
        EXPECT_EQ(c.backend, north);
        f.close(c);
    }
    auto held = f.open(1, 1);  // an existing connection to eu-north...
    local->up.store(true);
    f.pool->republish();
    for (int i = 0; i < 5; ++i) {
        auto c = f.open(i, i);
        ASSERT_TRUE(c.backend);
        EXPECT_EQ(c.backend, local);
        f.close(c);
    }
    EXPECT_EQ(north->active.load(), 1u);  // ...stays where it is
    f.close(held);
    EXPECT_EQ(north->active.load(), 0u);
}

TEST_P(PoolRules, TiersOfTheLocalRegionAlone) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.local_region = "b"; });
    EXPECT_EQ(f.pool->tierOf("b"), 0u);
    EXPECT_EQ(f.pool->tierOf("a"), 1u);
    EXPECT_EQ(f.pool->tierOf(""), 1u);
    PoolFixture none(GetParam());
    EXPECT_EQ(none.pool->tierOf("anything"), 0u);
    PoolFixture order_only(GetParam(), [](config::PoolConfig& pc) { pc.region_order = {"x", "y"}; });
    EXPECT_EQ(order_only.pool->tierOf("x"), 1u);
    EXPECT_EQ(order_only.pool->tierOf("y"), 2u);
    EXPECT_EQ(order_only.pool->tierOf("z"), 3u);
}

// Priority groups (discovery's `priority`, e.g. DNS SRV): a worse group gets new connections only
// when no backend of a better one can take them — down, full or draining — like a farther region.
TEST_P(PoolRules, AWorsePriorityGroupGetsConnectionsOnlyWhenTheBetterOneCannotTakeThem) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.max_connections_per_backend = 2; });
    auto backup = f.add(3);
    backup->priority = 7;
    auto a = f.add(1);
    auto b = f.add(2);
    auto last = f.add(4);
    last->priority = 9;
    f.pool->republish();
    auto snap = f.pool->snapshot();
    ASSERT_EQ(snap->tiers.size(), 3u);
    EXPECT_EQ(snap->tiers[0].size(), 2u);
    EXPECT_EQ(snap->backends[2], backup);
    EXPECT_EQ(snap->backends[3], last);

    // Healthy with room: only priority 0, whoever asks.
    for (int i = 0; i < 20; ++i) {
        auto c = f.open(i, i * 7919);
        ASSERT_TRUE(c.backend);
        EXPECT_EQ(c.backend->priority, 0u) << "connection " << i;
        f.close(c);
    }
    // Full: the best group takes 2 x 2, then priority 7, then 9, then refusal.
    std::vector<PoolFixture::Conn> open;
    std::vector<std::uint16_t> order;
    for (int i = 0; i < 8; ++i) {
        open.push_back(f.open(i, i));
        ASSERT_TRUE(open.back().backend) << i;
        order.push_back(open.back().backend->port);
    }
    EXPECT_EQ(std::multiset<std::uint16_t>(order.begin(), order.begin() + 4),
              (std::multiset<std::uint16_t>{1, 1, 2, 2}));
    EXPECT_EQ(std::vector<std::uint16_t>(order.begin() + 4, order.end()),
              (std::vector<std::uint16_t>{3, 3, 4, 4}));
    PickFailure why;
    EXPECT_FALSE(f.open(9, 9, &why).backend);
    EXPECT_EQ(why, PickFailure::Capacity);
    f.close(open[0]);  // room in the best group again: it is used first
    auto again = f.open(9, 9);
    ASSERT_TRUE(again.backend);
    EXPECT_EQ(again.backend->priority, 0u);
    f.close(again);
    for (auto& c : open) f.close(c);

    // Down: one of the best group down leaves the other; both down → priority 7.
    a->up.store(false);
    f.pool->republish();
    for (int i = 0; i < 5; ++i) {
        auto c = f.open(i, i);
        ASSERT_TRUE(c.backend);
        EXPECT_EQ(c.backend, b);
        f.close(c);
    }
    b->up.store(false);
    f.pool->republish();
    for (int i = 0; i < 5; ++i) {
        auto c = f.open(i, i);
        ASSERT_TRUE(c.backend);
        EXPECT_EQ(c.backend, backup);
        f.close(c);
    }
    // Draining (removed by discovery, or a probe's "drain"): the same.
    a->up.store(true);
    b->up.store(true);
    f.pool->retire(a);  // as discovery does: retired, and out of the pool's list
    auto& list = f.pool->backends();
    list.erase(std::find(list.begin(), list.end(), a));
    b->probe_drain.store(true);
    f.pool->republish();
    for (int i = 0; i < 5; ++i) {
        auto c = f.open(i, i);
        ASSERT_TRUE(c.backend);
        EXPECT_EQ(c.backend, backup);
        f.close(c);
    }
    // Back: a readmitted best backend takes the traffic again.
    f.pool->readmit(a);  // and back in the list
    f.pool->backends().push_back(a);
    f.pool->republish();
    for (int i = 0; i < 5; ++i) {
        auto c = f.open(i, i);
        ASSERT_TRUE(c.backend);
        EXPECT_EQ(c.backend, a);
        f.close(c);
    }
}

TEST_P(PoolRules, ANearerRegionWinsOverABetterPriorityFartherAway) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) {
        pc.local_region = "eu-west";
        pc.region_order = {"eu-west", "eu-north"};
        pc.max_connections_per_backend = 1;
    });
    auto far_best = f.add(1, "eu-north");
    auto near_backup = f.add(2, "eu-west");
    near_backup->priority = 5;
    auto near_best = f.add(3, "eu-west");
    auto far_backup = f.add(4, "eu-north");
    far_backup->priority = 1;
    f.pool->republish();
    const auto snap = f.pool->snapshot();
    ASSERT_EQ(snap->tiers.size(), 4u);
    EXPECT_EQ(snap->backends[0], near_best);
    EXPECT_EQ(snap->backends[1], near_backup);
    EXPECT_EQ(snap->backends[2], far_best);
    EXPECT_EQ(snap->backends[3], far_backup);
    EXPECT_EQ(f.pool->tierKey(*near_backup), (std::uint64_t{0} << 32) | 5u);
    EXPECT_EQ(f.pool->tierKey(*far_best), std::uint64_t{1} << 32);
    std::vector<PoolFixture::Conn> open;
    for (int i = 0; i < 4; ++i) {
        open.push_back(f.open(i, i));
        ASSERT_TRUE(open.back().backend);
        EXPECT_EQ(open.back().backend->port, snap->backends[i]->port) << "connection " << i;
    }
    for (auto& c : open) f.close(c);
}

TEST_P(PoolRules, ARegionChangedInPlaceLeavesPublishedSnapshotsIntact) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) { pc.local_region = "a"; });
    auto x = f.add(1, "a");
    f.add(2, "b");
    f.pool->republish();
    const auto before = f.pool->snapshot();
    const postern_str view_region = before->views[0].region;
    // As discovery does on the control thread: a longer string, so the buffer would move.
    x->region = "a-region-name-long-enough-to-need-a-new-buffer";
    f.pool->republish();
    EXPECT_EQ(std::string(view_region.data, view_region.size), "a");
    EXPECT_EQ(before->regions[0], "a");
    const auto after = f.pool->snapshot();
    ASSERT_EQ(after->tiers.size(), 1u) << "both are now outside the local region";
    EXPECT_EQ(after->regions.size(), 2u);
}

// As in the gateway: workers pick and release on their own threads while the control thread
// marks backends down, up and draining, changes their discovery attributes in place and
// republishes. The snapshot swap, the selectors' shared state, the affinity memo, the per-backend
// counters and limits are then used from several threads at once: the ThreadSanitizer pass of
// scripts/test.sh checks that for races, every build checks that no connection slot leaks.
TEST_P(PoolRules, WorkersPickWhileTheControlThreadRepublishes) {
    PoolFixture f(GetParam(), [](config::PoolConfig& pc) {
        pc.affinity = config::Affinity::ClientIp;
        pc.max_connections_per_backend = 2;
    });
    constexpr std::uint16_t kBackends = 6;
    for (std::uint16_t port = 1; port <= kBackends; ++port) f.add(port);
    f.pool->republish();

    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> picked{0};
    std::vector<std::thread> workers;
    for (std::uint64_t w = 0; w < 3; ++w) {
        workers.emplace_back([&f, &stop, &picked, w] {
            std::vector<PoolFixture::Conn> open(3);  // a few connections held open at a time
            for (std::uint64_t i = 0; !stop.load(std::memory_order_acquire); ++i) {
                auto& slot = open[i % open.size()];
                f.close(slot);
                slot = f.open(w * 1000 + i % 50, i * 7919 + w);
                if (slot.backend) picked.fetch_add(1, std::memory_order_relaxed);
            }
            for (auto& c : open) f.close(c);
        });
    }
    auto& backends = f.pool->backends();
    // 40 rounds: each republish builds maglev's 65537-slot table, slow under the sanitizers.
    for (std::uint32_t round = 0; round < 40; ++round) {
        auto& b = *backends[round % kBackends];
        if (round % 3 == 0)
            b.up.store(!b.up.load());
        else
            b.probe_drain.store(!b.probe_drain.load());
        // As discovery does: attributes changed in place on a backend workers are using.
        b.max_connections.store(round % 4);
        b.weight = 1 + round % 3;
        b.priority = round % 2;
        b.region = round % 2 ? "a-region-name-long-enough-for-a-heap-buffer" : "";
        f.pool->republish();
        std::this_thread::yield();
    }
    // Bounded: the workers stop once every round is published and each has made some picks.
    for (int i = 0; i < 5000 && picked.load() < 300; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    stop.store(true, std::memory_order_release);
    for (auto& t : workers) t.join();

    EXPECT_GT(picked.load(), 0u);
    for (const auto& b : backends) EXPECT_EQ(b->active.load(), 0u) << "backend " << b->port;
}

INSTANTIATE_TEST_SUITE_P(Balancers, PoolRules, ::testing::ValuesIn(kBalancers),
                         [](const ::testing::TestParamInfo<Balancer>& info) { return info.param.name; });

TEST(PoolLeastConnections, EqualisesWithinTheTierTrafficSpilledTo) {
    PoolFixture f(kBalancers[1], [](config::PoolConfig& pc) { pc.local_region = "here"; });
    auto far1 = f.add(1, "there");
    auto far2 = f.add(2, "there");
    auto here = f.add(3, "here");  // not `near`: a macro in <windows.h>
    f.pool->republish();
    here->up.store(false);  // spill to "there" without a republish: the live check skips it
    std::vector<PoolFixture::Conn> open;
    for (int i = 0; i < 6; ++i) open.push_back(f.open(i, i));
    EXPECT_EQ(far1->active.load(), 3u);  // least connections equalised them through its tier
    EXPECT_EQ(far2->active.load(), 3u);
    // Close three connections of one backend: the next two both go there.
    const auto emptied = open[0].backend;
    for (auto& c : open)
        if (c.backend == emptied) f.close(c);
    EXPECT_EQ(emptied->active.load(), 0u);
    for (int i = 0; i < 2; ++i) {
        open.push_back(f.open(10 + i, i));
        EXPECT_EQ(open.back().backend, emptied);
    }
    for (auto& c : open) f.close(c);
}

TEST(PoolAffinity, TheMemoAnswersExactlyWhatHashingWould) {
    for (std::uint32_t weight_step : {0u, 1u}) {
        auto configure = [](config::PoolConfig& pc) { pc.affinity = config::Affinity::ClientIp; };
        PoolFixture memo(kBalancers[0], configure);
        PoolFixture plain(kBalancers[0]);  // affinity off: no memo
        for (std::uint16_t p = 1; p <= 37; ++p) {
            memo.add(p, "", 0, 1 + weight_step * (p % 4));
            plain.add(p, "", 0, 1 + weight_step * (p % 4));
        }
        memo.pool->republish();
        plain.pool->republish();
        const auto with = memo.pool->snapshot();
        const auto without = plain.pool->snapshot();
        ASSERT_TRUE(with->tiers[0].home_cache);
        ASSERT_FALSE(without->tiers[0].home_cache);
        for (int pass = 0; pass < 2; ++pass) {  // the first pass fills the memo, the second reads it
            for (std::uint64_t client = 0; client < 20000; ++client) {
                const std::uint64_t h = client * 0x9e3779b97f4a7c15ull;
                ASSERT_EQ(Pool::affinityHome(*with, with->tiers[0], h),
                          Pool::affinityHome(*without, without->tiers[0], h))
                    << "client " << client << " pass " << pass;
            }
        }
    }
}

TEST(PoolAffinity, WeightedHomesFollowTheWeights) {
    PoolFixture f(kBalancers[0], [](config::PoolConfig& pc) { pc.affinity = config::Affinity::ClientIp; });
    f.add(1, "", 0, 1);
    f.add(2, "", 0, 3);
    f.pool->republish();
    const auto snap = f.pool->snapshot();
    int heavy = 0;
    for (std::uint64_t client = 0; client < 10000; ++client)
        if (Pool::affinityHome(*snap, snap->tiers[0], client) == 1) ++heavy;
    EXPECT_NEAR(heavy / 10000.0, 0.75, 0.0375);
}

}  // namespace
}  // namespace postern::upstream
