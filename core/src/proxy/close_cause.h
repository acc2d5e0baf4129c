// Why a client connection (or, on HTTP listeners, a request) ended: the `cause` of its access-log
// record (SPEC §6) and the index of its per-listener counter (ListenerCounts::closed). One enum
// instead of strings compared at run time, so a new cause gets its name and its counter in one
// place. Names are part of the access-log format: never rename one. Any thread (constants only).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace postern::proxy {

enum class CloseCause : std::uint8_t {
    // A clean end of stream; the first side to end names it.
    ClientFin,
    BackendFin,
    // Abrupt ends.
    ClientReset,
    BackendReset,
    TlsFailed,  ///< the client's TLS handshake or a TLS record failed
    // Timers.
    IdleTimeout,
    Drained,   ///< its listener or backend was removed and the drain deadline passed
    Shutdown,  ///< the gateway stopped
    // No backend connection.
    ConnectFailed,  ///< every attempt (1 + retries) failed
    NoBackend,      ///< no backend up
    NoCapacity,     ///< every backend up is at max_connections
    NoResources,    ///< out of descriptors or memory for the backend socket
    // Refused before any backend (accept_proxy, access control, limits).
    ProxyUntrusted,
    ProxyInvalid,
    ProxyTimeout,
    RefusedAcl,
    RefusedClientRate,
    RefusedClientLimit,
    RefusedMaxConnections,
    // HTTP and WebSocket (SPEC §3).
    RequestTimeout,
    BadRequest,
    NoRoute,
    WsIdleTimeout,
    WsMaxSession,
    // HTTP requests (one access-log record each).
    Complete,     ///< the response reached the client whole
    BadResponse,  ///< the backend's response was not valid HTTP (502)
};

inline constexpr std::size_t kCloseCauseCount =
    static_cast<std::size_t>(CloseCause::BadResponse) + 1;

/** Access-log names, indexed by CloseCause. */
inline constexpr std::array<std::string_view, kCloseCauseCount> kCloseCauseNames = {
    "client_fin",
    "backend_fin",
    "client_reset",
    "backend_reset",
    "tls_failed",
    "idle_timeout",
    "drained",
    "shutdown",
    "connect_failed",
    "no_backend",
    "no_capacity",
    "no_resources",
    "proxy_untrusted",
    "proxy_invalid",
    "proxy_timeout",
    "refused_acl",
    "refused_client_rate",
    "refused_client_limit",
    "refused_max_connections",
    "request_timeout",
    "bad_request",
    "no_route",
    "ws_idle_timeout",
    "ws_max_session",
    "complete",
    "bad_response",
};

static_assert(!kCloseCauseNames.back().empty(), "a CloseCause without a name");

constexpr std::string_view closeCauseName(CloseCause cause) {
    return kCloseCauseNames[static_cast<std::size_t>(cause)];
}

/** The cause named `name` in an access-log record; nullopt for an unknown name. */
constexpr std::optional<CloseCause> closeCauseFromName(std::string_view name) {
    for (std::size_t i = 0; i < kCloseCauseCount; ++i)
        if (kCloseCauseNames[i] == name) return static_cast<CloseCause>(i);
    return std::nullopt;
}

/** Ends that reset the connections instead of closing them cleanly (no close_notify either). */
constexpr bool isAbrupt(CloseCause cause) {
    return cause == CloseCause::BackendReset || cause == CloseCause::ClientReset ||
           cause == CloseCause::TlsFailed;
}

}  // namespace postern::proxy
