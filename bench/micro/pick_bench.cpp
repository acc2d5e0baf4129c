// pick() of every built-in balancer at 10, 100 and 1,000 backends, alone (as the core calls it:
// room for 64 candidates) and through Pool::pick (the core's rules, slot reservation and release),
// plus client_ip affinity. Every benchmark counts heap allocations made inside the timed loop and
// fails if there is one: pick() must not allocate.
//
//   build-*/bin/postern_micro_bench                       # full run
//   build-*/bin/postern_micro_bench --benchmark_filter=Pool
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "balancer_least_connections/least_connections.h"
#include "balancer_maglev/maglev.h"
#include "balancer_random_two/random_two.h"
#include "balancer_round_robin/smooth_wrr.h"
#include "upstream/pool.h"

// ---- allocation counter ------------------------------------------------------------------------

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// The replacements pair malloc with free; GCC sees both sides inlined and warns about a mismatch
// that is not one.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Every form of the global operator new counts and takes memory from malloc (aligned_alloc for
// over-aligned types); every form of operator delete returns it with free. All of them are
// replaced, so no pairing crosses from the library's allocator to this one.
namespace {
void* counted(std::size_t size, std::size_t align = 0) noexcept {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (size == 0) size = 1;
    if (align <= alignof(std::max_align_t)) return std::malloc(size);
    return std::aligned_alloc(align, (size + align - 1) / align * align);
}
void* countedOrThrow(std::size_t size, std::size_t align = 0) {
    if (void* p = counted(size, align)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) { return countedOrThrow(size); }
void* operator new[](std::size_t size) { return countedOrThrow(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return counted(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return counted(size); }
void* operator new(std::size_t size, std::align_val_t a) {
    return countedOrThrow(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
    return countedOrThrow(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
    return counted(size, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }

/** For the other benchmark files of this binary (http_parse_bench.cpp). */
long postern_micro_allocations() { return g_allocations.load(); }

namespace {

using namespace postern;

/** Fails the benchmark when the timed loop allocated. */
class AllocationGuard {
public:
    explicit AllocationGuard(benchmark::State& state)
        : state_(state), before_(g_allocations.load()) {}
    ~AllocationGuard() {
        const long allocated = g_allocations.load() - before_;
        state_.counters["allocs"] = static_cast<double>(allocated);
        if (allocated != 0) state_.SkipWithError("pick() allocated");
    }

private:
    benchmark::State& state_;
    long before_;
};

std::uint64_t splitmix(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/** n backends with mixed weights, and live counts for them. */
struct Backends {
    std::vector<std::string> hosts;
    std::vector<postern_backend> views;
    std::unique_ptr<std::atomic<std::uint32_t>[]> active;
    postern_backend_load load{};

    explicit Backends(std::size_t n) : active(new std::atomic<std::uint32_t>[n]) {
        hosts.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            hosts.push_back("10." + std::to_string(i / 65536) + "." +
                            std::to_string(i / 256 % 256) + "." + std::to_string(i % 256));
            active[i].store(static_cast<std::uint32_t>(i % 7));
        }
        for (std::size_t i = 0; i < n; ++i) {
            const auto& h = hosts[i];
            views.push_back(postern_backend{upstream::backendId(h, 80),
                                            {h.data(), h.size()},
                                            {h.data(), h.size()},
                                            80,
                                            static_cast<std::uint32_t>(1 + i % 3),
                                            0,
                                            {nullptr, 0}});
        }
        load = postern_backend_load{this, &activeOf};
    }
    static std::uint32_t activeOf(void* ctx, std::uint32_t i) noexcept {
        return static_cast<Backends*>(ctx)->active[i].load(std::memory_order_relaxed);
    }
};

std::unique_ptr<sdk::Balancer> makeSelector(int which, const Backends& b) {
    switch (which) {
        case 0: {
            std::vector<std::uint32_t> w;
            for (const auto& v : b.views) w.push_back(v.weight);
            return std::make_unique<plugins::round_robin::SmoothWrrSelector>(w);
        }
        case 1:
            return std::make_unique<plugins::least_connections::LeastConnectionsSelector>(b.views,
                                                                                          b.load);
        case 2:
            return std::make_unique<plugins::random_two::RandomTwoSelector>(b.views, b.load);
        default:
            return std::make_unique<plugins::maglev::MaglevSelector>(b.views);
    }
}

/** The balancer alone: pick() with room for 64 candidates, as Pool::pick asks. */
void BM_Pick(benchmark::State& state, int which) {
    Backends b(static_cast<std::size_t>(state.range(0)));
    auto selector = makeSelector(which, b);
    std::uint32_t out[upstream::Pool::kMaxCandidates];
    std::uint64_t seed = 42;
    {
        AllocationGuard guard(state);
        for (auto _ : state) {
            const postern_pick_context ctx{splitmix(seed), 0, 0, seed};
            benchmark::DoNotOptimize(selector->pick(ctx, out));
            benchmark::ClobberMemory();
        }
    }
    state.SetItemsProcessed(state.iterations());
}

/** least_connections' full cost per connection: pick, then the open and close updates. */
void BM_PickOpenClose(benchmark::State& state, int which) {
    Backends b(static_cast<std::size_t>(state.range(0)));
    auto selector = makeSelector(which, b);
    std::uint32_t out[upstream::Pool::kMaxCandidates];
    std::uint64_t seed = 7;
    {
        AllocationGuard guard(state);
        for (auto _ : state) {
            const postern_pick_context ctx{splitmix(seed), 0, 0, seed};
            if (selector->pick(ctx, out) == 0) continue;
            b.active[out[0]].fetch_add(1, std::memory_order_relaxed);
            selector->onOpen(out[0]);
            b.active[out[0]].fetch_sub(1, std::memory_order_relaxed);
            selector->onClose(out[0]);
        }
    }
    state.SetItemsProcessed(state.iterations());
}

// ---- through the core's Pool::pick -------------------------------------------------------------

template <class F>
sdk::BalancerFactory* newFactory() {
    return new F();
}

class RoundRobinFactory final : public sdk::BalancerFactory {
public:
    static std::unique_ptr<RoundRobinFactory> create(sdk::Config&, sdk::Host&) noexcept {
        return std::make_unique<RoundRobinFactory>();
    }
    std::unique_ptr<sdk::Balancer> build(std::span<const postern_backend> backends,
                                         const postern_backend_load&) noexcept override {
        std::vector<std::uint32_t> w;
        for (const auto& v : backends) w.push_back(v.weight);
        return std::make_unique<plugins::round_robin::SmoothWrrSelector>(w);
    }
};

struct PoolBench {
    postern_descriptor desc{};
    plugin::LoadedPlugin plugin;
    config::PoolConfig pc;
    std::unique_ptr<upstream::Pool> pool;

    PoolBench(int which, std::size_t n, bool affinity, bool equal_weights = false) {
        const postern_balancer_ops* ops[] = {
            &sdk::detail::BalancerGlue<RoundRobinFactory>::ops,
            &sdk::detail::BalancerGlue<plugins::least_connections::LeastConnectionsFactory>::ops,
            &sdk::detail::BalancerGlue<plugins::random_two::RandomTwoFactory>::ops,
            &sdk::detail::BalancerGlue<plugins::maglev::MaglevFactory>::ops};
        sdk::BalancerFactory* (*make[])() = {
            &newFactory<RoundRobinFactory>,
            &newFactory<plugins::least_connections::LeastConnectionsFactory>,
            &newFactory<plugins::random_two::RandomTwoFactory>,
            &newFactory<plugins::maglev::MaglevFactory>};
        desc.abi_version = POSTERN_PLUGIN_ABI_VERSION;
        desc.descriptor_size = sizeof desc;
        desc.kind = POSTERN_KIND_BALANCER;
        desc.balancer = ops[which];
        plugin.kind = POSTERN_KIND_BALANCER;
        plugin.descriptor = &desc;
        pc.name = "bench";
        pc.affinity = affinity ? config::Affinity::ClientIp : config::Affinity::None;
        pc.max_connections_per_backend = 1000;
        pc.balancer_factory = std::make_shared<plugin::BalancerFactory>(&plugin, make[which]());
        pool = std::make_unique<upstream::Pool>(pc, nullptr);
        for (std::size_t i = 0; i < n; ++i) {
            auto b = std::make_shared<upstream::Backend>();
            b->host = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256);
            b->port = 80;
            b->address = *net::SocketAddress::fromIp(b->host, 80);
            b->ip_text = b->host;
            b->weight = equal_weights ? 1 : static_cast<std::uint32_t>(1 + i % 3);
            b->id = upstream::backendId(b->host, 80);
            b->up.store(true);
            pool->backends().push_back(std::move(b));
        }
        pool->republish();
    }
};

/** Pool::pick (core rules + reservation) and release, one connection at a time. `clients` = 0:
 * every connection from a new client address; else that many addresses take turns. */
void BM_PoolPick(benchmark::State& state, int which, bool affinity, std::uint64_t clients,
                 bool equal_weights) {
    PoolBench f(which, static_cast<std::size_t>(state.range(0)), affinity, equal_weights);
    const auto snap = f.pool->snapshot();
    std::uint64_t seed = 99, turn = 0;
    {
        AllocationGuard guard(state);
        for (auto _ : state) {
            std::uint32_t index = 0;
            upstream::PickFailure why;
            const std::uint64_t client =
                clients ? (turn++ % clients) * 0x9e3779b97f4a7c15ull : splitmix(seed);
            auto b = f.pool->pick(*snap, client, seed++, {}, &index, &why);
            if (!b) {
                state.SkipWithError("refused");
                break;
            }
            f.pool->release(*snap, index, *b);
        }
    }
    state.SetItemsProcessed(state.iterations());
}

const char* const kNames[] = {"round_robin", "least_connections", "random_two", "maglev"};

int registerAll() {
    // The guard is only as good as the counter: make sure a heap allocation is seen.
    const long before = g_allocations.load();
    int* volatile probe = new int(1);  // volatile: the allocation may not be elided
    delete probe;
    if (g_allocations.load() == before) {
        std::fprintf(stderr, "the allocation counter does not see operator new\n");
        std::abort();
    }
    for (int which = 0; which < 4; ++which) {
        benchmark::RegisterBenchmark((std::string("Pick/") + kNames[which]).c_str(), BM_Pick, which)
            ->Arg(10)
            ->Arg(100)
            ->Arg(1000);
    }
    benchmark::RegisterBenchmark("PickOpenClose/least_connections", BM_PickOpenClose, 1)
        ->Arg(10)
        ->Arg(100)
        ->Arg(1000);
    for (int which = 0; which < 4; ++which) {
        benchmark::RegisterBenchmark((std::string("PoolPick/") + kNames[which]).c_str(),
                                     BM_PoolPick, which, false, std::uint64_t{0}, false)
            ->Arg(10)
            ->Arg(100)
            ->Arg(1000);
    }
    // client_ip affinity: every client new (rendezvous hashing over the tier) vs 1,000 returning
    // clients (the snapshot's memo).
    benchmark::RegisterBenchmark("PoolPick/affinity_new_clients", BM_PoolPick, 0, true,
                                 std::uint64_t{0}, false)
        ->Arg(10)
        ->Arg(100)
        ->Arg(1000);
    benchmark::RegisterBenchmark("PoolPick/affinity_new_clients_equal_weights", BM_PoolPick, 0,
                                 true, std::uint64_t{0}, true)
        ->Arg(10)
        ->Arg(100)
        ->Arg(1000);
    benchmark::RegisterBenchmark("PoolPick/affinity_returning_clients", BM_PoolPick, 0, true,
                                 std::uint64_t{1000}, false)
        ->Arg(10)
        ->Arg(100)
        ->Arg(1000);
    return 0;
}
const int kRegistered = registerAll();

}  // namespace

BENCHMARK_MAIN();
