// The discovery diff (upstream/target_diff.h) as pure functions: what a round keeps, adds,
// updates in place, brings back from draining and removes — identity is the resolved address.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "upstream/target_diff.h"

namespace postern::upstream {
namespace {

net::SocketAddress ip(const std::string& text, std::uint16_t port) {
    auto a = net::SocketAddress::fromIp(text, port);
    EXPECT_TRUE(a) << text;
    return a ? *a : net::SocketAddress{};
}

ResolvedTarget target(const std::string& host, const std::string& address, std::uint16_t port,
                      std::uint32_t weight = 1, std::string region = {},
                      std::uint32_t max_connections = 0, std::uint32_t priority = 0) {
    return ResolvedTarget{host,    ip(address, port), weight, max_connections, std::move(region),
                          priority};
}

Resolution resolved(std::vector<ResolvedTarget> targets, std::vector<std::string> unresolved = {}) {
    Resolution r;
    r.targets = std::move(targets);
    r.unresolved = std::move(unresolved);
    return r;
}

/** What the runner does with a diff, minus logging and the pool: the next current set. */
std::vector<std::shared_ptr<Backend>> applied(TargetDiff& diff) {
    for (auto& u : diff.updated) applyInPlace(*u.backend, u.target);
    for (auto& b : diff.removed) b->draining.store(true);
    for (auto& b : diff.readmitted) b->draining.store(false);
    return diff.next;
}

std::vector<std::string> texts(const std::vector<std::shared_ptr<Backend>>& backends) {
    std::vector<std::string> out;
    for (const auto& b : backends) out.push_back(b->address_text);
    return out;
}

const DiffOptions kOptions{};

TEST(DiscoveryTargetDiff, FirstRoundAddsEveryAddress) {
    auto diff = diffTargets({}, {},
                            resolved({target("10.0.0.1", "10.0.0.1", 80),
                                      target("2001:db8::1", "2001:db8::1", 443, 3, "eu", 9, 2)}),
                            kOptions);
    ASSERT_EQ(diff.added.size(), 2u);
    EXPECT_TRUE(diff.kept.empty());
    EXPECT_TRUE(diff.removed.empty());
    EXPECT_TRUE(diff.changed());
    EXPECT_EQ(texts(diff.next), (std::vector<std::string>{"10.0.0.1:80", "[2001:db8::1]:443"}));
    const auto& v6 = *diff.added[1];
    EXPECT_EQ(v6.host, "2001:db8::1");
    EXPECT_EQ(v6.ip_text, "2001:db8::1");
    EXPECT_EQ(v6.port, 443);
    EXPECT_EQ(v6.weight, 3u);
    EXPECT_EQ(v6.region, "eu");
    EXPECT_EQ(v6.max_connections.load(), 9u);
    EXPECT_EQ(v6.priority, 2u);
    EXPECT_EQ(v6.id, backendId("2001:db8::1", 443));
    EXPECT_TRUE(v6.up.load()) << "without a probe a backend counts as up";
    DiffOptions probed;
    probed.up_without_probe = false;
    auto down = diffTargets({}, {}, resolved({target("a", "10.0.0.1", 80)}), probed);
    EXPECT_FALSE(down.added[0]->up.load()) << "with a probe it waits for its first check";
}

TEST(DiscoveryTargetDiff, BackendsThatStayKeepTheirObjectAcrossRounds) {
    auto first = diffTargets(
        {}, {}, resolved({target("a", "10.0.0.1", 80), target("b", "10.0.0.2", 80)}), kOptions);
    auto current = applied(first);
    const auto a = current[0];
    a->counters.at(0).connections_total.add(42);
    a->active.store(3);
    for (int r = 0; r < 3; ++r) {
        auto diff = diffTargets(
            current, {}, resolved({target("b", "10.0.0.2", 80), target("a", "10.0.0.1", 80)}),
            kOptions);
        EXPECT_FALSE(diff.changed()) << "round " << r;
        EXPECT_TRUE(diff.added.empty());
        EXPECT_EQ(diff.kept.size(), 2u);
        ASSERT_EQ(diff.next.size(), 2u);
        EXPECT_EQ(diff.next[1], a) << "the same object, with its counters";
        EXPECT_EQ(diff.next[1]->connectionsTotal(), 42u);
        current = applied(diff);
    }
}

TEST(DiscoveryTargetDiff, DuplicateTargetsAreMergedAndTheFirstReportedWins) {
    auto diff = diffTargets(
        {}, {},
        resolved({target("a", "10.0.0.1", 80, 5), target("a", "10.0.0.1", 80, 9),
                  target("alias", "10.0.0.1", 80, 7, "x", 0, 3), target("a", "10.0.0.1", 81)}),
        kOptions);
    ASSERT_EQ(diff.added.size(), 2u) << "port 81 is another backend";
    EXPECT_EQ(diff.added[0]->weight, 5u);
    EXPECT_EQ(diff.added[0]->host, "a");
    EXPECT_EQ(diff.added[0]->priority, 0u);
    EXPECT_EQ(diff.merged, (std::vector<std::string>{"a 10.0.0.1:80", "alias 10.0.0.1:80"}));
}

TEST(DiscoveryTargetDiff, ANameWithSeveralAddressesGivesSeveralBackends) {
    auto diff = diffTargets({}, {},
                            resolved({target("db.example", "10.0.0.1", 5432, 2),
                                      target("db.example", "10.0.0.2", 5432, 2),
                                      target("db.example", "2001:db8::5", 5432, 2)}),
                            kOptions);
    ASSERT_EQ(diff.added.size(), 3u);
    for (const auto& b : diff.added) {
        EXPECT_EQ(b->host, "db.example") << "the name stays for SNI and logs";
        EXPECT_EQ(b->weight, 2u);
    }
    EXPECT_NE(diff.added[0]->id, diff.added[1]->id) << "hashing balancers tell them apart";
    auto current = applied(diff);
    // The name loses one address: only that backend leaves.
    auto next = diffTargets(current, {},
                            resolved({target("db.example", "10.0.0.2", 5432, 2),
                                      target("db.example", "2001:db8::5", 5432, 2)}),
                            kOptions);
    ASSERT_EQ(next.removed.size(), 1u);
    EXPECT_EQ(next.removed[0], current[0]);
    EXPECT_EQ(next.kept.size(), 2u);
}

TEST(DiscoveryTargetDiff, AnAddressThatMovesToAnotherNameStaysTheSameBackend) {
    auto first = diffTargets({}, {}, resolved({target("a.example", "10.0.0.1", 80)}), kOptions);
    auto current = applied(first);
    auto diff = diffTargets(current, {}, resolved({target("b.example", "10.0.0.1", 80)}), kOptions);
    EXPECT_FALSE(diff.changed());
    ASSERT_EQ(diff.next.size(), 1u);
    EXPECT_EQ(diff.next[0], current[0]);
    EXPECT_EQ(diff.next[0]->host, "a.example") << "the name is immutable: it is read by workers";

    // Where TLS takes its SNI from the name, the name is part of the identity: a new backend.
    DiffOptions tls;
    tls.name_is_identity = true;
    auto tls_first = diffTargets({}, {}, resolved({target("a.example", "10.0.0.1", 80)}), tls);
    auto tls_current = applied(tls_first);
    auto moved = diffTargets(tls_current, {}, resolved({target("b.example", "10.0.0.1", 80)}), tls);
    ASSERT_EQ(moved.added.size(), 1u);
    ASSERT_EQ(moved.removed.size(), 1u);
    EXPECT_EQ(moved.added[0]->host, "b.example");
    EXPECT_EQ(moved.removed[0], tls_current[0]);
    EXPECT_NE(moved.added[0]->id, tls_current[0]->id);
    // ...and two names on one address are two backends there, not a merge.
    auto both = diffTargets(
        {}, {},
        resolved({target("a.example", "10.0.0.1", 80), target("b.example", "10.0.0.1", 80)}), tls);
    EXPECT_EQ(both.added.size(), 2u);
    EXPECT_TRUE(both.merged.empty());
}

TEST(DiscoveryTargetDiff, AttributesChangeInPlace) {
    auto first =
        diffTargets({}, {}, resolved({target("a", "10.0.0.1", 80, 1, "eu", 10, 0)}), kOptions);
    auto current = applied(first);
    const Backend* object = current[0].get();
    current[0]->active.store(4);

    struct Case {
        const char* what;
        ResolvedTarget t;
    };
    const Case cases[] = {
        {"weight", target("a", "10.0.0.1", 80, 7, "eu", 10, 0)},
        {"region", target("a", "10.0.0.1", 80, 7, "us-east-with-a-long-name", 10, 0)},
        {"max_connections", target("a", "10.0.0.1", 80, 7, "us-east-with-a-long-name", 0, 0)},
        {"priority", target("a", "10.0.0.1", 80, 7, "us-east-with-a-long-name", 0, 4)},
    };
    for (const auto& c : cases) {
        auto diff = diffTargets(current, {}, resolved({c.t}), kOptions);
        ASSERT_EQ(diff.updated.size(), 1u) << c.what;
        EXPECT_TRUE(diff.added.empty()) << c.what;
        EXPECT_TRUE(diff.removed.empty()) << c.what;
        EXPECT_TRUE(diff.kept.empty()) << c.what;
        EXPECT_EQ(diff.updated[0].backend.get(), object) << c.what;
        current = applied(diff);
        EXPECT_EQ(current[0].get(), object) << c.what;
    }
    EXPECT_EQ(object->weight, 7u);
    EXPECT_EQ(object->region, "us-east-with-a-long-name");
    EXPECT_EQ(object->max_connections.load(), 0u);
    EXPECT_EQ(object->priority, 4u);
    EXPECT_EQ(object->active.load(), 4u) << "its connections stay";
    auto same = diffTargets(current, {}, resolved({cases[3].t}), kOptions);
    EXPECT_FALSE(same.changed());
}

TEST(DiscoveryTargetDiff, RemovedBackendsAreListedToRetire) {
    auto first = diffTargets(
        {}, {}, resolved({target("a", "10.0.0.1", 80), target("b", "10.0.0.2", 80)}), kOptions);
    auto current = applied(first);
    auto diff = diffTargets(current, {}, resolved({target("a", "10.0.0.1", 80)}), kOptions);
    ASSERT_EQ(diff.removed.size(), 1u);
    EXPECT_EQ(diff.removed[0], current[1]);
    EXPECT_EQ(texts(diff.next), (std::vector<std::string>{"10.0.0.1:80"}));
    EXPECT_FALSE(current[1]->draining.load()) << "the diff itself changes nothing";
}

TEST(DiscoveryTargetDiff, ABackendReportedAgainWhileDrainingComesBack) {
    auto first = diffTargets(
        {}, {}, resolved({target("a", "10.0.0.1", 80), target("b", "10.0.0.2", 80)}), kOptions);
    auto current = applied(first);
    auto b = current[1];
    b->active.store(2);
    auto removal = diffTargets(current, {}, resolved({target("a", "10.0.0.1", 80)}), kOptions);
    current = applied(removal);
    ASSERT_TRUE(b->draining.load());
    std::vector<std::shared_ptr<Backend>> draining{b};

    auto back = diffTargets(current, draining,
                            resolved({target("a", "10.0.0.1", 80), target("b", "10.0.0.2", 80, 3)}),
                            kOptions);
    ASSERT_EQ(back.readmitted.size(), 1u);
    EXPECT_EQ(back.readmitted[0], b);
    EXPECT_TRUE(back.added.empty()) << "the same object, with its connections";
    ASSERT_EQ(back.updated.size(), 1u) << "its weight changed meanwhile";
    current = applied(back);
    EXPECT_FALSE(b->draining.load());
    EXPECT_EQ(b->weight, 3u);
    EXPECT_EQ(b->active.load(), 2u);
    EXPECT_EQ(current[1], b);
}

TEST(DiscoveryTargetDiff, AnEmptyRoundRemovesEverything) {
    auto first = diffTargets({}, {}, resolved({target("a", "10.0.0.1", 80)}), kOptions);
    auto current = applied(first);
    auto diff = diffTargets(current, {}, resolved({}), kOptions);
    EXPECT_EQ(diff.removed.size(), 1u);
    EXPECT_TRUE(diff.next.empty());
}

TEST(DiscoveryTargetDiff, ANameThatDidNotResolveKeepsItsBackends) {
    auto first = diffTargets({}, {},
                             resolved({target("db", "10.0.0.1", 80), target("db", "10.0.0.2", 80),
                                       target("web", "10.0.0.3", 80)}),
                             kOptions);
    auto current = applied(first);
    auto diff =
        diffTargets(current, {}, resolved({target("web", "10.0.0.3", 80)}, {"db"}), kOptions);
    EXPECT_TRUE(diff.removed.empty());
    EXPECT_EQ(diff.next.size(), 3u);
    EXPECT_FALSE(diff.changed());
}

std::vector<net::SocketAddress> fakeDns(std::string_view host, std::uint16_t port,
                                        std::string* error) {
    // Real address parsing, a fixed table of names: what a resolver would answer.
    static const std::map<std::string, std::vector<std::string>, std::less<>> names{
        {"db.example", {"10.0.0.1", "10.0.0.2", "2001:db8::1"}}, {"one.example", {"10.0.0.9"}}};
    std::vector<net::SocketAddress> out;
    if (auto lit = net::SocketAddress::fromIp(host, port)) return {*lit};
    auto it = names.find(host);
    if (it == names.end()) {
        *error = "cannot resolve '" + std::string(host) + "': Name or service not known";
        return out;
    }
    for (const auto& a : it->second) out.push_back(*net::SocketAddress::fromIp(a, port));
    return out;
}

TEST(DiscoveryResolveTargets, PortsNamesAndErrors) {
    const std::vector<DiscoveredTarget> targets{
        {"db.example", 0, 2, 0, "eu", 1},  // the pool's default port
        {"10.0.0.7", 8080, 0, 5, "", 0},   // weight 0 counts as 1
        {"missing.example", 80, 1, 0, "", 0},
        {"one.example", 0, 1, 0, "", 0},
    };
    auto r = resolveTargets(targets, 5432, fakeDns);
    ASSERT_EQ(r.targets.size(), 5u);
    EXPECT_EQ(r.targets[0].address.toString(), "10.0.0.1:5432");
    EXPECT_EQ(r.targets[2].address.toString(), "[2001:db8::1]:5432");
    EXPECT_EQ(r.targets[2].host, "db.example");
    EXPECT_EQ(r.targets[2].priority, 1u);
    EXPECT_EQ(r.targets[3].address.toString(), "10.0.0.7:8080");
    EXPECT_EQ(r.targets[3].weight, 1u);
    EXPECT_EQ(r.targets[3].max_connections, 5u);
    EXPECT_EQ(r.unresolved, (std::vector<std::string>{"missing.example"}));
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE(r.errors[0].find("missing.example"), std::string::npos) << r.errors[0];

    // No port and no default port: skipped with an error, the rest goes on.
    auto no_default = resolveTargets(targets, 0, fakeDns);
    ASSERT_EQ(no_default.targets.size(), 1u);
    EXPECT_EQ(no_default.targets[0].address.toString(), "10.0.0.7:8080");
    ASSERT_EQ(no_default.errors.size(), 3u);
    EXPECT_EQ(no_default.errors[0],
              "target db.example has no port and [pool.backend] sets none; skipped");
}

TEST(DiscoveryResolveTargets, TheSystemResolverGivesEveryAddressOnce) {
    std::string error;
    auto lit = net::SocketAddress::resolveAll("::1", 9, &error);
    ASSERT_EQ(lit.size(), 1u);
    EXPECT_EQ(lit[0].toString(), "[::1]:9");
    auto local = net::SocketAddress::resolveAll("localhost", 80, &error);
    ASSERT_FALSE(local.empty()) << error;
    for (std::size_t i = 0; i < local.size(); ++i) {
        EXPECT_EQ(local[i].port(), 80);
        for (std::size_t j = i + 1; j < local.size(); ++j) EXPECT_FALSE(local[i] == local[j]);
    }
}

}  // namespace
}  // namespace postern::upstream
