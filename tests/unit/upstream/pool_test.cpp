#include "upstream/pool.h"

#include <gtest/gtest.h>

#include <memory>

using namespace postern;

namespace {

// A balancer defined right here through the C ABI: candidates in index order, starting at
// `client_hash % count` (so tests choose the first candidate).
struct TestSelector {
    std::uint32_t count;
    int opens = 0, closes = 0;
};
void* tCreate(const postern_config*, const postern_host*) noexcept { return nullptr; }
void tDestroy(void*) noexcept {}
void* tBuild(void*, const postern_backend*, std::uint32_t count, const postern_backend_load*) noexcept {
    return new TestSelector{count};
}
void tDestroySel(void* s) noexcept { delete static_cast<TestSelector*>(s); }
std::uint32_t tPick(void* s, const postern_pick_context* ctx, std::uint32_t* out, std::uint32_t cap) noexcept {
    auto* sel = static_cast<TestSelector*>(s);
    std::uint32_t n = std::min(cap, sel->count);
    for (std::uint32_t i = 0; i < n; ++i) out[i] = static_cast<std::uint32_t>((ctx->client_hash + i) % sel->count);
    return n;
}
void tOpen(void* s, std::uint32_t) noexcept { ++static_cast<TestSelector*>(s)->opens; }
void tClose(void* s, std::uint32_t) noexcept { ++static_cast<TestSelector*>(s)->closes; }
const postern_balancer_ops kOps{tCreate, tDestroy, tBuild, tDestroySel, tPick, tOpen, tClose};
void* nullBuild(void*, const postern_backend*, std::uint32_t, const postern_backend_load*) noexcept {
    return nullptr;
}
const postern_balancer_ops kFailingOps{tCreate, tDestroy, nullBuild, tDestroySel, tPick, nullptr, nullptr};

struct Fixture {
    postern_descriptor desc{};
    plugin::LoadedPlugin plugin;
    config::PoolConfig pc;
    std::unique_ptr<upstream::Pool> pool;

    explicit Fixture(const postern_balancer_ops* ops, std::uint32_t per_backend_limit = 0) {
        desc.abi_version = POSTERN_PLUGIN_ABI_VERSION;
        desc.descriptor_size = sizeof desc;
        desc.kind = POSTERN_KIND_BALANCER;
        desc.balancer = ops;
        plugin.kind = POSTERN_KIND_BALANCER;
        plugin.name = "test";
        plugin.descriptor = &desc;
        pc.name = "p";
        pc.max_connections_per_backend = per_backend_limit;
        // The factory pointer value is unused by the test ops; any non-null marker will do.
        pc.balancer_factory = std::make_shared<plugin::BalancerFactory>(&plugin, nullptr);
        pool = std::make_unique<upstream::Pool>(pc, nullptr);
    }
    std::shared_ptr<upstream::Backend> add(const std::string& ip, std::uint16_t port, bool up = true,
                                           std::uint32_t max = 0) {
        auto b = std::make_shared<upstream::Backend>();
        b->host = ip;
        b->port = port;
        b->address = *net::SocketAddress::fromIp(ip, port);
        b->address_text = b->address.toString();
        b->ip_text = ip;
        b->max_connections = max;
        b->up.store(up);
        pool->backends().push_back(b);
        return b;
    }
};

}  // namespace

TEST(Pool, SnapshotHoldsOnlyUpBackends) {
    Fixture f(&kOps);
    f.add("127.0.0.1", 1);
    f.add("127.0.0.1", 2, false);
    f.add("127.0.0.1", 3);
    f.pool->republish();
    auto snap = f.pool->snapshot();
    ASSERT_EQ(snap->backends.size(), 2u);
    EXPECT_EQ(snap->backends[0]->port, 1);
    EXPECT_EQ(snap->backends[1]->port, 3);
    EXPECT_EQ(snap->views[1].port, 3);
}

TEST(Pool, PickReservesAndReleasesSlots) {
    Fixture f(&kOps);
    auto a = f.add("127.0.0.1", 1);
    f.pool->republish();
    auto snap = f.pool->snapshot();
    upstream::PickFailure why;
    std::uint32_t idx = 99;
    auto b = f.pool->pick(*snap, 0, 0, {}, &idx, &why);
    ASSERT_EQ(b, a);
    EXPECT_EQ(idx, 0u);
    EXPECT_EQ(a->active.load(), 1u);
    f.pool->release(*snap, idx, *b);
    EXPECT_EQ(a->active.load(), 0u);
}

TEST(Pool, PickSkipsTriedAndFullBackends) {
    Fixture f(&kOps, 1);
    auto a = f.add("127.0.0.1", 1);
    auto b = f.add("127.0.0.1", 2);
    auto c = f.add("127.0.0.1", 3, true, 5);
    f.pool->republish();
    auto snap = f.pool->snapshot();
    upstream::PickFailure why;
    std::uint32_t idx;
    const upstream::Backend* tried[] = {a.get()};
    EXPECT_EQ(f.pool->pick(*snap, 0, 0, tried, &idx, &why), b);  // a was tried
    // b is now full (pool limit 1); a free; with hash 1 the list is b, c, a → c (limit min(5,1)=1).
    EXPECT_EQ(f.pool->pick(*snap, 1, 0, {}, &idx, &why), c);
    EXPECT_EQ(f.pool->pick(*snap, 1, 0, {}, &idx, &why), a);
    EXPECT_EQ(f.pool->pick(*snap, 1, 0, {}, &idx, &why), nullptr);
    EXPECT_EQ(why, upstream::PickFailure::Capacity);
}

TEST(Pool, DownBackendInOldSnapshotIsSkipped) {
    Fixture f(&kOps);
    auto a = f.add("127.0.0.1", 1);
    auto b = f.add("127.0.0.1", 2);
    f.pool->republish();
    auto snap = f.pool->snapshot();
    a->up.store(false);  // went down after the snapshot was taken
    upstream::PickFailure why;
    std::uint32_t idx;
    EXPECT_EQ(f.pool->pick(*snap, 0, 0, {}, &idx, &why), b);
}

TEST(Pool, PassiveDownBackendIsSkippedBeforeTheSnapshotChanges) {
    Fixture f(&kOps);
    auto a = f.add("127.0.0.1", 1);
    auto b = f.add("127.0.0.1", 2);
    f.pool->republish();
    a->passive_down.store(true);  // a worker saw `passive_failures` connect failures in a row
    upstream::PickFailure why;
    std::uint32_t idx;
    EXPECT_EQ(f.pool->pick(*f.pool->snapshot(), 0, 0, {}, &idx, &why), b);
}

TEST(Pool, NoBackendAndFailingBalancerRefuse) {
    Fixture empty(&kOps);
    empty.pool->republish();
    upstream::PickFailure why;
    std::uint32_t idx;
    EXPECT_EQ(empty.pool->pick(*empty.pool->snapshot(), 0, 0, {}, &idx, &why), nullptr);
    EXPECT_EQ(why, upstream::PickFailure::NoBackend);

    Fixture failing(&kFailingOps);
    failing.add("127.0.0.1", 1);
    failing.pool->republish();  // build() returns NULL: the pool fails safe
    ASSERT_EQ(failing.pool->snapshot()->tiers.size(), 1u);
    EXPECT_EQ(failing.pool->snapshot()->tiers[0].selector, nullptr);
    EXPECT_EQ(failing.pool->pick(*failing.pool->snapshot(), 0, 0, {}, &idx, &why), nullptr);
    EXPECT_EQ(why, upstream::PickFailure::NoBackend);
}

TEST(Backend, IdIsStableHashOfHostAndPort) {
    EXPECT_EQ(upstream::backendId("10.0.0.1", 80), upstream::backendId("10.0.0.1", 80));
    EXPECT_NE(upstream::backendId("10.0.0.1", 80), upstream::backendId("10.0.0.1", 81));
}
