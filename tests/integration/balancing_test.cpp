// Backend choice: round-robin spread and connect-failure retries.
#include <map>

#include "integration_fixture.h"

namespace postern::test {
namespace {

class BalancingTest : public IntegrationTest {};

TEST_F(BalancingTest, RoundRobinSpreadsThirtyConnectionsOverThreeBackends) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b"),
        c(BackendMode::IdThenEcho, "c");
    auto& p = runPostern(gatewayToml() + listenerToml("front", "three") +
                         poolToml("three", addressesOf({&a, &b, &c})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    std::map<std::string, int> seen;
    int failed = 0;
    for (int i = 0; i < 30; ++i) {
        const auto id = connectAndReadId("127.0.0.1", port, kIoTimeout);
        if (id) {
            ++seen[*id];
        } else {
            ++failed;
        }
    }
    EXPECT_EQ(failed, 0);
    for (const std::string id : {"a", "b", "c"}) {
        EXPECT_GE(seen[id], 9) << "backend " << id;
        EXPECT_LE(seen[id], 11) << "backend " << id;
    }
    EXPECT_EQ(seen.size(), 3u);
}

TEST_F(BalancingTest, ConnectFailureIsRetriedOnAnotherBackend) {
    const std::uint16_t dead = deadPort();
    ASSERT_NE(dead, 0);
    TestBackend live(BackendMode::IdThenEcho, "live");
    auto& p = runPostern(
        gatewayToml() + listenerToml("front", "mixed") +
        poolToml("mixed", {"127.0.0.1:" + std::to_string(dead), live.address()}, {},
                 "connect_timeout = \"2s\"\nretries = 2"));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    int ok = 0;
    for (int i = 0; i < 10; ++i) {
        const auto id = connectAndReadId("127.0.0.1", port, kIoTimeout);
        EXPECT_EQ(id, std::optional<std::string>("live")) << "connection " << i;
        if (id == std::optional<std::string>("live")) ++ok;
    }
    EXPECT_EQ(ok, 10);
    EXPECT_EQ(live.acceptedConnections(), 10u);
    // Every connection ended normally: none was reported as a connect failure.
    EXPECT_TRUE(p.matchingLines(LinePattern(fieldPattern("cause", "connect_failed")), Stream::Stdout)
                    .empty());
}

}  // namespace
}  // namespace postern::test
