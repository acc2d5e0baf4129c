// Discovery priorities and names through the real binary: `static` targets with `priority`; the
// worse group gets connections only while no backend of the better one is up, and gives them back
// when one recovers. A target naming a host becomes a backend per address, named in the log.
#include <map>

#include "balancing_support.h"

namespace postern::test {
namespace {

class DiscoveryPriorityTest : public IntegrationTest {
protected:
    static bool waitBackendLine(PosternProcess& p, std::string_view msg, const TestBackend& b,
                                Millis timeout, std::size_t occurrence = 1) {
        return p
            .waitForLine(
                lineWith({{"msg", std::string(msg)}, {"pool", "pool"}, {"backend", b.address()}}),
                timeout, Stream::Stderr, occurrence)
            .has_value();
    }
    static std::map<std::string, int> spread(std::uint16_t port, int n) {
        std::map<std::string, int> seen;
        for (int i = 0; i < n; ++i) ++seen[readId(port).value_or("<refused>")];
        return seen;
    }
};

constexpr auto kProbe =
    "plugin = \"tcp\"\ninterval = \"200ms\"\ntimeout = \"150ms\"\nhealthy_threshold = "
    "2\nunhealthy_threshold = 2\n";

std::string priorityTarget(const TestBackend& b, int priority) {
    return "{ address = \"" + b.address() + "\", priority = " + std::to_string(priority) + " }";
}

TEST_F(DiscoveryPriorityTest, TheBackupGroupServesOnlyWhileTheBestGroupIsDown) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b"),
        backup(BackendMode::IdThenEcho, "backup");
    PoolSpec pool;
    // Listed first: the order of the targets must not matter.
    pool.targets = {priorityTarget(backup, 1), priorityTarget(a, 0), "\"" + b.address() + "\""};
    pool.backend = "connect_timeout = \"1s\"\nretries = 0\n";
    pool.probe = kProbe;
    auto& p = runPostern(gatewayToml(2) + listenerToml("front", "pool") + poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    for (const auto* x : {&a, &b, &backup})
        ASSERT_TRUE(waitBackendLine(p, "backend up", *x, kStartTimeout));

    auto seen = spread(port, 12);
    EXPECT_EQ(seen["a"] + seen["b"], 12) << "round robin over the best group only";
    EXPECT_GT(seen["a"], 0);
    EXPECT_GT(seen["b"], 0);

    a.stop();
    ASSERT_TRUE(waitBackendLine(p, "backend down", a, 5s));
    EXPECT_EQ(spread(port, 6)["b"], 6) << "one of the best group left is enough";
    b.stop();
    ASSERT_TRUE(waitBackendLine(p, "backend down", b, 5s));
    EXPECT_EQ(spread(port, 6)["backup"], 6);

    a.start();
    ASSERT_TRUE(waitBackendLine(p, "backend up", a, 5s, 2));
    EXPECT_EQ(spread(port, 6)["a"], 6) << "back to the best group";
}

TEST_F(DiscoveryPriorityTest, ANamedTargetIsABackendPerAddressKeepingItsName) {
    TestBackend named(BackendMode::IdThenEcho, "named");
    PoolSpec pool;
    pool.targets = {"\"localhost:" + std::to_string(named.port()) + "\""};
    auto& p = runPostern(gatewayToml(1) + listenerToml("front", "pool") + poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    // localhost is 127.0.0.1 here (and may also be ::1, which then is a backend of its own).
    ASSERT_TRUE(p.waitForLine(lineWith({{"msg", "backend added"},
                                        {"backend", named.address()},
                                        {"host", "localhost"}}),
                              kIoTimeout, Stream::Stderr)
                    .has_value());
    EXPECT_EQ(readId(port), std::optional<std::string>("named"));
}

}  // namespace
}  // namespace postern::test
