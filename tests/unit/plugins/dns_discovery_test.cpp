// The built-in `dns` discovery plugin: its pure parts compiled in directly (target and resolver
// parsing, the TTL clamp, the per-query serve-stale / hold_nx state machine and the round logic,
// with made-up answers and clock values), and its configuration checked through the C ABI by
// loading the plugin library with a fake config. Answers from a real DNS server are the
// integration tests' part (tests/integration/dns_discovery_test.cpp, dnsmasq on loopback).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "discovery_dns/answer_state.h"
#include "discovery_dns/dns_book.h"
#include "discovery_dns/dns_settings.h"
#include "plugin/registry.h"
#include "support/plugins/fake_config.h"

namespace dns = postern::plugins::dns_discovery;
using dns::Answer;
using dns::Event;
using dns::Outcome;
using dns::Query;
using dns::RecordType;
using postern::testing::FakeConfig;
using postern::testing::Value;

namespace {

std::string parseError(std::string_view text) {
    std::string error;
    auto t = dns::parseTarget(text, error);
    return t ? "" : error;
}

Answer addresses(std::vector<std::string> ips, std::int64_t ttl = 30) {
    Answer a{Outcome::Records, "", {}, {}};
    for (auto& ip : ips) a.addresses.push_back({ip, ttl});
    return a;
}
Answer srv(std::vector<dns::SrvRecord> records) {
    return Answer{Outcome::Records, "", {}, std::move(records)};
}
Answer nx() { return Answer{Outcome::NxDomain, "NXDOMAIN", {}, {}}; }
Answer empty() { return Answer{Outcome::Empty, "no records of that type", {}, {}}; }
Answer timeout() { return Answer{Outcome::Failed, "timeout", {}, {}}; }
Answer servfail() { return Answer{Outcome::Failed, "SERVFAIL", {}, {}}; }

dns::DnsSettings settings(std::vector<std::string> targets,
                          dns::Family family = dns::Family::Ipv4) {
    dns::DnsSettings s;
    s.family = family;
    for (auto& t : targets) {
        std::string error;
        auto parsed = dns::parseTarget(t, error);
        EXPECT_TRUE(parsed) << error;
        if (parsed) s.targets.push_back(*parsed);
    }
    return s;
}

std::vector<std::string> hosts(const dns::RoundResult& r) {
    std::vector<std::string> out;
    for (const auto& t : r.targets) out.push_back(t.host + ":" + std::to_string(t.port));
    return out;
}

// One round where every query of the first (and second) batch gets the answer `answer_for` gives.
template <class F>
dns::RoundResult round(dns::DnsBook& book, std::int64_t now, F answer_for,
                       std::vector<dns::LogLine>* log_out = nullptr) {
    std::vector<dns::LogLine> log;
    book.beginRound();
    for (const auto& q : book.firstQueries()) book.apply(q, answer_for(q), now, log);
    for (const auto& q : book.secondQueries()) book.apply(q, answer_for(q), now, log);
    auto r = book.finish(now, log);
    if (log_out) *log_out = log;
    return r;
}

}  // namespace

// ---- parsing ---------------------------------------------------------------------------------

TEST(DnsDiscoveryTargets, KindsAndForms) {
    std::string error;
    auto a = dns::parseTarget("DB.Example.:5432", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->kind, dns::TargetKind::Address);
    EXPECT_EQ(a->name, "db.example");
    EXPECT_EQ(a->port, 5432);

    auto b = dns::parseTarget("_postgres._tcp.example", error);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->kind, dns::TargetKind::Srv);
    EXPECT_EQ(b->port, 0);

    auto c = dns::parseTarget("10.0.0.4:80", error);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->kind, dns::TargetKind::Literal);
    auto d = dns::parseTarget("[2001:db8::1]:443", error);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->kind, dns::TargetKind::Literal);
    EXPECT_EQ(d->name, "2001:db8::1");
    auto e = dns::parseTarget("db.example", error);  // the pool's [pool.backend] port applies
    ASSERT_TRUE(e);
    EXPECT_EQ(e->port, 0);
}

TEST(DnsDiscoveryTargets, RefusesBadOnes) {
    EXPECT_NE(
        parseError("_pg._tcp.example:5432").find("SRV name takes its ports from the SRV records"),
        std::string::npos);
    EXPECT_NE(parseError("db.example:0").find("port must be"), std::string::npos);
    EXPECT_NE(parseError("db.example:99999").find("port must be"), std::string::npos);
    EXPECT_NE(parseError("db..example:1").find("not a valid DNS name"), std::string::npos);
    EXPECT_NE(parseError("db exa:1").find("not a valid DNS name"), std::string::npos);
    EXPECT_NE(parseError("[::1").find("missing ']'"), std::string::npos);
    EXPECT_NE(parseError("[zz::1]:5").find("IPv6"), std::string::npos);
    EXPECT_NE(parseError("").find("empty"), std::string::npos);
    EXPECT_NE(parseError(std::string(64, 'a') + ".example:1").find("not a valid DNS name"),
              std::string::npos);
}

TEST(DnsDiscoveryTargets, Resolvers) {
    std::string error;
    auto a = dns::parseResolver("127.0.0.1:5353", error);
    ASSERT_TRUE(a);
    EXPECT_EQ(dns::display(*a), "127.0.0.1:5353");
    auto b = dns::parseResolver("[::1]", error);
    ASSERT_TRUE(b);
    EXPECT_EQ(dns::display(*b), "[::1]:53");
    EXPECT_FALSE(dns::parseResolver("dns.example:53", error));
    EXPECT_NE(error.find("must be an IP address"), std::string::npos);
    EXPECT_FALSE(dns::parseResolver("127.0.0.1:0", error));
    EXPECT_FALSE(dns::parseResolver("300.0.0.1", error));
}

TEST(DnsDiscoveryTargets, SrvNameShape) {
    EXPECT_TRUE(dns::isSrvName("_http._tcp.example"));
    EXPECT_FALSE(dns::isSrvName("_http.example"));
    EXPECT_FALSE(dns::isSrvName("http._tcp.example"));
}

TEST(DnsDiscoveryRefresh, ClampsTtl) {
    EXPECT_EQ(dns::clampRefresh(0, 1000, 300000), 1000);
    EXPECT_EQ(dns::clampRefresh(5000, 1000, 300000), 5000);
    EXPECT_EQ(dns::clampRefresh(86400000, 1000, 300000), 300000);
}

TEST(DnsDiscoveryRefresh, SrvWeights) {
    EXPECT_EQ(dns::srvAddressWeight(0, 1), dns::kSrvZeroWeight);
    EXPECT_EQ(dns::srvAddressWeight(0, 3), dns::kSrvZeroWeight);
    EXPECT_EQ(dns::srvAddressWeight(1, 1), 100u);
    EXPECT_EQ(dns::srvAddressWeight(3, 2), 150u);  // a host's share split among its addresses
    EXPECT_EQ(dns::srvAddressWeight(65535, 1), 6553500u);
    EXPECT_EQ(dns::srvAddressWeight(1, 1000), 1u);  // never 0
}

// ---- the state machine of one query -----------------------------------------------------------

TEST(DnsDiscoveryState, FailuresKeepTheLastRecordsUntilDnsAnswers) {
    dns::AnswerState<int> s;
    EXPECT_EQ(s.update(Outcome::Records, {1, 2}, 0, 30000), Event::None);
    EXPECT_EQ(s.update(Outcome::Failed, {}, 1000, 30000), Event::FailedStale);
    EXPECT_EQ(s.update(Outcome::Failed, {}, 999999, 30000), Event::None);  // once per episode
    EXPECT_EQ(s.records(), (std::vector<int>{1, 2}));
    EXPECT_TRUE(s.failing());
    EXPECT_EQ(s.update(Outcome::Records, {3}, 1000000, 30000), Event::Recovered);
    EXPECT_EQ(s.records(), (std::vector<int>{3}));
    EXPECT_FALSE(s.failing());
}

TEST(DnsDiscoveryState, NxHoldsThenDrops) {
    dns::AnswerState<int> s;
    s.update(Outcome::Records, {1}, 0, 30000);
    EXPECT_EQ(s.update(Outcome::NxDomain, {}, 10000, 30000), Event::NxHold);
    EXPECT_EQ(s.holdEndsAt(30000), 40000);
    EXPECT_EQ(s.update(Outcome::Empty, {}, 39999, 30000), Event::None);
    EXPECT_EQ(s.records(), (std::vector<int>{1}));
    EXPECT_EQ(s.update(Outcome::NxDomain, {}, 40000, 30000), Event::NxExpired);
    EXPECT_TRUE(s.records().empty());
    EXPECT_FALSE(s.holdEndsAt(30000));
    EXPECT_EQ(s.update(Outcome::NxDomain, {}, 50000, 30000), Event::None);
}

TEST(DnsDiscoveryState, RecordsEndTheHold) {
    dns::AnswerState<int> s;
    s.update(Outcome::Records, {1}, 0, 30000);
    s.update(Outcome::NxDomain, {}, 1000, 30000);
    EXPECT_EQ(s.update(Outcome::Records, {2}, 2000, 30000), Event::Recovered);
    // A new NX episode starts a new hold.
    EXPECT_EQ(s.update(Outcome::NxDomain, {}, 100000, 30000), Event::NxHold);
    EXPECT_EQ(s.holdEndsAt(30000), 130000);
}

TEST(DnsDiscoveryState, FailureInsideAHoldNeitherEndsNorExtendsIt) {
    dns::AnswerState<int> s;
    s.update(Outcome::Records, {1}, 0, 30000);
    s.update(Outcome::NxDomain, {}, 0, 30000);
    EXPECT_EQ(s.update(Outcome::Failed, {}, 50000, 30000), Event::FailedStale);
    EXPECT_EQ(s.records(), (std::vector<int>{1}));  // failures keep them
    EXPECT_EQ(s.update(Outcome::NxDomain, {}, 60000, 30000), Event::NxExpired);
}

TEST(DnsDiscoveryState, ZeroHoldDropsAtOnceAndNeverResolvedHasNothing) {
    dns::AnswerState<int> s;
    EXPECT_EQ(s.update(Outcome::NxDomain, {}, 0, 0), Event::NxNothing);
    EXPECT_EQ(s.update(Outcome::Failed, {}, 0, 0), Event::FailedNothing);
    EXPECT_FALSE(s.everResolved());
    s.update(Outcome::Records, {1}, 0, 0);
    EXPECT_EQ(s.update(Outcome::Empty, {}, 5, 0), Event::NxExpired);
    EXPECT_TRUE(s.records().empty());
    // An answer of "records" without any is an empty answer.
    EXPECT_EQ(s.update(Outcome::Records, {}, 6, 0), Event::None);
}

// ---- rounds ---------------------------------------------------------------------------------

TEST(DnsDiscoveryRound, AddressTargetsAndTtlRefresh) {
    dns::DnsBook book(settings({"db.example:5432", "10.9.9.9:1"}, dns::Family::Any));
    EXPECT_EQ(book.firstQueries(), (std::vector<Query>{{"db.example", RecordType::A},
                                                       {"db.example", RecordType::AAAA}}));
    auto r = round(book, 0, [](const Query& q) {
        return q.type == RecordType::A ? addresses({"10.0.0.1", "10.0.0.2"}, 20)
                                       : addresses({"2001:db8::1"}, 7);
    });
    EXPECT_FALSE(r.failed);
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.1:5432", "10.0.0.2:5432",
                                                  "2001:db8::1:5432", "10.9.9.9:1"}));
    EXPECT_EQ(r.next_refresh_ms, 7000);

    // TTL 0 and huge TTLs are clamped.
    r = round(book, 1, [](const Query&) { return addresses({"10.0.0.1"}, 0); });
    EXPECT_EQ(r.next_refresh_ms, dns::kDefaultMinRefreshMs);
    r = round(book, 2, [](const Query&) { return addresses({"10.0.0.1"}, 86400); });
    EXPECT_EQ(r.next_refresh_ms, dns::kDefaultMaxRefreshMs);
}

TEST(DnsDiscoveryRound, AnAddressTargetsPriorityGoesToEachAddress) {
    auto s = settings({"db.example:80", "10.9.9.9:1"});
    s.targets[0].priority = 1;
    s.targets[1].priority = 2;
    dns::DnsBook book(s);
    auto r = round(book, 0, [](const Query&) { return addresses({"10.0.0.1", "10.0.0.2"}); });
    ASSERT_EQ(r.targets.size(), 3u);
    EXPECT_EQ(r.targets[0].priority, 1u);
    EXPECT_EQ(r.targets[1].priority, 1u);
    EXPECT_EQ(r.targets[2].priority, 2u);
}

TEST(DnsDiscoveryRound, EmptyAaaaNextToARecordsIsNotNx) {
    dns::DnsBook book(settings({"db.example:80"}, dns::Family::Any));
    std::vector<dns::LogLine> log;
    auto r = round(
        book, 0,
        [](const Query& q) { return q.type == RecordType::A ? addresses({"10.0.0.1"}) : empty(); },
        &log);
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.1:80"}));
    EXPECT_TRUE(log.empty()) << log.front().text;
}

TEST(DnsDiscoveryRound, ServeStaleOnTimeoutAndServfail) {
    dns::DnsBook book(settings({"db.example:80"}));
    round(book, 0, [](const Query&) { return addresses({"10.0.0.1", "10.0.0.2"}); });
    std::vector<dns::LogLine> log;
    auto r = round(
        book, 1000, [](const Query&) { return timeout(); }, &log);
    EXPECT_FALSE(r.failed);
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:80"}));
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].text,
              "db.example (A): timeout; keeping its last 2 addresses until DNS answers again");
    EXPECT_EQ(r.next_refresh_ms, 30000);  // the stale records keep their TTL's cadence

    r = round(
        book, 2000, [](const Query&) { return servfail(); }, &log);
    EXPECT_EQ(hosts(r).size(), 2u);
    EXPECT_TRUE(log.empty());  // the same episode

    r = round(
        book, 3000, [](const Query&) { return addresses({"10.0.0.3"}); }, &log);
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.3:80"}));
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].text, "db.example (A) resolves again: 1 address");
}

TEST(DnsDiscoveryRound, NxHoldThenDrainWithRefreshAtTheHoldsEnd) {
    auto s = settings({"db.example:80", "other.example:81"});
    s.hold_nx_ms = 30000;
    dns::DnsBook book(s);
    round(book, 0, [](const Query&) { return addresses({"10.0.0.1"}, 300); });
    std::vector<dns::LogLine> log;
    auto nx_db = [](const Query& q) {
        return q.name == "db.example" ? nx() : addresses({"10.0.0.2"}, 300);
    };
    auto r = round(book, 5000, nx_db, &log);
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:81"}));
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].text,
              "db.example (A): NXDOMAIN; keeping its last 1 address for hold_nx (30000 ms)");
    EXPECT_EQ(r.next_refresh_ms, 30000);  // the hold ends at 35000, before the 300 s TTL

    r = round(book, 20000, nx_db, &log);
    EXPECT_EQ(hosts(r).size(), 2u);
    EXPECT_EQ(r.next_refresh_ms, 15000);
    r = round(book, 35000, nx_db, &log);
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.2:81"}));
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].text, "db.example (A): NXDOMAIN after hold_nx; dropping its 1 address");
}

TEST(DnsDiscoveryRound, NeverResolvedNamesReportNothingAndTheRoundFailsOnlyOnFailures) {
    dns::DnsBook book(settings({"a.example:80", "b.example:80"}));
    std::vector<dns::LogLine> log;
    // All NXDOMAIN: an authoritative "nothing", the pool is empty, the round succeeds.
    auto r = round(
        book, 0, [](const Query&) { return nx(); }, &log);
    EXPECT_FALSE(r.failed);
    EXPECT_TRUE(r.targets.empty());
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0].text, "a.example: no address records (A); it adds no backend");

    // One times out, one NX, nothing known: the round fails, the core keeps its last set.
    r = round(
        book, 1000, [](const Query& q) { return q.name == "a.example" ? timeout() : nx(); }, &log);
    EXPECT_TRUE(r.failed);
    EXPECT_EQ(r.reason, "no name has an address, and DNS failed: a.example (A): timeout");
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0].text,
              "a.example (A): timeout; nothing known for it yet, so it adds no backend");

    // One resolves, one times out: the round reports what it has.
    r = round(book, 2000, [](const Query& q) {
        return q.name == "a.example" ? timeout() : addresses({"10.0.0.7"});
    });
    EXPECT_FALSE(r.failed);
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.7:80"}));
}

TEST(DnsDiscoveryRound, SrvPrioritiesWeightsAndPorts) {
    dns::DnsBook book(settings({"_db._tcp.example"}, dns::Family::Ipv4));
    EXPECT_EQ(book.firstQueries(), (std::vector<Query>{{"_db._tcp.example", RecordType::SRV}}));
    auto answer = [](const Query& q) -> Answer {
        if (q.type == RecordType::SRV)
            return srv({{"backup.example", 7000, 1, 0, 60},
                        {"one.example", 5001, 0, 3, 60},
                        {"two.example", 5002, 0, 1, 60},
                        {".", 9, 5, 0, 60}});
        if (q.name == "one.example") return addresses({"10.0.0.1", "10.0.0.11"}, 10);
        if (q.name == "two.example") return addresses({"10.0.0.2"}, 10);
        return addresses({"10.0.0.3"}, 10);
    };
    auto r = round(book, 0, answer);
    ASSERT_EQ(r.targets.size(), 4u);
    EXPECT_EQ(r.targets[0], (dns::FoundTarget{"10.0.0.1", 5001, 150, 0, "", 0}));
    EXPECT_EQ(r.targets[1], (dns::FoundTarget{"10.0.0.11", 5001, 150, 0, "", 0}));
    EXPECT_EQ(r.targets[2], (dns::FoundTarget{"10.0.0.2", 5002, 100, 0, "", 0}));
    EXPECT_EQ(r.targets[3], (dns::FoundTarget{"10.0.0.3", 7000, dns::kSrvZeroWeight, 0, "", 1}));
    EXPECT_EQ(r.next_refresh_ms, 10000);
}

TEST(DnsDiscoveryRound, SrvServesStaleAndForgetsHostsNoRecordNames) {
    dns::DnsBook book(settings({"_db._tcp.example"}));
    round(book, 0, [](const Query& q) {
        return q.type == RecordType::SRV ? srv({{"one.example", 5001, 0, 1, 60}})
                                         : addresses({"10.0.0.1"});
    });
    // SRV times out: the last records stay, and their hosts are asked again.
    auto r = round(book, 1000, [](const Query& q) {
        return q.type == RecordType::SRV ? timeout() : addresses({"10.0.0.5"});
    });
    EXPECT_EQ(hosts(r), (std::vector<std::string>{"10.0.0.5:5001"}));
    // A new record set: the old host is no longer asked.
    book.beginRound();
    std::vector<dns::LogLine> log;
    book.apply({"_db._tcp.example", RecordType::SRV}, srv({{"two.example", 5002, 0, 1, 60}}), 2000,
               log);
    EXPECT_EQ(book.secondQueries(), (std::vector<Query>{{"two.example", RecordType::A}}));
}

// ---- configuration through the plugin library -----------------------------------------------

namespace {

struct Created {
    std::vector<std::string> errors;
    bool created = false;
};

Created create(Value table) {
    Created c;
    postern::plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_DISCOVERY, "dns");
    EXPECT_NE(p, nullptr);
    if (!p) return c;
    FakeConfig config(std::move(table));
    void* raw = p->descriptor->discovery->create(config.raw(), registry.host(*p));
    config.reportUnknownKeys();
    c.errors = config.lines();
    c.created = raw != nullptr;
    if (raw) p->descriptor->discovery->destroy(raw);
    return c;
}

Value str(std::string s) { return Value::string(std::move(s)); }

}  // namespace

TEST(DnsDiscoveryConfig, AcceptsEveryKey) {
    auto c = create(Value::table({
        {"targets", Value::array({str("db.example:5432"), str("_pg._tcp.example"),
                                  Value::table({{"address", str("web.example:80")},
                                                {"weight", Value::integer(3)},
                                                {"max_connections", Value::integer(10)},
                                                {"region", str("eu")},
                                                {"priority", Value::integer(1)}})})},
        {"resolvers", Value::array({str("127.0.0.1:5353"), str("[::1]:53")})},
        {"family", str("ipv4")},
        {"min_refresh", str("2s")},
        {"max_refresh", str("1m")},
        {"hold_nx", str("0s")},
    }));
    EXPECT_TRUE(c.created);
    EXPECT_TRUE(c.errors.empty()) << c.errors.front();
}

TEST(DnsDiscoveryConfig, ReportsEachProblemAtItsPosition) {
    auto c = create(Value::table({
        {"targets",
         Value::array({str("db.example:0"), str("_pg._tcp.example:5432"), Value::integer(3),
                       Value::table({{"address", str("_pg._udp.example")},
                                     {"weight", Value::integer(2)},
                                     {"priority", Value::integer(1)}}),
                       Value::table({{"address", str("db.example:1")},
                                     {"priority", Value::integer(70000)}})})},
        {"resolvers", Value::array({str("dns.example")})},
        {"family", str("ipv5")},
        {"min_refresh", str("soon")},
        {"hold_nx", str("5s")},
        {"timeout", str("1s")},
    }));
    EXPECT_FALSE(c.created);
    const std::vector<std::string> want = {
        "targets[0]: invalid target \"db.example:0\": port must be a number from 1 to 65535",
        "targets[1]: invalid target \"_pg._tcp.example:5432\": an SRV name takes its ports from "
        "the SRV records; remove ':5432'",
        "targets[2]: a target must be a string (\"name:port\", \"_service._tcp.name\") or a table "
        "{ address = \"name:port\", weight = N, max_connections = N, region = \"...\", "
        "priority = N }, not an integer",
        "targets[3].weight: an SRV target takes its weights from the SRV records; remove 'weight'",
        "targets[3].priority: an SRV target takes its priorities from the SRV records; remove "
        "'priority'",
        "targets[4].priority: priority must be from 0 (best) to 65535, got 70000",
        "resolvers[0]: invalid resolver \"dns.example\": a resolver must be an IP address "
        "(\"127.0.0.1:53\", \"[::1]:53\")",
        "family: family must be \"any\", \"ipv4\" or \"ipv6\", not \"ipv5\"",
        "min_refresh: invalid duration",
        "timeout: unknown key 'timeout'",
    };
    EXPECT_EQ(c.errors, want);
}

TEST(DnsDiscoveryConfig, RefreshBoundsMustBeOrdered) {
    auto c = create(Value::table({{"targets", Value::array({str("db.example:1")})},
                                  {"min_refresh", str("10s")},
                                  {"max_refresh", str("5s")}}));
    EXPECT_FALSE(c.created);
    ASSERT_EQ(c.errors.size(), 1u);
    EXPECT_EQ(c.errors[0],
              "max_refresh: max_refresh (5000 ms) must not be shorter than min_refresh (10000 ms)");
    c = create(Value::table(
        {{"targets", Value::array({str("db.example:1")})}, {"min_refresh", str("0s")}}));
    EXPECT_EQ(c.errors,
              (std::vector<std::string>{"min_refresh: min_refresh must be longer than 0"}));
    c = create(Value::table({}));
    ASSERT_EQ(c.errors.size(), 1u);
    EXPECT_NE(c.errors[0].find("needs 'targets'"), std::string::npos);
}
