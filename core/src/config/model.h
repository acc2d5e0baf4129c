// The validated configuration: immutable once loadConfig() returns it. Everything downstream
// (server, upstream, proxy) reads only these structs, never TOML.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "config/source_pos.h"
#include "net/cidr_list.h"
#include "plugin/instances.h"
#include "tls/tls_settings.h"

namespace postern::tls {
class ServerTlsContext;
class ClientTlsContext;
}  // namespace postern::tls

namespace postern::config {

using Millis = std::chrono::milliseconds;

/** "unlimited" drain timeouts are stored as this value. */
inline constexpr Millis kUnlimited = Millis::max();

struct BindAddress {
    std::string host;  ///< IP literal (IPv4 or IPv6, no brackets) or a name resolved at bind time
    std::uint16_t port = 0;
    std::string text;  ///< as written, for messages
};

/** Where a running postern listens for `postern reload` when [gateway] control_socket is not set:
 * a Unix domain socket (systemd's RuntimeDirectory=postern makes /run/postern), or on Windows a
 * named pipe. */
#ifdef _WIN32
inline constexpr const char* kDefaultControlSocket = "\\\\.\\pipe\\postern";
#else
inline constexpr const char* kDefaultControlSocket = "/run/postern/postern.sock";
#endif

enum class ListenerProtocol { Tcp, Tls, Http, Https };

/** http and https listeners speak HTTP/1.1 to their clients (routes by host and path). */
inline bool isHttp(ListenerProtocol p) {
    return p == ListenerProtocol::Http || p == ListenerProtocol::Https;
}
/** tls and https listeners terminate TLS ([listener.tls]). */
inline bool terminatesTls(ListenerProtocol p) {
    return p == ListenerProtocol::Tls || p == ListenerProtocol::Https;
}
enum class AccessFormat { Logfmt, Json };

/** The fields an access-log record can carry, in their default order (the order of
 * kAccessFieldNames). A record writes the chosen fields it has: `method` .. `reused` are HTTP
 * request records' own, `sni` .. `tls_error` connection records' own. */
enum class AccessField : std::uint8_t {
    Time,
    Listener,
    Client,
    Method,
    Host,
    Path,
    Status,
    Pool,
    Backend,
    BytesIn,
    BytesOut,
    ConnectMs,
    FirstByteMs,
    TotalMs,
    Attempts,
    Reused,
    Sni,
    Alpn,
    TlsVersion,
    TlsHandshakeMs,
    Cause,
    TlsError
};
/** The names as they appear in the records and in `[log] fields`, indexed by AccessField. */
inline constexpr const char* kAccessFieldNames[] = {
    "time",      "listener",   "client",        "method",      "host",
    "path",      "status",     "pool",          "backend",     "bytes_in",
    "bytes_out", "connect_ms", "first_byte_ms", "total_ms",    "attempts",
    "reused",    "sni",        "alpn",          "tls_version", "tls_handshake_ms",
    "cause",     "tls_error"};
inline constexpr std::size_t kAccessFieldCount =
    sizeof kAccessFieldNames / sizeof kAccessFieldNames[0];
static_assert(kAccessFieldCount == static_cast<std::size_t>(AccessField::TlsError) + 1);
/** Every field, in the default order. */
inline std::vector<AccessField> allAccessFields() {
    std::vector<AccessField> all;
    for (std::size_t i = 0; i < kAccessFieldCount; ++i) all.push_back(static_cast<AccessField>(i));
    return all;
}

struct GatewayConfig {
    unsigned workers = 0;  ///< resolved: never 0 after loading (0 in the file = one per core)
    std::vector<std::filesystem::path> plugin_dirs;  ///< absolute
    std::uint64_t max_connections = 200000;
    std::string user;  ///< Linux: switch to this user after binding; empty = stay as started
    std::string region;  ///< this instance's region (locality); empty = no preference
    /** Linux: bulk plain-TCP transfers move through a kernel pipe (splice), not user space. */
    bool splice = true;
    /** The control socket `postern reload` reaches: an absolute Unix socket path, on Windows a
     * named pipe (\\.\pipe\NAME). Empty: none ("off"). */
    std::string control_socket = kDefaultControlSocket;
    /** The file set control_socket. When it did not, an unusable default (no /run/postern, not
     * allowed) is a warning, not a failed start. */
    bool control_socket_set = false;
};

/** [admin] (SPEC §6): the admin endpoint (GET /metrics, /status, /; POST actions). */
struct AdminConfig {
    bool enabled = false;  ///< `bind` was set; off by default
    BindAddress bind;
    /** Required as "Authorization: Bearer <token>" for actions (and for GETs with protect_reads);
     * empty = none, allowed only on a loopback bind. Visible ASCII only. */
    std::string token;
    bool protect_reads = false;
    SourcePos bind_pos;  ///< the `bind` value (reload errors), or the [admin] header
};

struct LogConfig {
    common::LogLevel level = common::LogLevel::Info;
    /** Postern's own (diagnostics) log: an absolute file path, or empty = stderr (the journal
     * under systemd, the Event Log for the Windows service). */
    std::string file;
    std::string access = "stdout";  ///< stdout | stderr | syslog | off | absolute file path
    AccessFormat format = AccessFormat::Logfmt;
    std::vector<AccessField> fields = allAccessFields();  ///< chosen, in this order
    /** Not a key of the file: where `access = "syslog"` sends its datagrams (tests use their
     * own socket). */
    std::string syslog_socket = "/dev/log";
};

/** [listener.tls] of a protocol = "tls" or "https" listener. */
struct ListenerTlsConfig {
    tls::ServerTlsSettings settings;
    Millis handshake_timeout{std::chrono::seconds(10)};
    /** Built (certificates loaded, checked) when the configuration is loaded. */
    std::shared_ptr<const tls::ServerTlsContext> context;
};

/** Upper bounds of the per-client limits (the widths of the per-client table's fields). */
inline constexpr std::uint32_t kMaxConnectionsPerClient = (1u << 20) - 1;
inline constexpr std::uint32_t kMaxNewConnectionsPerClient = 1'000'000;

/** One [[listener.route]] (SPEC §2): the pool for the connections (tls, tcp: by SNI) or requests
 * (http, https: by host and path prefix) it matches. Names are stored lowercase without a trailing
 * dot; a wildcard "*.example.com" matches any name ending in ".example.com" (one label or more,
 * not "example.com" itself). An empty key matches anything; a route with none is the catch-all. */
struct RouteConfig {
    std::string host;         ///< http/https: the request's host (Host header, port ignored)
    std::string path_prefix;  ///< http/https: starts with '/'; a byte-for-byte prefix of the path
    std::string sni;          ///< tls/tcp: the server name of the client's ClientHello
    std::string pool;
    std::size_t pool_index = 0;  ///< index into Config::pools
    SourcePos pos;               ///< the [[listener.route]] header

    bool catchAll() const { return host.empty() && path_prefix.empty() && sni.empty(); }
};

struct ListenerConfig {
    std::string name;
    std::vector<BindAddress> binds;
    ListenerProtocol protocol = ListenerProtocol::Tcp;
    /** The catch-all: what no route matched goes here. Empty = none (a listener with routes);
     * then an unmatched request is answered 404, an unmatched connection closed. */
    std::string pool;
    std::size_t pool_index = 0;  ///< index into Config::pools; meaningful when pool is set
    /** In file order: the first route that matches wins. */
    std::vector<RouteConfig> routes;
    // http/https listeners (SPEC §3, HTTP / WebSocket).
    Millis request_timeout{std::chrono::seconds(30)};  ///< receive a request / the response head
    Millis ws_idle_timeout{std::chrono::seconds(30)};  ///< default: request_timeout
    Millis ws_max_session{0};                          ///< 0 = no cap
    Millis idle_timeout{std::chrono::minutes(4)};
    std::uint64_t max_connections = 10000;
    bool accept_proxy = false;      ///< parse an incoming PROXY v1/v2 header
    net::CidrList trusted_proxies;  ///< peers allowed to send one
    // Access control (SPEC §3), on the client address (the PROXY-carried one when accepted).
    net::CidrList allow;                           ///< non-empty: only these clients
    net::CidrList deny;                            ///< refused, whatever allow says
    std::uint32_t max_connections_per_client = 0;  ///< concurrent, per client IP; 0 = unlimited
    std::uint32_t new_connections_per_client = 0;  ///< per second, per client IP; 0 = unlimited
    std::optional<ListenerTlsConfig> tls;          ///< set exactly when protocol is Tls or Https
    SourcePos pos;

    /** A tcp listener with SNI routes reads (peeks) the client's ClientHello to choose its pool,
     * and relays it untouched (TLS passthrough). */
    bool peeksSni() const {
        if (protocol != ListenerProtocol::Tcp) return false;
        for (const auto& r : routes)
            if (!r.sni.empty()) return true;
        return false;
    }
};

enum class BackendProtocol { Tcp, Tls };

/** What a backend connection starts with (SPEC §3, PROXY protocol). */
enum class ProxyProtocol { Off, V1, V2 };

struct BackendSettings {
    std::uint16_t port = 0;  ///< default port for targets that name none (0 = none: targets must)
    Millis connect_timeout{std::chrono::seconds(5)};  ///< TCP connect + TLS handshake
    std::uint32_t retries = 2;
    ProxyProtocol proxy_protocol = ProxyProtocol::Off;
    bool proxy_protocol_crc = false;  ///< v2: add a CRC32C TLV
    BackendProtocol protocol = BackendProtocol::Tcp;
    /** Consecutive connect failures (TCP connect or timeout, PROXY preface, TLS handshake) that
     * mark a backend down at once (passive health); 0 = off. */
    std::uint32_t passive_failures = 3;
    // http pools: idle keep-alive connections to backends, per worker and backend.
    Millis keepalive_idle{std::chrono::seconds(60)};  ///< an idle one is closed after this
    std::uint32_t keepalive_max = 256;                ///< idle ones kept; 0 = none (no reuse)
    tls::ClientTlsSettings tls;  ///< the tls_* keys
    /** Built when the configuration is loaded if protocol is Tls or the probe asks for TLS;
     * null otherwise. */
    std::shared_ptr<const tls::ClientTlsContext> tls_context;
};

struct DiscoveryConfig {
    std::string plugin = "static";
    Millis refresh{std::chrono::seconds(30)};
    std::shared_ptr<plugin::Discovery> instance;
    /** The plugin name and its table in a canonical form: equal fingerprints, equal instances
     * (a reload reuses the running one). */
    std::string fingerprint;
};

struct ProbeConfig {
    std::string plugin = "tcp";
    Millis interval{std::chrono::seconds(5)};
    Millis timeout{std::chrono::seconds(2)};
    std::uint32_t healthy_threshold = 2;
    std::uint32_t unhealthy_threshold = 3;
    std::uint16_t port = 0;  ///< 0 = the backend's own port
    /** `proxy_protocol` as written; nullopt = not written, see sendsProxy(). */
    std::optional<bool> proxy_protocol_explicit;
    std::shared_ptr<plugin::Probe> instance;
    std::string fingerprint;  ///< as DiscoveryConfig::fingerprint

    /** Whether a probe of a backend listening on `backend_port` starts with PROXY UNKNOWN (v1) /
     * a v2 LOCAL header: as written, else when the pool's backends get PROXY and the probe goes
     * to their own port (HAProxy's default for checks) — an agent on another port gets none. */
    bool sendsProxy(const BackendSettings& backend, std::uint16_t backend_port) const {
        if (proxy_protocol_explicit) return *proxy_protocol_explicit;
        return backend.proxy_protocol != ProxyProtocol::Off && (port == 0 || port == backend_port);
    }
};

enum class Affinity { None, ClientIp };
enum class BalancingMode { Connection, Utilization };

struct PoolConfig {
    std::string name;
    std::string balancer = "round_robin";
    std::shared_ptr<plugin::BalancerFactory> balancer_factory;
    std::string balancer_fingerprint;  ///< as DiscoveryConfig::fingerprint
    Affinity affinity = Affinity::None;
    Millis drain_timeout{std::chrono::seconds(30)};  ///< kUnlimited = until connections end
    BalancingMode balancing_mode = BalancingMode::Connection;
    std::uint32_t max_connections_per_backend = 0;   ///< 0 = unlimited
    double max_utilization = 0.8;                    ///< used in BalancingMode::Utilization only
    std::vector<std::string> region_order;           ///< spill-over order after the local region
    std::string local_region;                        ///< [gateway] region, copied for the Pool
    BackendSettings backend;
    DiscoveryConfig discovery;
    std::optional<ProbeConfig> probe;  ///< absent = no health checks: backends count as up
    SourcePos pos;
};

struct Config {
    std::filesystem::path file;  ///< absolute path of the file it came from ("" for built-in)
    GatewayConfig gateway;
    LogConfig log;
    AdminConfig admin;
    std::vector<ListenerConfig> listeners;
    std::vector<PoolConfig> pools;
};

struct ConfigError {
    std::string file;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    std::string message;
    /** "<file>:<line>:<column>: <message>" */
    std::string format() const;
};

}  // namespace postern::config
