#include "dns_book.h"

#include <algorithm>
#include <limits>

namespace postern::plugins::dns_discovery {

namespace {

using postern::sdk::LogLevel;

std::string label(const Query& q) { return q.name + " (" + std::string(typeName(q.type)) + ")"; }

// "1 address", "2 addresses", "1 record", "3 records".
std::string count(std::size_t n, std::string_view what) {
    std::string plural = what == "address" ? "addresses" : std::string(what) + "s";
    return std::to_string(n) + " " + (n == 1 ? std::string(what) : plural);
}

}  // namespace

std::string_view typeName(RecordType type) noexcept {
    switch (type) {
        case RecordType::A:
            return "A";
        case RecordType::AAAA:
            return "AAAA";
        case RecordType::SRV:
            return "SRV";
    }
    return "?";
}

DnsBook::DnsBook(DnsSettings settings) : settings_(std::move(settings)) {}

std::vector<RecordType> DnsBook::addressTypes() const {
    switch (settings_.family) {
        case Family::Ipv4:
            return {RecordType::A};
        case Family::Ipv6:
            return {RecordType::AAAA};
        case Family::Any:
            break;
    }
    return {RecordType::A, RecordType::AAAA};
}

void DnsBook::beginRound() {
    answered_.clear();
    nothing_.clear();
    first_failure_.clear();
    queries_ = 0;
    failed_queries_ = 0;
}

std::vector<Query> DnsBook::firstQueries() const {
    std::vector<Query> out;
    auto add = [&](Query q) {
        if (std::find(out.begin(), out.end(), q) == out.end()) out.push_back(std::move(q));
    };
    for (const auto& t : settings_.targets) {
        if (t.kind == TargetKind::Address)
            for (RecordType type : addressTypes()) add({t.name, type});
        else if (t.kind == TargetKind::Srv)
            add({t.name, RecordType::SRV});
    }
    return out;
}

std::vector<Query> DnsBook::secondQueries() const {
    std::vector<Query> out;
    for (const auto& [name, state] : srv_) {
        for (const auto& r : state.records()) {
            if (r.target == "." || r.target.empty() || isIpLiteral(r.target)) continue;
            for (RecordType type : addressTypes()) {
                Query q{r.target, type};
                if (answered_.count({q.name, q.type}) == 0 &&
                    std::find(out.begin(), out.end(), q) == out.end())
                    out.push_back(std::move(q));
            }
        }
    }
    return out;
}

void DnsBook::apply(const Query& query, Answer answer, std::int64_t now_ms,
                    std::vector<LogLine>& log) {
    answered_.insert({query.name, query.type});
    const std::int64_t hold = settings_.hold_nx_ms;
    const Outcome outcome = answer.outcome;
    ++queries_;
    if (outcome == Outcome::Failed) {
        ++failed_queries_;
        if (first_failure_.empty()) first_failure_ = label(query) + ": " + answer.error;
    }

    Event event;
    std::size_t kept = 0;
    std::size_t got = 0;
    if (query.type == RecordType::SRV) {
        got = answer.srv.size();
        auto& state = srv_[query.name];
        kept = state.records().size();
        event = state.update(outcome, std::move(answer.srv), now_ms, hold);
    } else {
        got = answer.addresses.size();
        auto& state = addresses_[{query.name, query.type}];
        kept = state.records().size();
        event = state.update(outcome, std::move(answer.addresses), now_ms, hold);
    }
    const std::string what = query.type == RecordType::SRV ? "record" : "address";
    switch (event) {
        case Event::None:
            break;
        case Event::Recovered:
            log.push_back({LogLevel::Info, label(query) + " resolves again: " + count(got, what)});
            break;
        case Event::FailedStale:
            log.push_back({LogLevel::Warn, label(query) + ": " + answer.error +
                                               "; keeping its last " + count(kept, what) +
                                               " until DNS answers again"});
            break;
        case Event::FailedNothing:
            log.push_back(
                {LogLevel::Warn, label(query) + ": " + answer.error +
                                     "; nothing known for it yet, so it adds no backend"});
            break;
        case Event::NxHold:
            log.push_back({LogLevel::Warn, label(query) + ": " + answer.error +
                                               "; keeping its last " + count(kept, what) +
                                               " for hold_nx (" + std::to_string(hold) + " ms)"});
            break;
        case Event::NxExpired:
            log.push_back({LogLevel::Warn, label(query) + ": " + answer.error +
                                               " after hold_nx; dropping its " +
                                               count(kept, what)});
            break;
        case Event::NxNothing:
            nothing_.insert(query.name);
            break;
    }
}

std::vector<std::string> DnsBook::addressesOf(const std::string& host) const {
    if (isIpLiteral(host)) return {host};
    std::vector<std::string> out;
    for (RecordType type : addressTypes()) {
        auto it = addresses_.find({host, type});
        if (it == addresses_.end()) continue;
        for (const auto& r : it->second.records())
            if (std::find(out.begin(), out.end(), r.ip) == out.end()) out.push_back(r.ip);
    }
    return out;
}

RoundResult DnsBook::finish(std::int64_t now_ms, std::vector<LogLine>& log) {
    RoundResult result;
    auto add = [&](FoundTarget t) {
        auto same = [&](const FoundTarget& o) { return o.host == t.host && o.port == t.port; };
        if (std::none_of(result.targets.begin(), result.targets.end(), same))
            result.targets.push_back(std::move(t));
    };

    std::set<std::string> used_hosts;
    for (const auto& t : settings_.targets) {
        switch (t.kind) {
            case TargetKind::Literal:
                add({t.name, t.port, t.weight, t.max_connections, t.region, t.priority});
                break;
            case TargetKind::Address: {
                used_hosts.insert(t.name);
                auto ips = addressesOf(t.name);
                if (ips.empty() && nothing_.count(t.name) != 0)
                    log.push_back({LogLevel::Warn,
                                   t.name + ": no address records (" +
                                       std::string(settings_.family == Family::Any    ? "A or AAAA"
                                                   : settings_.family == Family::Ipv4 ? "A"
                                                                                      : "AAAA") +
                                       "); it adds no backend"});
                for (auto& ip : ips)
                    add({ip, t.port, t.weight, t.max_connections, t.region, t.priority});
                break;
            }
            case TargetKind::Srv: {
                auto it = srv_.find(t.name);
                if (it == srv_.end() || it->second.records().empty()) {
                    if (nothing_.count(t.name) != 0)
                        log.push_back(
                            {LogLevel::Warn, t.name + ": no SRV records; it adds no backend"});
                    break;
                }
                std::vector<SrvRecord> records = it->second.records();
                std::stable_sort(records.begin(), records.end(),
                                 [](const SrvRecord& a, const SrvRecord& b) {
                                     if (a.priority != b.priority) return a.priority < b.priority;
                                     if (a.weight != b.weight) return a.weight > b.weight;
                                     if (a.target != b.target) return a.target < b.target;
                                     return a.port < b.port;
                                 });
                for (const auto& r : records) {
                    if (r.target == "." || r.target.empty()) continue;
                    used_hosts.insert(r.target);
                    auto ips = addressesOf(r.target);
                    if (ips.empty() && nothing_.count(r.target) != 0)
                        log.push_back(
                            {LogLevel::Warn, r.target + " (target of " + t.name +
                                                 "): no address records; it adds no backend"});
                    for (auto& ip : ips)
                        add({ip, r.port, srvAddressWeight(r.weight, ips.size()), t.max_connections,
                             t.region, r.priority});
                }
                break;
            }
        }
    }

    // Hosts that no target and no SRV record names any more are forgotten.
    for (auto it = addresses_.begin(); it != addresses_.end();) {
        if (used_hosts.count(it->first.first) == 0)
            it = addresses_.erase(it);
        else
            ++it;
    }

    result.queries = queries_;
    result.failed_queries = failed_queries_;
    if (result.targets.empty() && failed_queries_ > 0) {
        result.failed = true;
        result.reason = "no name has an address, and DNS failed: " + first_failure_;
    }

    // The next round: when the first record held now expires (fresh or stale: while DNS fails,
    // rounds keep the cadence its last answers asked for), or when an NX hold ends.
    std::int64_t next = -1;
    auto consider = [&](std::int64_t ms) {
        if (ms >= 0 && (next < 0 || ms < next)) next = ms;
    };
    auto considerState = [&](const auto& state) {
        for (const auto& r : state.records()) consider(r.ttl_s >= 0 ? r.ttl_s * 1000 : -1);
        if (auto ends = state.holdEndsAt(settings_.hold_nx_ms))
            consider(std::max<std::int64_t>(*ends - now_ms, 0));
    };
    for (const auto& [key, state] : addresses_) considerState(state);
    for (const auto& [name, state] : srv_) considerState(state);
    if (next >= 0)
        result.next_refresh_ms =
            clampRefresh(next, settings_.min_refresh_ms, settings_.max_refresh_ms);
    return result;
}

}  // namespace postern::plugins::dns_discovery
