// Capacity (max_connections_per_backend, per-target max_connections, utilization mode with the
// http probe) and client IP affinity through the real binary.
#include <map>
#include <set>

#include "balancing_support.h"

namespace postern::test {
namespace {

class CapacityAffinityTest : public IntegrationTest {
protected:
    std::uint16_t start(PosternProcess& p) {
        const auto port = p.listeningPort("front", kStartTimeout);
        EXPECT_TRUE(p.waitReady(kStartTimeout));
        return port;
    }
    /** Waits for `msg="<msg>"` about `backend` in pool "pool" (the `occurrence`-th one). */
    static bool waitBackendLine(PosternProcess& p, std::string_view msg, const std::string& backend,
                                Millis timeout, std::size_t occurrence = 1) {
        return p
            .waitForLine(
                lineWith({{"msg", std::string(msg)}, {"pool", "pool"}, {"backend", backend}}),
                timeout, Stream::Stderr, occurrence)
            .has_value();
    }
};

constexpr auto kFastProbe =
    "interval = \"200ms\"\ntimeout = \"500ms\"\nhealthy_threshold = 2\nunhealthy_threshold = 2\n";

TEST_F(CapacityAffinityTest, TwoBackendsWithALimitOfTwoRefuseTheFifthConnectionUntilOneCloses) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    PoolSpec pool;
    pool.targets = quoted({&a, &b});
    pool.extra = "max_connections_per_backend = 2\n";
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = start(p);
    ASSERT_NE(port, 0);

    std::vector<BlockingClient> held;
    std::map<std::string, int> count;
    for (int i = 0; i < 4; ++i) {
        const auto id = readId(port, {}, &held);
        ASSERT_TRUE(id) << "connection " << i;
        ++count[*id];
    }
    EXPECT_EQ(count["a"], 2);
    EXPECT_EQ(count["b"], 2);
    // The fifth is accepted by the kernel and closed by postern at once, counted as capacity.
    EXPECT_FALSE(readId(port).has_value());
    ASSERT_TRUE(waitAccessLines(p, "cause", "no_capacity", 1));
    for (const auto& client : held) EXPECT_TRUE(client.connected());

    held[0].close();
    ASSERT_TRUE(waitAccessLines(p, "cause", "client_fin", 1));
    const auto again = readId(port, {}, &held);
    ASSERT_TRUE(again);
    EXPECT_EQ(accessLines(p, "cause", "no_capacity"), 1u);
    // The held connections still relay.
    for (std::size_t i = 1; i < held.size(); ++i)
        EXPECT_TRUE(echoRoundTrip(held[i], "still here\n")) << i;
}

TEST_F(CapacityAffinityTest, PerTargetMaxConnectionsIsHonoured) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    PoolSpec pool;
    pool.balancer = "least_connections";
    pool.targets = {"{ address = \"" + a.address() + "\", max_connections = 1 }",
                    "{ address = \"" + b.address() + "\", max_connections = 3 }"};
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = start(p);
    ASSERT_NE(port, 0);
    std::vector<BlockingClient> held;
    std::map<std::string, int> count;
    for (int i = 0; i < 4; ++i) {
        const auto id = readId(port, {}, &held);
        ASSERT_TRUE(id) << "connection " << i;
        ++count[*id];
    }
    EXPECT_EQ(count["a"], 1);
    EXPECT_EQ(count["b"], 3);
    EXPECT_FALSE(readId(port).has_value());
    EXPECT_TRUE(waitAccessLines(p, "cause", "no_capacity", 1));
}

TEST_F(CapacityAffinityTest, UtilizationModeSkipsABackendWhoseProbeReports95Percent) {
    PythonServer hot(PythonServer::Kind::Http, "hot", "200 95%");
    PythonServer cool(PythonServer::Kind::Http, "cool", "200 0.10");
    PoolSpec pool;
    pool.targets = {"\"" + hot.address() + "\"", "\"" + cool.address() + "\""};
    pool.extra = "balancing_mode = \"utilization\"\nmax_utilization = 0.8\n";
    pool.probe = std::string("plugin = \"http\"\npath = \"/health\"\n") + kFastProbe;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = start(p);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(waitBackendLine(p, "backend up", cool.address(), kStartTimeout));
    ASSERT_TRUE(waitBackendLine(p, "backend up", hot.address(), kStartTimeout));
    ASSERT_TRUE(waitBackendLine(p, "backend over max_utilization", hot.address(), kStartTimeout));

    std::map<std::string, int> seen;
    for (int i = 0; i < 10; ++i) ++seen[httpGetBody(port).value_or("<refused>")];
    EXPECT_EQ(seen["cool"], 10) << "hot got " << seen["hot"] << ", refused " << seen["<refused>"];

    // The hot backend cools down: it gets traffic again.
    hot.setState("200 20%");
    ASSERT_TRUE(waitBackendLine(p, "backend under max_utilization", hot.address(), 5s));
    seen.clear();
    for (int i = 0; i < 10; ++i) ++seen[httpGetBody(port).value_or("<refused>")];
    EXPECT_GE(seen["hot"], 3);
    EXPECT_GE(seen["cool"], 3);

    // Both hot: nothing has capacity, connections are refused and counted as capacity.
    hot.setState("200 0.99");
    cool.setState("200 0.97");
    ASSERT_TRUE(waitBackendLine(p, "backend over max_utilization", hot.address(), 5s, 2));
    ASSERT_TRUE(waitBackendLine(p, "backend over max_utilization", cool.address(), 5s));
    EXPECT_FALSE(httpGetBody(port).has_value());
    EXPECT_TRUE(waitAccessLines(p, "cause", "no_capacity", 1));
    // The probe sent what the config asked for.
    EXPECT_NE(hot.requests().find("GET /health HTTP/1.1"), std::string::npos) << hot.requests();
    EXPECT_NE(hot.requests().find("Connection: close"), std::string::npos) << hot.requests();
}

TEST_F(CapacityAffinityTest, FiveClientAddressesTimesTenConnectionsEachStayOnOneBackend) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b"),
        c(BackendMode::IdThenEcho, "c");
    PoolSpec pool;
    pool.targets = quoted({&a, &b, &c});
    pool.extra = "affinity = \"client_ip\"\n";  // with round_robin, which alone would rotate
    pool.probe = std::string("plugin = \"tcp\"\n") + kFastProbe;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = start(p);
    ASSERT_NE(port, 0);
    for (const auto* b2 : {&a, &b, &c})
        ASSERT_TRUE(waitBackendLine(p, "backend up", b2->address(), kStartTimeout));

    std::map<std::string, std::set<std::string>> homes;
    for (int round = 0; round < 10; ++round) {
        for (int client = 1; client <= 5; ++client) {
            const std::string ip = "127.0.0." + std::to_string(100 + client);
            const auto id = readId(port, ip);
            ASSERT_TRUE(id) << ip << " round " << round;
            homes[ip].insert(*id);
        }
    }
    for (const auto& [ip, ids] : homes)
        EXPECT_EQ(ids.size(), 1u) << ip << " was sent to several backends";

    // Many clients spread over the backends (affinity is not "everyone to one backend").
    std::set<std::string> used;
    for (int client = 1; client <= 30; ++client)
        if (auto id = readId(port, "127.0.1." + std::to_string(client))) used.insert(*id);
    EXPECT_GE(used.size(), 2u);

    // A client's backend goes down: it moves (and stays) elsewhere; the others do not move.
    const std::string moved_ip = "127.0.0.101";
    const std::string old_home = *homes[moved_ip].begin();
    TestBackend* victim = old_home == "a" ? &a : old_home == "b" ? &b : &c;
    victim->stop();
    ASSERT_TRUE(waitBackendLine(p, "backend down", victim->address(), 5s));
    std::set<std::string> new_home;
    for (int i = 0; i < 5; ++i)
        if (auto id = readId(port, moved_ip)) new_home.insert(*id);
    ASSERT_EQ(new_home.size(), 1u);
    EXPECT_NE(*new_home.begin(), old_home);
    for (const auto& [ip, ids] : homes) {
        if (*ids.begin() == old_home) continue;
        EXPECT_EQ(readId(port, ip), std::optional<std::string>(*ids.begin())) << ip << " moved";
    }
    // It comes back: so does the client.
    victim->start();
    ASSERT_TRUE(waitBackendLine(p, "backend up", victim->address(), 5s, 2));
    EXPECT_EQ(readId(port, moved_ip), std::optional<std::string>(old_home));
}

}  // namespace
}  // namespace postern::test
