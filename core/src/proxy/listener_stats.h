// Counters of one listener. Per worker: each worker counts in its own cache-line-aligned block
// (ListenerCounters, common::Counter single-writer adds), and a scrape sums the blocks (sum()).
// The one shared count is `active`, which max_connections needs exact across workers: a relaxed
// atomic read-modify-write at accept and at close, as before.
//
// Writers: worker i writes only worker(i) — a session reaches its block with
// `listener.stats->worker(worker_context.index)`. Readers: any thread, at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/counter.h"
#include "common/histogram.h"
#include "common/per_worker.h"
#include "proxy/close_cause.h"

namespace postern::proxy {

/** The counts of one listener, as counters (T = common::Counter: one worker's block) or as plain
 * sums (T = std::uint64_t: ListenerTotals). */
template <class T>
struct ListenerCounts {
    T total{};      ///< connections accepted
    T bytes_in{};   ///< from clients
    T bytes_out{};  ///< to clients
    T refused_max_connections{};
    T refused_no_backend{};
    T refused_capacity{};
    T connect_failed{};
    // accept_proxy listeners: connections closed over their PROXY header.
    T proxy_untrusted{};         ///< from an address not in trusted_proxies
    T proxy_invalid{};           ///< malformed, oversized or truncated header
    T proxy_timeout{};           ///< no complete header in time
    T tls_handshake_failures{};  ///< client handshakes that failed
    // Access control: connections refused by allow/deny, by new_connections_per_client, by
    // max_connections_per_client; and ones let in untracked because the client's bucket of the
    // per-client table was full of other clients (see ClientLimits).
    T refused_acl{};
    T refused_client_rate{};
    T refused_client_limit{};
    T client_untracked{};
    /** Connections (HTTP: requests) ended, by access-log cause. */
    std::array<T, kCloseCauseCount> closed{};

    /** Calls f(a.x, b.x) for every count x of two ListenerCounts (summing blocks). */
    template <class A, class B, class F>
    static void zip(A& a, B& b, F&& f) {
        f(a.total, b.total);
        f(a.bytes_in, b.bytes_in);
        f(a.bytes_out, b.bytes_out);
        f(a.refused_max_connections, b.refused_max_connections);
        f(a.refused_no_backend, b.refused_no_backend);
        f(a.refused_capacity, b.refused_capacity);
        f(a.connect_failed, b.connect_failed);
        f(a.proxy_untrusted, b.proxy_untrusted);
        f(a.proxy_invalid, b.proxy_invalid);
        f(a.proxy_timeout, b.proxy_timeout);
        f(a.tls_handshake_failures, b.tls_handshake_failures);
        f(a.refused_acl, b.refused_acl);
        f(a.refused_client_rate, b.refused_client_rate);
        f(a.refused_client_limit, b.refused_client_limit);
        f(a.client_untracked, b.client_untracked);
        for (std::size_t i = 0; i < kCloseCauseCount; ++i) f(a.closed[i], b.closed[i]);
    }
};

/** The named counts zip() lists, besides `closed`: a new field must be added there too. */
inline constexpr std::size_t kListenerNamedCounts = 15;
static_assert(sizeof(ListenerCounts<std::uint64_t>) ==
                  (kListenerNamedCounts + kCloseCauseCount) * sizeof(std::uint64_t),
              "a field of ListenerCounts is missing from zip()");

/** One worker's block. */
struct ListenerCounters : ListenerCounts<common::Counter> {
    /** Client TLS handshakes that succeeded: accept to handshake done (tls/https listeners). */
    common::Histogram tls_handshake;
    /** HTTP requests: first byte of the request to the end of the response (http/https). */
    common::Histogram request_duration;

    void countClose(CloseCause cause) { closed[static_cast<std::size_t>(cause)].add(); }
};

/** Every worker's block summed, plus the shared active count. */
struct ListenerTotals : ListenerCounts<std::uint64_t> {
    std::uint64_t active = 0;
    common::HistogramTotals tls_handshake;
    common::HistogramTotals request_duration;

    std::uint64_t closedBy(CloseCause cause) const {
        return closed[static_cast<std::size_t>(cause)];
    }
};

class ListenerStats {
public:
    explicit ListenerStats(unsigned workers = 1) : blocks_(workers) {}

    /** Open connections, shared by every worker (max_connections is checked against it). */
    std::atomic<std::uint64_t> active{0};

    /** Worker `index`'s block: only that worker writes it. */
    ListenerCounters& worker(unsigned index) { return blocks_.at(index); }
    unsigned workers() const { return blocks_.size(); }

    /** Any thread: every block summed (relaxed reads: a moment old, never torn). */
    ListenerTotals sum() const {
        ListenerTotals out;
        out.active = active.load(std::memory_order_relaxed);
        blocks_.forEach([&](const ListenerCounters& c) {
            ListenerCounts<std::uint64_t>::zip(
                out, c, [](std::uint64_t& o, const common::Counter& v) { o += v.get(); });
            c.tls_handshake.addTo(out.tls_handshake);
            c.request_duration.addTo(out.request_duration);
        });
        return out;
    }
    /** Any thread: accepted connections over every worker (what the memory trimmer reads). */
    std::uint64_t total() const {
        std::uint64_t n = 0;
        blocks_.forEach([&](const ListenerCounters& c) { n += c.total.get(); });
        return n;
    }

private:
    common::PerWorker<ListenerCounters> blocks_;
};

}  // namespace postern::proxy
