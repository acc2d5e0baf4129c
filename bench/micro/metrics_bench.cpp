// The metrics side (issue 15): rendering /metrics and /status for a large gateway (1,000
// backends over 10 pools, 10 listeners; target < 50 ms a scrape), summing 1,000 backends' per-
// worker counters as Gateway::snapshot() does, and the cost on the data path of counting a
// connection: per-worker blocks (what the workers do now) against one shared atomic per counter
// (what they did before), with 1 to 4 workers counting at once.
//
//   build-*/bin/postern_micro_bench --benchmark_filter='Metrics|Status|Count'
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "admin/prometheus_writer.h"
#include "admin/status_json.h"
#include "proxy/listener_stats.h"
#include "upstream/backend.h"

namespace {

using namespace std::chrono_literals;
using postern::admin::GatewaySnapshot;

constexpr int kPools = 10;
constexpr int kBackendsPerPool = 100;
constexpr int kListeners = 10;

GatewaySnapshot bigSnapshot() {
    GatewaySnapshot s;
    s.version = "0.1.0";
    s.now = s.started = s.loaded = postern::admin::WallClock::now();
    s.generation = 7;
    for (std::size_t r = 0; r < postern::admin::kReloadHistory; ++r)
        s.reloads.push_back({s.now, r % 2 == 0, 7, {"postern.toml:1:1: an error"}});
    for (int l = 0; l < kListeners; ++l) {
        postern::admin::ListenerSnapshot ls;
        ls.name = "listener-" + std::to_string(l);
        ls.protocol = l % 2 ? "https" : "tcp";
        ls.http = ls.tls = l % 2 == 1;
        ls.bind = {"0.0.0.0:" + std::to_string(8000 + l)};
        ls.pool = "pool-" + std::to_string(l);
        ls.totals.total = 123456789;
        ls.totals.bytes_in = 987654321012;
        ls.totals.tls_handshake.buckets[3] = 1000;
        ls.totals.request_duration.buckets[5] = 1000;
        s.listeners.push_back(ls);
    }
    for (int p = 0; p < kPools; ++p) {
        postern::admin::PoolSnapshot ps;
        ps.name = "pool-" + std::to_string(p);
        ps.balancer = "round_robin";
        ps.connect_time.buckets[1] = 5000;
        for (int b = 0; b < kBackendsPerPool; ++b) {
            postern::admin::BackendSnapshot bs;
            bs.address = "10.0." + std::to_string(p) + "." + std::to_string(b) + ":8080";
            bs.host = "backend-" + std::to_string(b) + ".pool-" + std::to_string(p) + ".internal";
            bs.region = "eu-west";
            bs.up = b % 7 != 0;
            bs.active = static_cast<std::uint64_t>(b);
            bs.connections_total = 1000000u + static_cast<std::uint64_t>(b);
            bs.probe_duration = postern::common::HistogramTotals{};
            bs.probe_duration->buckets[2] = 10000;
            bs.probe_duration->sum_ns = 12345678901;
            bs.last_probe = postern::upstream::ProbeResult{s.now, bs.up, 412us,
                                                           bs.up ? "" : "connect: refused"};
            ps.backends.push_back(bs);
        }
        s.pools.push_back(ps);
    }
    return s;
}

void BM_MetricsText1000Backends(benchmark::State& state) {
    const GatewaySnapshot s = bigSnapshot();
    std::size_t bytes = 0;
    for (auto _ : state) {
        std::string text = postern::admin::writePrometheus(s);
        bytes = text.size();
        benchmark::DoNotOptimize(text);
    }
    state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MetricsText1000Backends)->Unit(benchmark::kMillisecond);

void BM_StatusJson1000Backends(benchmark::State& state) {
    const GatewaySnapshot s = bigSnapshot();
    std::size_t bytes = 0;
    for (auto _ : state) {
        std::string text = postern::admin::writeStatusJson(s);
        bytes = text.size();
        benchmark::DoNotOptimize(text);
    }
    state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_StatusJson1000Backends)->Unit(benchmark::kMillisecond);

/** What Gateway::snapshot() reads per backend: the per-worker counters of 1,000 backends (8
 * workers), the probe histogram and the last probe. */
void BM_MetricsCollect1000Backends(benchmark::State& state) {
    std::vector<std::shared_ptr<postern::upstream::Backend>> backends;
    for (int i = 0; i < kPools * kBackendsPerPool; ++i) {
        auto b = std::make_shared<postern::upstream::Backend>(8);
        b->address_text = "10.0.0." + std::to_string(i) + ":8080";
        b->host = "backend-" + std::to_string(i);
        for (unsigned w = 0; w < 8; ++w) b->counters.at(w).connections_total.add(w + 1);
        b->probe_duration.observe(1ms);
        b->setLastProbe({std::chrono::system_clock::now(), true, 1ms, ""});
        backends.push_back(std::move(b));
    }
    for (auto _ : state) {
        std::vector<postern::admin::BackendSnapshot> out;
        out.reserve(backends.size());
        for (const auto& b : backends) {
            auto& o = out.emplace_back();
            o.address = b->address_text;
            o.host = b->host;
            o.active = b->active.load(std::memory_order_relaxed);
            o.connections_total = b->connectionsTotal();
            o.connect_failures = b->connectFailures();
            o.last_probe = b->lastProbe();
            postern::common::HistogramTotals h;
            b->probe_duration.addTo(h);
            o.probe_duration = h;
        }
        benchmark::DoNotOptimize(out);
    }
}
BENCHMARK(BM_MetricsCollect1000Backends)->Unit(benchmark::kMillisecond);

// ---- the data path: counting one connection ----------------------------------------------------

/** Before: one listener's counters as shared atomics, every worker adding to the same ones. */
struct SharedCounters {
    std::atomic<std::uint64_t> total{0}, bytes_in{0}, bytes_out{0}, closed{0};
};
SharedCounters g_shared;
postern::proxy::ListenerStats g_per_worker(4);

/** What a connection counts from accept to close (the shared `active` is common to both). */
void BM_CountConnectionShared(benchmark::State& state) {
    constexpr auto r = std::memory_order_relaxed;
    for (auto _ : state) {
        g_shared.total.fetch_add(1, r);
        g_shared.bytes_in.fetch_add(512, r);
        g_shared.bytes_out.fetch_add(4096, r);
        g_shared.closed.fetch_add(1, r);
    }
}
BENCHMARK(BM_CountConnectionShared)->ThreadRange(1, 4)->UseRealTime();

void BM_CountConnectionPerWorker(benchmark::State& state) {
    const unsigned worker = static_cast<unsigned>(state.thread_index());
    for (auto _ : state) {
        auto& c = g_per_worker.worker(worker);
        c.total.add();
        c.bytes_in.add(512);
        c.bytes_out.add(4096);
        c.countClose(postern::proxy::CloseCause::ClientFin);
    }
}
BENCHMARK(BM_CountConnectionPerWorker)->ThreadRange(1, 4)->UseRealTime();

}  // namespace
