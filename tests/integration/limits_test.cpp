// Per-connection limits: idle timeout and the listener's max_connections.
#include <future>
#include <thread>

#include "harness/payload.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class LimitsTest : public IntegrationTest {};

TEST_F(LimitsTest, IdleConnectionIsClosedWhileAnActiveOneIsKept) {
    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() + listenerToml("front", "echo", "idle_timeout = \"500ms\"") +
                         poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    struct IdleResult {
        bool connected = false;
        RecvResult r;
        double closed_after_ms = 0;
    };
    // The idle client waits in its own thread while the active one talks on this one.
    auto idle = std::async(std::launch::async, [port] {
        IdleResult out;
        const auto start = std::chrono::steady_clock::now();
        auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
        out.connected = c.connected();
        if (!out.connected) return out;
        out.r = c.recvAll(5s);
        out.closed_after_ms = msSince(start);
        return out;
    });

    auto active = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(active.connected());
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 40 && msSince(start) < 1500.0; ++i) {
        ASSERT_TRUE(echoRoundTrip(active, "ping " + std::to_string(i), 2s))
            << "active connection broken after " << msSince(start) << " ms";
        std::this_thread::sleep_for(100ms);  // the pace under test, not a wait for an event
    }
    EXPECT_TRUE(echoRoundTrip(active, "still here", 2s));

    const auto r = idle.get();
    ASSERT_TRUE(r.connected);
    EXPECT_TRUE(r.r.closed()) << "idle connection not closed within 5 s: " << toString(r.r.status);
    EXPECT_GE(r.closed_after_ms, 400.0);
    EXPECT_LE(r.closed_after_ms, 2000.0);
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"cause", "idle_timeout"}}), 3s,
                              Stream::Stdout))
        << "expected an access log line with cause=idle_timeout";
}

TEST_F(LimitsTest, ListenerMaxConnectionsRefusesTheExcessConnection) {
    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() + listenerToml("front", "echo", "max_connections = 2") +
                         poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    auto c1 = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    auto c2 = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(c1, "one"));
    ASSERT_TRUE(echoRoundTrip(c2, "two"));

    auto c3 = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    if (c3.connected()) {
        const auto start = std::chrono::steady_clock::now();
        c3.sendAll("three", 1s);  // may already fail: the connection is being refused
        const auto r = c3.recvAll(3s);
        EXPECT_TRUE(r.closed()) << "third connection not closed: " << toString(r.status);
        EXPECT_TRUE(r.data.empty()) << "third connection reached a backend";
        EXPECT_LT(msSince(start), 1000.0);
    }
    EXPECT_TRUE(p.waitForLine(
        logLine({{"listener", "front"}, {"cause", "refused_max_connections"}}), 3s,
        Stream::Stdout))
        << "expected an access log line with cause=refused_max_connections";
    EXPECT_EQ(b.acceptedConnections(), 2u);

    // Once one closes (its access log line says postern is done with it) a new one is served.
    const auto c1_addr = c1.localAddress();
    ASSERT_TRUE(c1_addr);
    c1.close();
    ASSERT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"client", c1_addr->toString()}}),
                              3s, Stream::Stdout))
        << "no access log line for the closed client " << c1_addr->toString();
    auto c4 = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    EXPECT_TRUE(echoRoundTrip(c4, randomBytes(4096, 4)));
    EXPECT_TRUE(echoRoundTrip(c2, "two again"));
}

}  // namespace
}  // namespace postern::test
