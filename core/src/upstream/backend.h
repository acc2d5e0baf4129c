// One backend endpoint of a pool. Shared (shared_ptr) between the pool's control-thread state,
// every published snapshot that contains it and every connection using it, so counters stay valid
// while any of them lives. Identity (the resolved address and port, plus the name it was
// discovered under) is immutable after creation; the attributes discovery may change in place
// (weight, region, priority: control thread; max_connections: an atomic workers read) are
// copied into each snapshot; live state is atomics any thread may touch; counters are per worker
// (`counters`: worker i writes block i, a scrape sums them); health bookkeeping (probe_*) belongs
// to the control thread, which also writes the probe figures (probe_duration, lastProbe).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "common/counter.h"
#include "common/histogram.h"
#include "common/per_worker.h"
#include "net/socket_address.h"

namespace postern::upstream {

/** One worker's counts for one backend. */
struct BackendCounters {
    common::Counter connections_total;  ///< connects that succeeded (TCP, preface, TLS)
    common::Counter connect_failures;   ///< attempts that failed (each retry counts)
};

/** What the last health check of a backend found (for /status). */
struct ProbeResult {
    std::chrono::system_clock::time_point time;  ///< when it ended
    bool ok = false;
    std::chrono::nanoseconds latency{0};  ///< start of the check to its verdict
    std::string error;                    ///< why it failed; empty when ok
};

struct Backend {
    /** `workers`: the gateway's worker count (one counter block each). */
    explicit Backend(unsigned workers = 1) : counters(workers) {}

    // Identity (immutable): discovery tells backends apart by `address` (IP and port).
    std::string host;  ///< the name it was discovered under (IP literal or DNS name): TLS SNI, logs
    std::uint16_t port = 0;
    net::SocketAddress address;  ///< resolved
    std::string address_text;    ///< "ip:port" / "[v6]:port" for logs and metrics
    std::string ip_text;         ///< resolved IP without port
    std::uint64_t id = 0;        ///< stable hash of "ip:port" (see backendId)

    // Attributes discovery may change in place (upstream/target_diff.h). Control thread only,
    // except max_connections; workers see the others through the snapshot, which copies them.
    std::uint32_t weight = 1;
    std::string region;
    /** 0 = best: a backend of a higher value gets new connections only when no backend of a
     * better group (in the same or a nearer locality tier) can take them. */
    std::uint32_t priority = 0;
    /** 0 = unlimited (the pool limit may still apply). Workers read it (Pool::limitOf). */
    std::atomic<std::uint32_t> max_connections{0};

    // Live state (any thread).
    std::atomic<std::uint32_t> active{0};
    std::atomic<bool> up{false};
    std::atomic<bool> draining{false};  ///< removed from discovery: no new connections
    /** The probe answered "drain" (an agent's `drain`): healthy and up, its open connections go
     * on, but it gets no new ones until a probe answers plain healthy again. */
    std::atomic<bool> probe_drain{false};
    /** Drained by hand (admin endpoint, POST .../drain): it stays in the pool, is probed as
     * before, gets no new connections, and its open ones run out the pool's drain_timeout; POST
     * .../enable clears it. Survives reloads while discovery keeps reporting the backend. */
    std::atomic<bool> admin_drained{false};
    /** Last utilization a successful probe reported (0..1, may exceed 1 when overloaded);
     * negative = not reported. Compared with max_utilization in utilization mode. */
    std::atomic<double> utilization{-1.0};
    /** Per worker: worker i writes counters.at(i) only. */
    common::PerWorker<BackendCounters> counters;
    std::uint64_t connectionsTotal() const {
        std::uint64_t n = 0;
        counters.forEach([&](const BackendCounters& c) { n += c.connections_total.get(); });
        return n;
    }
    std::uint64_t connectFailures() const {
        std::uint64_t n = 0;
        counters.forEach([&](const BackendCounters& c) { n += c.connect_failures.get(); });
        return n;
    }
    /** Connect failures in a row since the last successful connect (passive health, see
     * upstream/passive_health.h). */
    std::atomic<std::uint32_t> connect_failure_streak{0};
    /** Set by the worker whose failure reached `passive_failures`, so that every worker skips
     * the backend at once, before the control loop has marked it down (up = false, snapshot,
     * log), which clears it again. */
    std::atomic<bool> passive_down{false};

    /** Up and not drained by discovery, a probe, passive health or by hand: may get new
     * connections (capacity aside). Any thread; relaxed reads (the snapshot may be a moment older). */
    bool takesNewConnections() const {
        constexpr auto r = std::memory_order_relaxed;
        return up.load(r) && !draining.load(r) && !probe_drain.load(r) &&
               !admin_drained.load(r) && !passive_down.load(r);
    }

    // Health bookkeeping (control thread only).
    bool probed_once = false;
    std::uint32_t consecutive_ok = 0;
    std::uint32_t consecutive_fail = 0;

    /** Health check durations (one writer: the control thread; any thread reads). */
    common::Histogram probe_duration;
    /** Control thread: a check ended. */
    void setLastProbe(ProbeResult result) {
        std::lock_guard<std::mutex> lock(probe_mutex_);
        last_probe_ = std::move(result);
    }
    /** Any thread: the last check's result; empty before the first one ends. */
    std::optional<ProbeResult> lastProbe() const {
        std::lock_guard<std::mutex> lock(probe_mutex_);
        return last_probe_;
    }

private:
    mutable std::mutex probe_mutex_;  ///< last_probe_: written once per check, read by scrapes
    std::optional<ProbeResult> last_probe_;
};

/** FNV-1a of "host:port" (discovery passes the resolved IP): the same on every instance, so
 * hashing balancers agree. */
std::uint64_t backendId(const std::string& host, std::uint16_t port);

}  // namespace postern::upstream
