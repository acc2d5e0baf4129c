// The `dns` plugin's memory and round logic, without any I/O: which queries a round asks, what
// each answer does to the per-query state (answer_state.h), and the targets, the round's failure
// and the next refresh that follow. dns_discovery.cpp drives it with real answers from c-ares;
// the unit tests drive it with made-up answers and clock values. One instance per plugin
// instance, on its discovery thread.
//
// A round: beginRound(), firstQueries() (A/AAAA of every "name:port" target per family, SRV of
// every SRV target), apply() each answer, secondQueries() (A/AAAA of the SRV records' target
// hosts not asked yet), apply() those, finish().
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "answer_state.h"
#include "dns_settings.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::dns_discovery {

enum class RecordType { A, AAAA, SRV };

std::string_view typeName(RecordType type) noexcept;

struct Query {
    std::string name;
    RecordType type = RecordType::A;
    bool operator==(const Query&) const = default;
};

struct AddressRecord {
    std::string ip;           ///< IP literal
    std::int64_t ttl_s = -1;  ///< -1 = unknown
    bool operator==(const AddressRecord&) const = default;
};

struct SrvRecord {
    std::string target;  ///< host name, lower case, no trailing dot ("." = no service)
    std::uint16_t port = 0;
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
    std::int64_t ttl_s = -1;  ///< -1 = unknown
    bool operator==(const SrvRecord&) const = default;
};

/** One query's answer, as the resolver made it out. */
struct Answer {
    Outcome outcome = Outcome::Failed;
    std::string error;  ///< why, for Failed / NxDomain / Empty ("timeout", "SERVFAIL", ...)
    std::vector<AddressRecord> addresses;  ///< A / AAAA
    std::vector<SrvRecord> srv;            ///< SRV
};

struct LogLine {
    postern::sdk::LogLevel level;
    std::string text;
};

/** One target to report (what sdk::Target carries, owning its strings). */
struct FoundTarget {
    std::string host;  ///< IP literal
    std::uint16_t port = 0;
    std::uint32_t weight = 1;
    std::uint32_t max_connections = 0;
    std::string region;
    std::uint32_t priority = 0;
    bool operator==(const FoundTarget&) const = default;
};

struct RoundResult {
    std::vector<FoundTarget> targets;
    /** True when no target has an address and at least one query failed (timeout, SERVFAIL...):
     * the core then keeps its last set instead of emptying the pool. */
    bool failed = false;
    std::string reason;
    /** Milliseconds to the next useful round: the smallest TTL of the records held after this
     * round (answered now, or kept from an earlier round while DNS fails), or the time left of an
     * NX hold if shorter, clamped to [min_refresh, max_refresh]; 0 = none known (the pool's
     * `refresh` applies). */
    std::int64_t next_refresh_ms = 0;
    std::size_t queries = 0;         ///< answers applied this round
    std::size_t failed_queries = 0;  ///< of which failures (timeout, SERVFAIL, ...)
};

/** A weight-0 SRV record gets this weight; every other SRV weight is multiplied by
 * kSrvWeightScale (then shared among the target host's addresses), so a weight-0 record gets
 * about 1/100 of what a weight-1 record gets, as RFC 2782 asks ("a very small chance"), and a
 * group whose records are all weight 0 is balanced evenly. */
inline constexpr std::uint32_t kSrvZeroWeight = 1;
inline constexpr std::uint32_t kSrvWeightScale = 100;

/** The weight of one address of an SRV record's target host that has `addresses` addresses. */
constexpr std::uint32_t srvAddressWeight(std::uint16_t srv_weight, std::size_t addresses) noexcept {
    if (srv_weight == 0) return kSrvZeroWeight;
    const std::uint64_t total = std::uint64_t{srv_weight} * kSrvWeightScale;
    const std::uint64_t each = addresses > 1 ? total / addresses : total;
    return each > 0 ? static_cast<std::uint32_t>(each) : 1;
}

class DnsBook {
public:
    explicit DnsBook(DnsSettings settings);

    const DnsSettings& settings() const noexcept { return settings_; }

    /** Starts a round: forgets what was answered in the last one. */
    void beginRound();
    /** A/AAAA of the "name:port" targets (per family) and SRV of the SRV targets. */
    std::vector<Query> firstQueries() const;
    /** A/AAAA (per family) of the hosts the SRV records name, that were not asked this round. */
    std::vector<Query> secondQueries() const;
    /** Applies one answer received at `now_ms`; appends what is worth logging to `log`. */
    void apply(const Query& query, Answer answer, std::int64_t now_ms, std::vector<LogLine>& log);
    /** The targets of the round, its failure and the next refresh; appends log lines. Also drops
     * the state of hosts that no SRV record names any more. */
    RoundResult finish(std::int64_t now_ms, std::vector<LogLine>& log);

private:
    using Key = std::pair<std::string, RecordType>;

    std::vector<RecordType> addressTypes() const;
    /** The addresses known for `host` (a literal is its own), in A then AAAA order. */
    std::vector<std::string> addressesOf(const std::string& host) const;

    DnsSettings settings_;
    std::map<Key, AnswerState<AddressRecord>> addresses_;
    std::map<std::string, AnswerState<SrvRecord>> srv_;
    // This round:
    std::set<Key> answered_;
    std::set<std::string> nothing_;  // names whose NX/empty episode began (logged at finish)
    std::string first_failure_;
    std::size_t queries_ = 0;
    std::size_t failed_queries_ = 0;
};

}  // namespace postern::plugins::dns_discovery
