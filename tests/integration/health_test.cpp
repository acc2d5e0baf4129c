// Health probing: a killed backend stops getting traffic and gets it back when it returns; a pool
// with every backend down closes new clients at once.
#include <map>
#include <set>
#include <thread>

#include "integration_fixture.h"

namespace postern::test {
namespace {

class HealthTest : public IntegrationTest {
protected:
    static LinePattern backendLine(std::string_view msg, std::string_view pool,
                                  const TestBackend& b) {
        return logLine({{"msg", std::string(msg)}, {"pool", std::string(pool)},
                         {"backend", b.address()}});
    }
};

constexpr auto kProbe =
    "interval = \"200ms\"\ntimeout = \"150ms\"\nhealthy_threshold = 2\nunhealthy_threshold = 2";

TEST_F(HealthTest, KilledBackendGetsNoNewConnectionsAndTrafficAgainWhenBack) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b"),
        c(BackendMode::IdThenEcho, "c");
    // retries = 0: a connection sent to a dead backend would fail visibly instead of being
    // rescued by a retry.
    auto& p = runPostern(gatewayToml() + listenerToml("front", "hc") +
                         poolToml("hc", addressesOf({&a, &b, &c}), {},
                                  "connect_timeout = \"1s\"\nretries = 0", kProbe));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b", "c"}));

    const auto ups_before = p.matchingLines(backendLine("backend up", "hc", b), Stream::Stderr);
    const auto killed_at = std::chrono::steady_clock::now();
    b.stop();
    const auto down = p.waitForLine(backendLine("backend down", "hc", b), 3s);
    ASSERT_TRUE(down) << "no msg=\"backend down\" line for " << b.address() << " within 3 s";
    // unhealthy_threshold 2 at a 200 ms interval: about 0.4 s; the 3 s bound above leaves room
    // for a loaded (sanitizer) run, and the time is recorded for the XML report.
    RecordProperty("down_detected_ms", static_cast<int>(msSince(killed_at)));
    EXPECT_NE(down->find("reason="), std::string::npos) << *down;

    std::map<std::string, int> after_down;
    for (int i = 0; i < 12; ++i) {
        const auto id = connectAndReadId("127.0.0.1", port, kIoTimeout);
        ++after_down[id.value_or("<failed>")];
    }
    EXPECT_EQ(after_down["b"], 0);
    EXPECT_EQ(after_down["<failed>"], 0) << "connections sent to the dead backend";
    EXPECT_EQ(after_down["a"] + after_down["c"], 12);

    b.start();
    const auto up = p.waitForLine(backendLine("backend up", "hc", b), 5s, Stream::Stderr,
                                  ups_before.size() + 1);
    ASSERT_TRUE(up) << "no new msg=\"backend up\" line for " << b.address() << " within 5 s";

    std::map<std::string, int> after_up;
    for (int i = 0; i < 12; ++i) {
        const auto id = connectAndReadId("127.0.0.1", port, kIoTimeout);
        ++after_up[id.value_or("<failed>")];
    }
    EXPECT_GE(after_up["b"], 3) << "the recovered backend gets its share again";
    EXPECT_EQ(after_up["<failed>"], 0);
}

TEST_F(HealthTest, AllBackendsDownClosesNewClientsQuickly) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    auto& p = runPostern(gatewayToml() + listenerToml("front", "gone") +
                         poolToml("gone", addressesOf({&a, &b}), {}, "connect_timeout = \"1s\"",
                                  kProbe));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b"}));

    a.stop();
    b.stop();
    ASSERT_TRUE(p.waitForLine(backendLine("backend down", "gone", a), 3s));
    ASSERT_TRUE(p.waitForLine(backendLine("backend down", "gone", b), 3s));

    const auto start = std::chrono::steady_clock::now();
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected()) << "the listener itself must still accept, errno " << c.error();
    const auto r = c.recvAll(5s);
    const double closed_ms = msSince(start);
    EXPECT_TRUE(r.closed()) << "status " << toString(r.status);
    EXPECT_TRUE(r.data.empty());
    EXPECT_LT(closed_ms, 2000.0) << "client closed after " << closed_ms << " ms";

    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"cause", "no_backend"}}), 3s,
                              Stream::Stdout))
        << "expected an access log line with cause=no_backend";
}

}  // namespace
}  // namespace postern::test
