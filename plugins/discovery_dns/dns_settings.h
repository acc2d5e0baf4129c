// The `dns` discovery plugin's configuration: what `[pool.discovery]` says (targets, resolvers,
// family, min_refresh, max_refresh, hold_nx), read and validated through the SDK's Config view
// with every problem reported at its own file:line:col. Pure functions (no c-ares); control
// thread, during create.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/target_attributes.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::dns_discovery {

inline constexpr std::int64_t kMaxWeight = common::kMaxWeight;
inline constexpr std::int64_t kMaxPriority = common::kMaxPriority;
inline constexpr std::int64_t kDefaultMinRefreshMs = 1000;
inline constexpr std::int64_t kDefaultMaxRefreshMs = 5 * 60 * 1000;
inline constexpr std::int64_t kDefaultHoldNxMs = 30 * 1000;

enum class Family { Any, Ipv4, Ipv6 };

enum class TargetKind {
    Literal,  ///< an IP address: reported as it is, never queried
    Address,  ///< "name:port": its A and/or AAAA records (per family)
    Srv,      ///< "_service._proto.name": its SRV records, each target's A and/or AAAA records
};

/** One element of `targets`. */
struct DnsTarget {
    TargetKind kind = TargetKind::Address;
    std::string name;  ///< DNS name (lower-cased, no trailing dot) or IP literal (no brackets)
    std::uint16_t port = 0;    ///< 0 = the pool's default backend port (always 0 for SRV)
    std::uint32_t weight = 1;  ///< per address; SRV targets take theirs from the records
    std::uint32_t max_connections = 0;
    std::string region;
    std::uint32_t priority = 0;  ///< 0 = best; SRV targets take theirs from the records
};

/** A DNS server to ask, instead of the system's. */
struct Resolver {
    std::string ip;  ///< IP literal, no brackets
    std::uint16_t port = 53;
};

struct DnsSettings {
    std::vector<DnsTarget> targets;
    std::vector<Resolver> resolvers;  ///< empty = the system's (resolv.conf / the Windows adapters)
    Family family = Family::Any;
    std::int64_t min_refresh_ms = kDefaultMinRefreshMs;
    std::int64_t max_refresh_ms = kDefaultMaxRefreshMs;
    std::int64_t hold_nx_ms = kDefaultHoldNxMs;
};

/** Whether `text` is an IPv4 or IPv6 literal (no brackets, no zone). */
bool isIpLiteral(std::string_view text);

/** Whether `name` has the form of an SRV owner name: its first two labels start with '_'
 * ("_postgres._tcp.db.example"). */
bool isSrvName(std::string_view name);

/** Parses one target address: "name:port", "name" (port 0), "_svc._tcp.name" (SRV, no port),
 * "ip:port", "[v6]:port", "ip". Names are checked as DNS names (letters, digits, '-', '_',
 * labels of 1..63 characters, 253 at most), lower-cased, and lose a trailing dot. nullopt with
 * `error` set when invalid. */
std::optional<DnsTarget> parseTarget(std::string_view text, std::string& error);

/** Parses one resolver: "ip", "ip:port", "[v6]", "[v6]:port" (IP literals only: a resolver named
 * by a name would need a resolver). */
std::optional<Resolver> parseResolver(std::string_view text, std::string& error);

/** "ip:port" / "[v6]:port" for logs and for c-ares' server list. */
std::string display(const Resolver& r);
/** "name:port", "name" or "[v6]:port" for logs. */
std::string display(const DnsTarget& t);

/** Reads and validates the whole table (except `plugin` and `refresh`, which the host reads).
 * nullopt when anything was wrong; every problem was reported at its own position. */
std::optional<DnsSettings> readSettings(const postern::sdk::Config& config);

/** `ttl_ms` clamped to [min_ms, max_ms]. */
constexpr std::int64_t clampRefresh(std::int64_t ttl_ms, std::int64_t min_ms,
                                    std::int64_t max_ms) noexcept {
    return ttl_ms < min_ms ? min_ms : (ttl_ms > max_ms ? max_ms : ttl_ms);
}

}  // namespace postern::plugins::dns_discovery
