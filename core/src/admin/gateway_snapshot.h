// Everything /metrics and /status show, copied out of the running gateway at one moment
// (server::Gateway::snapshot()): plain values, so that the writers (prometheus_writer.h,
// status_json.h) are pure functions a unit test can feed by hand. Counters are already summed
// over the workers. Made on the admin thread; owned by whoever asked.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "proxy/listener_stats.h"
#include "upstream/backend.h"

namespace postern::admin {

using WallClock = std::chrono::system_clock;

struct ListenerSnapshot {
    std::string name;
    std::string protocol;           ///< "tcp" | "tls" | "http" | "https"
    std::vector<std::string> bind;  ///< as bound: "127.0.0.1:8080", "[::1]:443"
    std::string pool;               ///< the listener's own pool; empty = none (routes only)
    bool http = false;              ///< http/https: requests and their durations are counted
    bool tls = false;               ///< tls/https: client handshakes are counted
    proxy::ListenerTotals totals;
};

struct BackendSnapshot {
    std::string address;  ///< "ip:port" / "[v6]:port" (Backend::address_text): its label and key
    std::string host;     ///< the name it was discovered under
    std::string region;   ///< empty = none
    std::uint32_t weight = 1;
    std::uint32_t priority = 0;
    bool up = false;
    /** No new connections: removed by discovery or a reload (still draining), drained by an
     * operator (admin_drained), or by its probe's "drain" answer. */
    bool draining = false;
    bool admin_drained = false;
    /** Not known yet: the pool probes and no check has ended. */
    bool unknown = false;
    std::uint64_t active = 0;
    std::uint64_t connections_total = 0;
    std::uint64_t connect_failures = 0;
    std::optional<common::HistogramTotals> probe_duration;  ///< pools with a probe
    std::optional<upstream::ProbeResult> last_probe;

    /** "up" | "down" | "draining" | "unknown" (draining wins: it says why no traffic comes). */
    const char* state() const {
        if (draining) return "draining";
        if (unknown) return "unknown";
        return up ? "up" : "down";
    }
};

struct PoolSnapshot {
    std::string name;
    std::string balancer;
    std::vector<BackendSnapshot> backends;
    common::HistogramTotals connect_time;
};

struct ReloadRecord {
    WallClock::time_point time;
    bool applied = false;
    std::uint64_t generation = 0;     ///< the generation serving after it
    std::vector<std::string> errors;  ///< `file:line:col: message`; empty when applied
};

struct GatewaySnapshot {
    std::string version;
    WallClock::time_point now;
    WallClock::time_point started;
    WallClock::time_point loaded;  ///< when the serving generation was applied
    std::uint64_t generation = 0;
    std::uint64_t connections_active = 0;
    std::uint64_t reloads_applied = 0;
    std::uint64_t reloads_rejected = 0;
    std::vector<ReloadRecord> reloads;  ///< newest first, at most kReloadHistory
    std::vector<ListenerSnapshot> listeners;
    std::vector<PoolSnapshot> pools;
};

/** How many reloads /status lists. */
inline constexpr std::size_t kReloadHistory = 20;

}  // namespace postern::admin
