// Counters of one listener, shared by every worker (relaxed atomics: exact totals, no ordering).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "proxy/close_cause.h"

namespace postern::proxy {

struct ListenerStats {
    std::atomic<std::uint64_t> active{0};
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> bytes_in{0};   ///< from clients
    std::atomic<std::uint64_t> bytes_out{0};  ///< to clients
    std::atomic<std::uint64_t> refused_max_connections{0};
    std::atomic<std::uint64_t> refused_no_backend{0};
    std::atomic<std::uint64_t> refused_capacity{0};
    std::atomic<std::uint64_t> connect_failed{0};
    // accept_proxy listeners: connections closed over their PROXY header.
    std::atomic<std::uint64_t> proxy_untrusted{0};  ///< from an address not in trusted_proxies
    std::atomic<std::uint64_t> proxy_invalid{0};    ///< malformed, oversized or truncated header
    std::atomic<std::uint64_t> proxy_timeout{0};    ///< no complete header in time
    std::atomic<std::uint64_t> tls_handshake_failures{0};  ///< client handshakes that failed
    // Access control: connections refused by allow/deny, by new_connections_per_client, by
    // max_connections_per_client; and ones let in untracked because the client's bucket of the
    // per-client table was full of other clients (see ClientLimits).
    std::atomic<std::uint64_t> refused_acl{0};
    std::atomic<std::uint64_t> refused_client_rate{0};
    std::atomic<std::uint64_t> refused_client_limit{0};
    std::atomic<std::uint64_t> client_untracked{0};
    /** Connections (HTTP: requests) ended, by access-log cause. */
    std::array<std::atomic<std::uint64_t>, kCloseCauseCount> closed{};

    void countClose(CloseCause cause) {
        closed[static_cast<std::size_t>(cause)].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t closedBy(CloseCause cause) const {
        return closed[static_cast<std::size_t>(cause)].load(std::memory_order_relaxed);
    }
};

}  // namespace postern::proxy
