// Passive health (`[pool.backend] passive_failures`): consecutive connect failures mark a dead
// backend down at once, long before the probe notices, so new clients stop paying a failed
// connect; the probe brings it back (after `healthy_threshold` successes); a pool without a probe
// ejects it for a while; passive_failures = 0 turns it off.
#include <map>
#include <set>
#include <thread>

#include "integration_fixture.h"

namespace postern::test {
namespace {

class PassiveHealthTest : public IntegrationTest {
protected:
    /** Access log lines of listener `front` so far. */
    static std::size_t accessLines(const PosternProcess& p) {
        return p.matchingLines(logLine({{"listener", "front"}}), Stream::Stdout).size();
    }

    struct Round {
        std::map<std::string, int> ids;  ///< backend id (or "<failed>") → connections
        std::size_t retried = 0;         ///< access log lines with attempts > 1
    };
    /** `n` sequential connections, each reading its backend's id; then waits for their access
     * log lines and counts those that needed more than one attempt (paid a failed connect). */
    static Round connectSequentially(PosternProcess& p, std::uint16_t port, int n) {
        Round r;
        const std::size_t lines_before = accessLines(p);
        const auto retried_before = retriedLines(p);
        for (int i = 0; i < n; ++i)
            ++r.ids[connectAndReadId("127.0.0.1", port, kIoTimeout).value_or("<failed>")];
        EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}}), kIoTimeout, Stream::Stdout,
                                  lines_before + static_cast<std::size_t>(n)))
            << "not every connection was logged";
        r.retried = retriedLines(p) - retried_before;
        return r;
    }
    static std::size_t retriedLines(const PosternProcess& p) {
        return p
            .matchingLines(LinePattern("(^|\\s)attempts=([2-9]|[1-9][0-9]+)(\\s|$)"),
                           Stream::Stdout)
            .size();
    }

    static LinePattern backendLine(std::string_view msg, const TestBackend& b) {
        return logLine({{"msg", std::string(msg)}, {"pool", "pp"}, {"backend", b.address()}});
    }
    static LinePattern passiveDownLine(const TestBackend& b) {
        return logLine({{"msg", "backend down"},
                        {"pool", "pp"},
                        {"backend", b.address()},
                        {"source", "passive"}});
    }
};

// The probe runs once at start (it marks both backends up) and then not for a minute: whatever
// takes the dead backend out of rotation below is passive health.
constexpr auto kSlowProbe =
    "interval = \"60s\"\ntimeout = \"1s\"\nhealthy_threshold = 2\nunhealthy_threshold = 3";

TEST_F(PassiveHealthTest, DeadBackendStopsCostingFailedConnectsBeforeTheProbeNotices) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    // passive_failures is left at its default (3).
    auto& p = runPostern(
        gatewayToml(1) + listenerToml("front", "pp") +
        poolToml("pp", addressesOf({&a, &b}), {}, "connect_timeout = \"2s\"", kSlowProbe));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b"}));

    b.stop();
    Round r = connectSequentially(p, port, 10);
    RecordProperty("failed_connects_of_10", static_cast<int>(r.retried));
    EXPECT_EQ(r.ids.count("<failed>"), 0u) << "every connection is saved by a retry";
    EXPECT_EQ(r.ids.count("b"), 0u);
    EXPECT_LE(r.retried, 3u) << "connections that paid a failed connect to the dead backend";
    const auto down = p.waitForLine(passiveDownLine(b), 3s);
    ASSERT_TRUE(down) << "no msg=\"backend down\" source=passive line for " << b.address();
    EXPECT_NE(down->find("consecutive connect failures"), std::string::npos) << *down;
    EXPECT_TRUE(p.matchingLines(backendLine("backend down", a), Stream::Stderr).empty());

    // Down means down: further clients never try it (the probe has not run since the start).
    Round again = connectSequentially(p, port, 6);
    EXPECT_EQ(again.retried, 0u);
    EXPECT_EQ(again.ids["a"], 6);
}

TEST_F(PassiveHealthTest, TheProbeBringsItBackAfterHealthyThresholdSuccesses) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    // A fast probe that would take 1000 failures to mark a backend down by itself: the mark-down
    // is passive, the return is the probe's (3 consecutive successes).
    auto& p = runPostern(
        gatewayToml(1) + listenerToml("front", "pp") +
        poolToml("pp", addressesOf({&a, &b}), {}, "connect_timeout = \"2s\"\npassive_failures = 2",
                 "interval = \"300ms\"\ntimeout = \"250ms\"\nhealthy_threshold = 3\n"
                 "unhealthy_threshold = 1000"));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b"}));
    const auto ups_before = p.matchingLines(backendLine("backend up", b), Stream::Stderr).size();

    b.stop();
    Round r = connectSequentially(p, port, 8);
    EXPECT_EQ(r.ids.count("<failed>"), 0u);
    EXPECT_LE(r.retried, 2u);
    ASSERT_TRUE(p.waitForLine(passiveDownLine(b), 3s));

    b.start();  // listening when it returns (it may retry the bind for a while first)
    const auto restarted = std::chrono::steady_clock::now();
    const auto up =
        p.waitForLine(backendLine("backend up", b), 10s, Stream::Stderr, ups_before + 1);
    ASSERT_TRUE(up) << "the probe did not bring " << b.address() << " back within 10 s";
    // Up after healthy_threshold (3) consecutive successful probes, 300 ms apart at the least
    // (timers never fire early), not after the first one (within 300 ms): the passive mark-down
    // left the health checker's bookkeeping as a probe mark-down would. 50 ms of the 600 are
    // left for a probe that came in between the bind and start() returning.
    const double up_after_ms = msSince(restarted);
    RecordProperty("up_after_restart_ms", static_cast<int>(up_after_ms));
    EXPECT_GE(up_after_ms, 550.0);

    Round after = connectSequentially(p, port, 6);
    EXPECT_GE(after.ids["b"], 2) << "the recovered backend gets its share again";
    EXPECT_EQ(after.retried, 0u);
}

TEST_F(PassiveHealthTest, WithoutAProbeTheBackendIsEjected) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    auto& p = runPostern(gatewayToml(1) + listenerToml("front", "pp") +
                         poolToml("pp", addressesOf({&a, &b}), {}, "connect_timeout = \"2s\""));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b"}));

    b.stop();
    Round r = connectSequentially(p, port, 10);
    EXPECT_EQ(r.ids.count("<failed>"), 0u);
    EXPECT_LE(r.retried, 3u);
    const auto down = p.waitForLine(passiveDownLine(b), 3s);
    ASSERT_TRUE(down);
    EXPECT_NE(down->find("ejection_ms=30000"), std::string::npos) << *down;

    // The last backend up in a pool without a probe stays: ejecting it would refuse everyone.
    a.stop();
    Round last = connectSequentially(p, port, 4);
    EXPECT_EQ(last.ids["<failed>"], 4);
    EXPECT_TRUE(p.matchingLines(passiveDownLine(a), Stream::Stderr).empty());
    EXPECT_TRUE(p.waitForLine(logLine({{"msg",
                                        "backend not ejected: it is the last one up in a "
                                        "pool without a probe"},
                                       {"backend", a.address()}}),
                              3s));
    EXPECT_TRUE(p.matchingLines(logLine({{"cause", "no_backend"}}), Stream::Stdout).empty());
}

TEST_F(PassiveHealthTest, ZeroTurnsItOff) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    auto& p = runPostern(gatewayToml(1) + listenerToml("front", "pp") +
                         poolToml("pp", addressesOf({&a, &b}), {},
                                  "connect_timeout = \"2s\"\npassive_failures = 0", kSlowProbe));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b"}));

    b.stop();
    Round r = connectSequentially(p, port, 10);
    EXPECT_EQ(r.ids.count("<failed>"), 0u);
    EXPECT_GT(r.retried, 3u) << "without passive health the dead backend keeps its turns";
    EXPECT_TRUE(p.matchingLines(passiveDownLine(b), Stream::Stderr).empty());
}

}  // namespace
}  // namespace postern::test
