// Locality (gateway.region, region_order) through the real binary: traffic stays in the local
// region while it has a healthy backend, moves to the next region within the probe thresholds
// when it has none, comes back when it recovers; existing connections never move.
#include <map>

#include "balancing_support.h"

namespace postern::test {
namespace {

class LocalityTest : public IntegrationTest {
protected:
    static bool waitBackendLine(PosternProcess& p, std::string_view msg, const TestBackend& b,
                                Millis timeout, std::size_t occurrence = 1) {
        return p
            .waitForLine(
                lineWith({{"msg", std::string(msg)}, {"pool", "pool"}, {"backend", b.address()}}),
                timeout, Stream::Stderr, occurrence)
            .has_value();
    }
    /** Ids of `n` fresh connections, counted. */
    static std::map<std::string, int> spread(std::uint16_t port, int n) {
        std::map<std::string, int> seen;
        for (int i = 0; i < n; ++i) ++seen[readId(port).value_or("<refused>")];
        return seen;
    }
};

// 200 ms probes, 2 failures to go down, 2 successes to come back: ~0.4 s either way.
constexpr auto kProbe =
    "plugin = \"tcp\"\ninterval = \"200ms\"\ntimeout = \"150ms\"\nhealthy_threshold = "
    "2\nunhealthy_threshold = 2\n";

TEST_F(LocalityTest, LocalFirstThenTheNextRegionWithinTheProbeThresholdsAndBackAgain) {
    TestBackend local(BackendMode::IdThenEcho, "eu-west"),
        north(BackendMode::IdThenEcho, "eu-north"), us(BackendMode::IdThenEcho, "us-east");
    PoolSpec pool;
    pool.balancer = "least_connections";
    // Listed farthest first: the order of the targets must not matter.
    pool.targets = {regionTarget(us, "us-east"), regionTarget(north, "eu-north"),
                    regionTarget(local, "eu-west")};
    pool.extra = "region_order = [\"eu-west\", \"eu-north\", \"us-east\"]\n";
    // No retries: a connection sent to a dead backend fails visibly instead of being rescued.
    pool.backend = "connect_timeout = \"1s\"\nretries = 0\n";
    pool.probe = kProbe;
    auto& p = runPostern(gatewayToml(2, "region = \"eu-west\"\n") + listenerToml("front", "pool") +
                         poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    for (const auto* b : {&local, &north, &us})
        ASSERT_TRUE(waitBackendLine(p, "backend up", *b, kStartTimeout));

    // All local, even though least_connections alone would spread them.
    std::vector<BlockingClient> held;
    for (int i = 0; i < 6; ++i)
        EXPECT_EQ(readId(port, {}, &held), std::optional<std::string>("eu-west"));
    EXPECT_EQ(spread(port, 10)["eu-west"], 10);

    // The local backend dies: within the thresholds traffic moves to eu-north, not us-east.
    const auto killed_at = std::chrono::steady_clock::now();
    local.stop();
    held.clear();
    ASSERT_TRUE(waitBackendLine(p, "backend down", local, 3s));
    const double moved_ms = msSince(killed_at);
    EXPECT_LT(moved_ms, 3000.0) << "2 failures at 200 ms (plenty of slack for a loaded CI machine)";
    EXPECT_EQ(spread(port, 10)["eu-north"], 10);

    // eu-north dies too: us-east, the last region in region_order; then eu-north is back.
    north.stop();
    ASSERT_TRUE(waitBackendLine(p, "backend down", north, 3s));
    EXPECT_EQ(spread(port, 5)["us-east"], 5);
    north.start();
    ASSERT_TRUE(waitBackendLine(p, "backend up", north, 5s, 2));
    EXPECT_EQ(spread(port, 5)["eu-north"], 5);

    // An existing connection to eu-north...
    std::vector<BlockingClient> north_conn;
    ASSERT_EQ(readId(port, {}, &north_conn), std::optional<std::string>("eu-north"));

    // The local backend recovers: new connections go home; the eu-north one stays where it is.
    local.start();
    ASSERT_TRUE(waitBackendLine(p, "backend up", local, 5s, 2));
    EXPECT_EQ(spread(port, 10)["eu-west"], 10);
    EXPECT_TRUE(echoRoundTrip(north_conn.front(), "still on eu-north\n"));
    EXPECT_EQ(accessLines(p, "cause", "connect_failed"), 0u);
}

TEST_F(LocalityTest, AFullLocalRegionSpillsOverByCapacity) {
    TestBackend local(BackendMode::IdThenEcho, "local"), remote(BackendMode::IdThenEcho, "remote");
    PoolSpec pool;
    pool.targets = {
        "{ address = \"" + local.address() + "\", region = \"here\", max_connections = 2 }",
        regionTarget(remote, "there")};
    auto& p = runPostern(gatewayToml(2, "region = \"here\"\n") + listenerToml("front", "pool") +
                         poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    std::vector<BlockingClient> held;
    EXPECT_EQ(readId(port, {}, &held), std::optional<std::string>("local"));
    EXPECT_EQ(readId(port, {}, &held), std::optional<std::string>("local"));
    EXPECT_EQ(readId(port, {}, &held), std::optional<std::string>("remote"));
    held.erase(held.begin());
    ASSERT_TRUE(waitAccessLines(p, "backend", local.address(), 1));
    EXPECT_EQ(readId(port, {}, &held), std::optional<std::string>("local"));
}

}  // namespace
}  // namespace postern::test
