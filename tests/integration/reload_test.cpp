// In-place reload (SIGHUP) and draining with deadlines, through the real binary: backends and
// listeners added and removed, a kept listener's socket never closed, certificates rotated under a
// kept TLS listener, invalid reloads rejected with positions while the old config serves, a kept
// backend not probed again, drained connections cut at their pool's deadline and spread over its
// last 10 %, shutdown cutting each connection at its own pool's deadline.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <regex>
#include <thread>

#include "certs/test_pki.h"
#include "harness/logfmt.h"
#include "harness/payload.h"
#include "harness/temp_dir.h"
#include "integration_fixture.h"
#include "tls_peers/tls_client.h"

namespace postern::test {
namespace {

using Clock = std::chrono::steady_clock;

class ReloadTest : public IntegrationTest {
protected:
    PosternProcess& start(const std::string& toml) {
        auto& p = runPostern(toml);
        p_ = &p;
        return p;
    }

    /** Writes `toml` over the running config, sends SIGHUP, waits for the outcome line. */
    ::testing::AssertionResult reloadWith(const std::string& toml, bool expect_applied) {
        p_->writeConfig(toml);
        if (!p_->sendSignal(SIGHUP))
            return ::testing::AssertionFailure() << "postern is not running";
        ++outcomes_;
        static const std::regex outcome("configuration reload(ed| rejected)");
        auto line = p_->waitForLine(outcome, kStartTimeout, Stream::Stderr, outcomes_);
        if (!line) return ::testing::AssertionFailure() << "no reload outcome logged";
        const bool applied = line->find("configuration reloaded") != std::string::npos;
        if (applied != expect_applied)
            return ::testing::AssertionFailure() << "unexpected reload outcome: " << *line;
        return ::testing::AssertionSuccess();
    }
    ::testing::AssertionResult reload(const std::string& toml) { return reloadWith(toml, true); }
    ::testing::AssertionResult reloadRejected(const std::string& toml) {
        return reloadWith(toml, false);
    }

    std::uint16_t ready(std::string_view listener) {
        const auto port = p_->listeningPort(listener, kStartTimeout);
        if (port == 0 || !p_->waitReady(kStartTimeout)) return 0;
        return port;
    }

    /** The port of the `occurrence`-th "listening listener=<name>" line. */
    std::uint16_t listeningPortAt(std::string_view listener, std::size_t occurrence) {
        auto line =
            p_->waitForLine(logLine({{"msg", "listening"}, {"listener", std::string(listener)}}),
                            kStartTimeout, Stream::Stderr, occurrence);
        if (!line) return 0;
        auto address = logfmtField(*line, "address");
        if (!address) return 0;
        return static_cast<std::uint16_t>(std::stoi(address->substr(address->rfind(':') + 1)));
    }

    std::size_t count(const LinePattern& pattern, Stream s) const {
        return p_->matchingLines(pattern, s).size();
    }

    /** Waits for `n` lines matching `pattern` (an access-log line is written just after its
     * connection closed) and returns every matching line. */
    std::vector<std::string> waitLines(const LinePattern& pattern, Stream s, std::size_t n) {
        if (n > 0 && !p_->waitForLine(pattern, kIoTimeout, s, n)) return {};
        return p_->matchingLines(pattern, s);
    }

    PosternProcess* p_ = nullptr;
    std::size_t outcomes_ = 0;
};

/** Milliseconds since midnight (UTC) of a log line's `time=` (…T06:02:49.270Z); -1 if none. */
double lineMs(const std::string& line) {
    const auto t = logfmtField(line, "time");
    if (!t || t->size() < 23) return -1;
    const int h = std::stoi(t->substr(11, 2));
    const int m = std::stoi(t->substr(14, 2));
    return ((h * 60.0 + m) * 60.0) * 1000.0 + std::stod(t->substr(17, 6)) * 1000.0;
}

/** Milliseconds from the line `from` to the line `to`, by postern's own clock. */
double between(const std::string& from, const std::string& to) {
    double d = lineMs(to) - lineMs(from);
    if (d < -43200000.0) d += 86400000.0;  // across midnight
    return d;
}

/** A client connection to an IdThenEcho backend, with the id it got. */
struct Tagged {
    BlockingClient client;
    std::string id;
};

std::vector<Tagged> openTagged(std::uint16_t port, int n) {
    std::vector<Tagged> out;
    for (int i = 0; i < n; ++i) {
        Tagged t{BlockingClient::connect("127.0.0.1", port, kIoTimeout), {}};
        if (auto id = readLine(t.client, kIoTimeout)) t.id = *id;
        out.push_back(std::move(t));
    }
    return out;
}

/** Waits (in threads) for each client to be closed by the peer; ms after `from`, -1 if not. */
std::vector<double> closeTimes(std::vector<BlockingClient*> clients, Clock::time_point from,
                               Millis timeout) {
    std::vector<double> times(clients.size(), -1.0);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < clients.size(); ++i) {
        threads.emplace_back([&, i] {
            const auto r = clients[i]->recvAll(timeout);
            if (r.closed()) times[i] = msSince(from);
        });
    }
    for (auto& t : threads) t.join();
    return times;
}

std::string drainPool(const std::string& name, const std::vector<std::string>& targets,
                      const std::string& drain) {
    return poolToml(name, targets, "drain_timeout = \"" + drain + "\"");
}

TEST_F(ReloadTest, RemovedBackendDrainsToItsDeadlineSpreadOverTheLastTenPercent) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    TestBackend b(BackendMode::IdThenEcho, "b");
    const std::string head = gatewayToml(2) + listenerToml("front", "app");
    start(head + drainPool("app", addressesOf({&a, &b}), "2s"));
    const auto port = ready("front");
    ASSERT_NE(port, 0);

    auto conns = openTagged(port, 12);
    std::vector<BlockingClient*> on_b, on_a;
    for (auto& t : conns) {
        ASSERT_FALSE(t.id.empty()) << "a connection got no backend id";
        (t.id == "b" ? on_b : on_a).push_back(&t.client);
    }
    ASSERT_GE(on_b.size(), 4u);
    ASSERT_GE(on_a.size(), 4u);

    const auto reloaded_at = Clock::now();
    ASSERT_TRUE(reload(head + drainPool("app", addressesOf({&a}), "2s")));
    // New connections go to the new set only.
    for (int i = 0; i < 8; ++i) EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), "a");
    // The removed backend's connections still work while they drain.
    for (auto* c : on_b) EXPECT_TRUE(echoRoundTrip(*c, "draining"));

    const auto removed = p_->waitForLine(
        logLine({{"msg", "backend removed"}, {"backend", b.address()}}), kIoTimeout);
    ASSERT_TRUE(removed);
    for (double t : closeTimes(on_b, reloaded_at, 10s)) EXPECT_GE(t, 0.0) << "not closed";
    // Cut times by postern's clock, from the moment the backend left the pool.
    const auto cuts = waitLines(logLine({{"backend", b.address()}, {"cause", "drained"}}),
                                Stream::Stdout, on_b.size());
    ASSERT_EQ(cuts.size(), on_b.size());
    double first = 1e9, last = 0;
    for (const auto& line : cuts) {
        const double t = between(*removed, line);
        EXPECT_GE(t, 1800.0 - 2) << "cut before the last 10 % of drain_timeout: " << line;
        EXPECT_LE(t, 2200.0 + 50) << "cut later than drain_timeout + 10 %: " << line;
        first = std::min(first, t);
        last = std::max(last, t);
    }
    EXPECT_GE(last - first, 5.0) << "the drained connections were closed all at once";
    // The kept backend's connections are untouched.
    for (auto* c : on_a) EXPECT_TRUE(echoRoundTrip(*c, "kept"));
    EXPECT_EQ(count(logLine({{"backend", a.address()}, {"cause", "drained"}}), Stream::Stdout), 0u);
}

TEST_F(ReloadTest, ABackendThatComesBackBeforeItsDeadlineStopsDraining) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    TestBackend b(BackendMode::IdThenEcho, "b");
    const std::string head = gatewayToml(2) + listenerToml("front", "app");
    start(head + drainPool("app", addressesOf({&a, &b}), "1s"));
    const auto port = ready("front");
    ASSERT_NE(port, 0);
    auto conns = openTagged(port, 6);
    std::vector<BlockingClient*> on_b;
    for (auto& t : conns)
        if (t.id == "b") on_b.push_back(&t.client);
    ASSERT_FALSE(on_b.empty());
    ASSERT_TRUE(reload(head + drainPool("app", addressesOf({&a}), "1s")));
    ASSERT_TRUE(reload(head + drainPool("app", addressesOf({&a, &b}), "1s")));
    ASSERT_TRUE(
        p_->waitForLine(LinePattern::containing("backend back: its drain ends"), kIoTimeout));
    // Past the deadline the connections are still open and working.
    const auto r = on_b.front()->recvSome(1500ms);
    EXPECT_EQ(r.status, IoStatus::Timeout) << "closed although its backend came back";
    for (auto* c : on_b) EXPECT_TRUE(echoRoundTrip(*c, "still here"));
    EXPECT_EQ(count(logLine({{"cause", "drained"}}), Stream::Stdout), 0u);
}

TEST_F(ReloadTest, ZeroDrainTimeoutClosesARemovedBackendsConnectionsAtOnce) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    TestBackend b(BackendMode::IdThenEcho, "b");
    const std::string head = gatewayToml(2) + listenerToml("front", "app");
    start(head + drainPool("app", addressesOf({&a, &b}), "0s"));
    const auto port = ready("front");
    ASSERT_NE(port, 0);
    auto conns = openTagged(port, 4);
    std::vector<BlockingClient*> on_b;
    for (auto& t : conns)
        if (t.id == "b") on_b.push_back(&t.client);
    ASSERT_FALSE(on_b.empty());
    const auto reloaded_at = Clock::now();
    ASSERT_TRUE(reload(head + drainPool("app", addressesOf({&a}), "0s")));
    for (double t : closeTimes(on_b, reloaded_at, 10s)) {
        EXPECT_GE(t, 0.0) << "not closed";
        EXPECT_LE(t, 1500.0) << "drain_timeout 0s must close at once";
    }
}

TEST_F(ReloadTest, ListenersAreAddedAndRemovedWhileAKeptListenerNeverRefuses) {
    TestBackend echo(BackendMode::Echo);
    const std::string pool = drainPool("echo", addressesOf({&echo}), "1s");
    const std::string base = gatewayToml(2) + listenerToml("keep", "echo");
    start(base + listenerToml("gone", "echo") + pool);
    const auto keep = ready("keep");
    const auto gone = p_->listeningPort("gone", kStartTimeout);
    ASSERT_NE(keep, 0);
    ASSERT_NE(gone, 0);
    auto on_gone = BlockingClient::connect("127.0.0.1", gone, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(on_gone, "before"));

    // A client connecting continuously to the kept listener through the reloads.
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, failed{0};
    std::thread hammer([&] {
        for (int i = 0; i < 100000 && !stop.load(); ++i) {
            auto c = BlockingClient::connect("127.0.0.1", keep, kIoTimeout);
            if (echoRoundTrip(c, "x"))
                ++ok;
            else
                ++failed;
        }
    });
    const auto reloaded_at = Clock::now();
    ASSERT_TRUE(reload(base + listenerToml("added", "echo") + pool));
    const auto added = listeningPortAt("added", 1);
    ASSERT_NE(added, 0);
    auto on_added = BlockingClient::connect("127.0.0.1", added, kIoTimeout);
    EXPECT_TRUE(echoRoundTrip(on_added, "new listener"));
    // The removed listener refuses at once; its open connection works on, then drains.
    auto refused = BlockingClient::connect("127.0.0.1", gone, kIoTimeout);
    EXPECT_FALSE(refused.connected());
    EXPECT_EQ(refused.error(), ECONNREFUSED);
    EXPECT_TRUE(echoRoundTrip(on_gone, "draining"));
    // And back again, and away again: the kept listener's socket stays through all of it.
    ASSERT_TRUE(reload(base + pool));
    ASSERT_TRUE(reload(base + listenerToml("added", "echo") + pool));
    EXPECT_GE(closeTimes({&on_gone}, reloaded_at, 10s)[0], 0.0)
        << "the drained connection is still open";
    const auto closed =
        p_->waitForLine(logLine({{"msg", "listener closed"}, {"listener", "gone"}}), kIoTimeout);
    const auto cut =
        waitLines(logLine({{"listener", "gone"}, {"cause", "drained"}}), Stream::Stdout, 1);
    ASSERT_TRUE(closed);
    ASSERT_EQ(cut.size(), 1u);
    EXPECT_GE(between(*closed, cut[0]), 900.0 - 2);
    EXPECT_LE(between(*closed, cut[0]), 1100.0 + 50);
    // Keep hammering until well past the reloads.
    for (int i = 0; i < 1000 && ok.load() < 200; ++i) std::this_thread::sleep_for(5ms);
    stop.store(true);
    hammer.join();
    EXPECT_EQ(failed.load(), 0) << "connections to the kept listener failed during reloads";
    EXPECT_GE(ok.load(), 200);
    EXPECT_EQ(count(logLine({{"msg", "listening"}, {"listener", "keep"}}), Stream::Stderr), 1u)
        << "the kept listener was bound again";
}

TEST_F(ReloadTest, InvalidReloadsAreRejectedWithPositionsAndTheOldConfigServes) {
    TestBackend echo(BackendMode::Echo);
    TestBackend squatter(BackendMode::Echo);  // holds an address a listener cannot bind
    const std::string good =
        gatewayToml(2) + listenerToml("front", "echo") + poolToml("echo", addressesOf({&echo}));
    start(good);
    const auto port = ready("front");
    ASSERT_NE(port, 0);

    ASSERT_TRUE(reloadRejected(good + "[[pool]\n"));
    EXPECT_TRUE(p_->waitForLine(std::regex("reload error.*postern\\.toml:[0-9]+:[0-9]+: "), 2s));

    TempDir dir("postern-reload-missing");
    const std::string tls =
        std::string("[[listener]]\nname = \"tls\"\nbind = [\"127.0.0.1:0\"]\n") +
        "protocol = \"tls\"\npool = \"echo\"\n[listener.tls]\ncertificates = " + "[{ cert = \"" +
        (dir.path() / "none.pem").string() + "\", key = \"" + (dir.path() / "none.key").string() +
        "\" }]\n";
    ASSERT_TRUE(reloadRejected(good + tls));
    EXPECT_TRUE(p_->waitForLine(
        std::regex("reload error.*postern\\.toml:[0-9]+:[0-9]+: .*none\\.pem"), 2s));

    ASSERT_TRUE(
        reloadRejected(good + listenerToml("clash", "echo", {}, "\"" + squatter.address() + "\"")));
    EXPECT_TRUE(p_->waitForLine(
        std::regex("reload error.*postern\\.toml:[0-9]+:[0-9]+: cannot bind listener 'clash' to " +
                   std::regex_replace(squatter.address(), std::regex("\\."), "\\.")),
        2s));

    // Still the old generation, serving.
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    EXPECT_TRUE(echoRoundTrip(c, "still here"));
    EXPECT_EQ(count(logLine({{"msg", "listening"}, {"listener", "clash"}}), Stream::Stderr), 0u);
    // And a good one after the bad ones applies.
    ASSERT_TRUE(reload(good));
}

TEST_F(ReloadTest, AKeptBackendKeepsItsHealthAndIsNotProbedAgain) {
    TestBackend echo(BackendMode::Echo);
    // One check a minute, five successes to come back up: a backend probed from scratch would be
    // down (or at least checked again) right after the reload.
    const std::string probe = "interval = \"60s\"\ntimeout = \"2s\"\nhealthy_threshold = 5";
    const std::string head = gatewayToml(2) + listenerToml("front", "echo");
    start(head + poolToml("echo", addressesOf({&echo}), "drain_timeout = \"5s\"", {}, probe));
    const auto port = ready("front");
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p_->waitForLine(logLine({{"msg", "backend up"}}), kStartTimeout));
    auto before = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(before, "up"));
    const auto accepted = echo.acceptedConnections();  // one probe + this client

    // A changed pool setting (drain_timeout) keeps the pool and its backends.
    ASSERT_TRUE(
        reload(head + poolToml("echo", addressesOf({&echo}), "drain_timeout = \"7s\"", {}, probe)));
    auto after = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    EXPECT_TRUE(echoRoundTrip(after, "still up")) << "the kept backend is not serving";
    EXPECT_TRUE(echoRoundTrip(before, "old one too"));
    EXPECT_EQ(echo.acceptedConnections(), accepted + 1) << "the kept backend was probed again";
    EXPECT_EQ(count(LinePattern::containing("backend added"), Stream::Stderr), 1u);
    EXPECT_EQ(count(logLine({{"msg", "backend up"}}), Stream::Stderr), 1u);
}

TEST_F(ReloadTest, ShutdownCutsEachConnectionAtItsOwnPoolsDrainTimeout) {
    TestBackend fast_b(BackendMode::Echo);
    TestBackend slow_b(BackendMode::Echo);
    start(gatewayToml(2) + listenerToml("fast", "fast") + listenerToml("slow", "slow") +
          drainPool("fast", addressesOf({&fast_b}), "1s") +
          drainPool("slow", addressesOf({&slow_b}), "3s"));
    const auto fast = ready("fast");
    const auto slow = p_->listeningPort("slow", kStartTimeout);
    ASSERT_NE(fast, 0);
    ASSERT_NE(slow, 0);
    auto f = BlockingClient::connect("127.0.0.1", fast, kIoTimeout);
    auto s = BlockingClient::connect("127.0.0.1", slow, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(f, "f"));
    ASSERT_TRUE(echoRoundTrip(s, "s"));
    const auto stopped_at = Clock::now();
    ASSERT_TRUE(p_->sendSignal(SIGTERM));
    const auto times = closeTimes({&f, &s}, stopped_at, 10s);
    EXPECT_GE(times[0], 0.0);
    EXPECT_GE(times[1], times[0]);
    const auto code = p_->waitExit(10s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0);
    const auto stopping = p_->waitForLine(LinePattern::containing("shutting down"), 1s);
    const auto fast_cut =
        waitLines(logLine({{"listener", "fast"}, {"cause", "shutdown"}}), Stream::Stdout, 1);
    const auto slow_cut =
        waitLines(logLine({{"listener", "slow"}, {"cause", "shutdown"}}), Stream::Stdout, 1);
    ASSERT_TRUE(stopping);
    ASSERT_EQ(fast_cut.size(), 1u);
    ASSERT_EQ(slow_cut.size(), 1u);
    EXPECT_GE(between(*stopping, fast_cut[0]), 900.0 - 2);
    EXPECT_LE(between(*stopping, fast_cut[0]), 1100.0 + 50);
    EXPECT_GE(between(*stopping, slow_cut[0]), 2700.0 - 2);
    EXPECT_LE(between(*stopping, slow_cut[0]), 3300.0 + 50);
}

TEST_F(ReloadTest, ARemovedPoolsConnectionsDrainWithItsOwnTimeout) {
    TestBackend old_b(BackendMode::IdThenEcho, "old");
    TestBackend new_b(BackendMode::IdThenEcho, "new");
    start(gatewayToml(2) + listenerToml("front", "old") +
          drainPool("old", addressesOf({&old_b}), "1s"));
    const auto port = ready("front");
    ASSERT_NE(port, 0);
    auto conns = openTagged(port, 2);
    for (auto& t : conns) ASSERT_EQ(t.id, "old");

    // The kept listener moves to a new pool (with a longer drain_timeout); the old pool goes.
    const auto reloaded_at = Clock::now();
    ASSERT_TRUE(reload(gatewayToml(2) + listenerToml("front", "new") +
                       drainPool("new", addressesOf({&new_b}), "30s")));
    EXPECT_TRUE(p_->waitForLine(
        logLine({{"msg", "reload applied"}, {"pools_removed", "old"}, {"pools_added", "new"}}),
        1s));
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), "new");
    for (auto& t : conns) EXPECT_TRUE(echoRoundTrip(t.client, "draining"));
    for (double t : closeTimes({&conns[0].client, &conns[1].client}, reloaded_at, 10s))
        EXPECT_GE(t, 0.0) << "not closed";
    const auto applied = p_->waitForLine(logLine({{"msg", "reload applied"}}), 1s);
    const auto cuts =
        waitLines(logLine({{"pool", "old"}, {"cause", "drained"}}), Stream::Stdout, 2);
    ASSERT_TRUE(applied);
    ASSERT_EQ(cuts.size(), 2u);
    for (const auto& line : cuts) {
        // The old pool's 1 s (not the new pool's 30 s), from the moment it was removed (just
        // before the "reload applied" line).
        EXPECT_GE(between(*applied, line), 900.0 - 50) << line;
        EXPECT_LE(between(*applied, line), 1100.0 + 50) << line;
    }
}

TEST_F(ReloadTest, AKeptPoolsNewSettingsApplyToNewConnections) {
    TestBackend echo(BackendMode::Echo);
    const std::string head = gatewayToml(2) + listenerToml("front", "echo");
    start(head + poolToml("echo", addressesOf({&echo})));
    const auto port = ready("front");
    ASSERT_NE(port, 0);
    auto first = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    auto second = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(first, "1"));
    ASSERT_TRUE(echoRoundTrip(second, "2"));
    second.close();
    ASSERT_TRUE(p_->waitForLine(logLine({{"listener", "front"}, {"cause", "client_fin"}}),
                                kIoTimeout, Stream::Stdout));

    // One connection per backend from now on: the open one stays, the next is refused.
    ASSERT_TRUE(
        reload(head + poolToml("echo", addressesOf({&echo}), "max_connections_per_backend = 1")));
    EXPECT_TRUE(echoRoundTrip(first, "kept"));
    auto refused = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    EXPECT_TRUE(refused.recvAll(kIoTimeout).closed());
    EXPECT_TRUE(p_->waitForLine(logLine({{"listener", "front"}, {"cause", "no_capacity"}}),
                                kIoTimeout, Stream::Stdout));
    EXPECT_TRUE(
        p_->waitForLine(logLine({{"msg", "reload applied"}, {"pools_changed", "echo"}}), 1s));
}

TEST_F(ReloadTest, LogSettingsApplyInPlaceAndRestartOnlyKeysAreNamed) {
    TestBackend echo(BackendMode::Echo);
    const std::string rest = listenerToml("front", "echo") + poolToml("echo", addressesOf({&echo}));
    start(gatewayToml(2) + rest);
    const auto port = ready("front");
    ASSERT_NE(port, 0);
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(c, "to stdout"));
    c.close();
    ASSERT_TRUE(p_->waitForLine(logLine({{"listener", "front"}, {"cause", "client_fin"}}),
                                kIoTimeout, Stream::Stdout));

    // The access log moves to a file, the level to debug, and the worker count cannot change.
    const auto file = p_->dir().path() / "access.log";
    ASSERT_TRUE(reload("[gateway]\nworkers = 3\n[log]\nlevel = \"debug\"\naccess = \"" +
                       file.string() + "\"\nformat = \"json\"\n\n" + rest));
    EXPECT_TRUE(p_->waitForLine(
        LinePattern::containing("[gateway] workers changed: it needs a restart"), 1s));
    auto d = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(d, "to the file"));
    d.close();
    std::string text;
    for (int i = 0; i < 500 && text.find("\"cause\":\"client_fin\"") == std::string::npos; ++i) {
        std::ifstream in(file);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (text.find("\"cause\":\"client_fin\"") == std::string::npos)
            std::this_thread::sleep_for(10ms);
    }
    EXPECT_NE(text.find("\"listener\":\"front\""), std::string::npos) << text;
    EXPECT_EQ(count(logLine({{"listener", "front"}}), Stream::Stdout), 1u)
        << "still logged to stdout";
}

// ---- certificate rotation ----------------------------------------------------------------------

class ReloadTlsTest : public ReloadTest {
protected:
    void SetUp() override {
        ignoreSigpipe();
        ca_ = TestCa::createRoot(certs_.path(), "reload-root");
    }
    TempDir certs_{"postern-reload-certs"};
    std::unique_ptr<TestCa> ca_;
};

std::optional<std::string> tlsEcho(TlsClient& c, const std::string& data) {
    if (c.sendAll(data, kIoTimeout) != IoStatus::Ok) return std::nullopt;
    auto r = c.recvExactly(data.size(), kIoTimeout);
    if (r.status != IoStatus::Ok) return std::nullopt;
    return r.data;
}

TEST_F(ReloadTlsTest, AKeptTlsListenerServesTheRotatedCertificateWhileOldSessionsGoOn) {
    TestBackend echo(BackendMode::Echo);
    const auto one = ca_->issue("one", {"one.test", {"one.test"}, {}, KeyType::EcdsaP256, 90});
    const auto two = ca_->issue("two", {"two.test", {"two.test"}, {}, KeyType::EcdsaP256, 90});
    // The files the config names: "one" now, overwritten with "two" for the rotation.
    const auto cert = certs_.path() / "live.pem";
    const auto key = certs_.path() / "live.key";
    std::filesystem::copy_file(one.cert, cert);
    std::filesystem::copy_file(one.key, key);
    const std::string toml = gatewayToml(2) +
                             "[[listener]]\nname = \"tls\"\nbind = [\"127.0.0.1:0\"]\n"
                             "protocol = \"tls\"\npool = \"echo\"\n[listener.tls]\ncertificates = "
                             "[{ cert = \"" +
                             cert.string() + "\", key = \"" + key.string() + "\" }]\n\n" +
                             poolToml("echo", addressesOf({&echo}));
    start(toml);
    const auto port = ready("tls");
    ASSERT_NE(port, 0);
    auto ctx = makeTlsClientContext({ca_->certificate(), {}, {}, {}, 0, 0});
    auto old_session = TlsClient::connect("127.0.0.1", port, ctx, "", kIoTimeout, "one.test");
    ASSERT_TRUE(old_session.ok()) << old_session.error();
    EXPECT_EQ(old_session.peerCommonName(), "one.test");
    EXPECT_EQ(tlsEcho(old_session, "before"), "before");

    std::filesystem::copy_file(two.cert, cert, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(two.key, key, std::filesystem::copy_options::overwrite_existing);
    ASSERT_TRUE(reload(toml));

    auto fresh = TlsClient::connect("127.0.0.1", port, ctx, "", kIoTimeout, "two.test");
    ASSERT_TRUE(fresh.ok()) << fresh.error();
    EXPECT_EQ(fresh.peerCommonName(), "two.test");
    EXPECT_EQ(tlsEcho(fresh, "new cert"), "new cert");
    EXPECT_EQ(tlsEcho(old_session, "old session"), "old session");
    EXPECT_EQ(count(logLine({{"msg", "listening"}, {"listener", "tls"}}), Stream::Stderr), 1u);
}

// ---- the issue's "done when": reloads under load ------------------------------------------------

/** The config of one step of the reload loop. */
struct LoadConfig {
    bool with_b = true;
    bool with_extra = false;
};

TEST_F(ReloadTlsTest, TwentyReloadsUnderLoadLoseNoConnectionAndTenInvalidOnesChangeNothing) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    TestBackend b(BackendMode::IdThenEcho, "b");
    TestBackend bulk(BackendMode::Echo, "bulk");
    const auto one = ca_->issue("one", {"one.test", {"one.test"}, {}, KeyType::EcdsaP256, 90});
    const auto two = ca_->issue("two", {"two.test", {"two.test"}, {}, KeyType::EcdsaP256, 90});
    const auto cert = certs_.path() / "live.pem";
    const auto key = certs_.path() / "live.key";
    std::filesystem::copy_file(one.cert, cert);
    std::filesystem::copy_file(one.key, key);
    auto render = [&](const LoadConfig& c) {
        std::string s =
            gatewayToml(2) + listenerToml("front", "app") + listenerToml("bulk", "steady") +
            "[[listener]]\nname = \"tls\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"tls\"\n"
            "pool = \"steady\"\n[listener.tls]\ncertificates = [{ cert = \"" +
            cert.string() + "\", key = \"" + key.string() + "\" }]\n\n";
        if (c.with_extra) s += listenerToml("extra", "app");
        s += drainPool("app", c.with_b ? addressesOf({&a, &b}) : addressesOf({&a}), "1s");
        s += drainPool("steady", addressesOf({&bulk}), "30s");
        return s;
    };
    LoadConfig current;
    start(render(current));
    const auto front = ready("front");
    const auto bulk_port = p_->listeningPort("bulk", kStartTimeout);
    const auto tls_port = p_->listeningPort("tls", kStartTimeout);
    ASSERT_NE(front, 0);
    ASSERT_NE(bulk_port, 0);
    ASSERT_NE(tls_port, 0);
    ASSERT_TRUE(waitUntilAllServe(front, {"a", "b"}));

    constexpr int kReloads = 20;
    constexpr int kStreams = 10;
    constexpr std::size_t kStreamBytes = 16u << 20;
    constexpr std::size_t kSteps =
        kReloads + 1;  // a stream sends a share before each reload and after the last
    std::atomic<int> reloads_done{0};
    std::atomic<bool> stop{false};

    // New connections: plain on the kept "front" listener (each reads its backend's id and
    // echoes), TLS handshakes on the kept "tls" listener.
    std::atomic<int> plain_ok{0}, plain_failed{0}, tls_ok{0}, tls_failed{0};
    std::mutex failures_mutex;
    std::vector<std::string> failures;
    auto noteFailure = [&](std::string what) {
        std::lock_guard<std::mutex> lock(failures_mutex);
        if (failures.size() < 20) failures.push_back(std::move(what));
    };
    std::vector<std::thread> clients;
    for (int t = 0; t < 2; ++t) {
        clients.emplace_back([&] {
            for (int i = 0; i < 1000000 && !stop.load(); ++i) {
                auto c = BlockingClient::connect("127.0.0.1", front, kIoTimeout);
                const auto id = c.connected() ? readLine(c, kIoTimeout) : std::nullopt;
                if (id && echoRoundTrip(c, "ping")) {
                    ++plain_ok;
                } else {
                    ++plain_failed;
                    noteFailure("plain connection " + std::to_string(i) + " errno " +
                                std::to_string(c.error()) + " after reload " +
                                std::to_string(reloads_done.load()));
                }
            }
        });
    }
    auto tls_ctx = makeTlsClientContext({ca_->certificate(), {}, {}, {}, 0, 0});
    clients.emplace_back([&] {
        for (int i = 0; i < 1000000 && !stop.load(); ++i) {
            auto c = TlsClient::connect("127.0.0.1", tls_port, tls_ctx, "", kIoTimeout);
            const auto cn = c.ok() ? c.peerCommonName() : std::string();
            if (c.ok() && (cn == "one.test" || cn == "two.test") && tlsEcho(c, "tls") == "tls") {
                ++tls_ok;
            } else {
                ++tls_failed;
                noteFailure("tls connection " + std::to_string(i) + ": " + c.error());
            }
        }
    });

    // Long byte-exact streams on the kept "bulk" listener, paced by the reloads: each sends one
    // share of its bytes per reload step, so every stream spans all the reloads.
    std::vector<std::string> sent(kStreams);
    std::vector<std::string> received(kStreams);
    std::vector<std::string> stream_errors(kStreams);
    std::vector<std::thread> streams;
    for (int s = 0; s < kStreams; ++s) {
        sent[s] = randomBytes(kStreamBytes, 1000 + s);
        streams.emplace_back([&, s] {
            auto c = BlockingClient::connect("127.0.0.1", bulk_port, kIoTimeout);
            if (!c.connected()) {
                stream_errors[s] = "connect failed";
                return;
            }
            std::thread reader([&] {
                received[s].reserve(kStreamBytes);
                while (received[s].size() < kStreamBytes) {
                    auto r = c.recvSome(Millis(30000));
                    if (r.status != IoStatus::Ok) break;
                    received[s] += r.data;
                }
            });
            const std::size_t share = kStreamBytes / kSteps;
            for (std::size_t step = 0; step < kSteps; ++step) {
                for (int i = 0; i < 20000 && static_cast<std::size_t>(reloads_done.load()) < step;
                     ++i)
                    std::this_thread::sleep_for(
                        2ms);  // pacing only: the data does not depend on it
                const std::size_t from = step * share;
                const std::size_t to = step + 1 == kSteps ? kStreamBytes : from + share;
                if (c.sendAll(std::string_view(sent[s]).substr(from, to - from), Millis(30000)) !=
                    IoStatus::Ok) {
                    stream_errors[s] = "send failed at step " + std::to_string(step);
                    break;
                }
            }
            reader.join();
        });
    }

    // Held connections on the backend "b" before each removal, with the time of the reload.
    struct Held {
        BlockingClient client;
        std::string client_address;  ///< as the access log names it
        std::size_t removal = 0;     ///< which removal of "b" (1-based)
        Clock::time_point removed_at;
        double closed_ms = -1;  ///< client side: -1 = never closed
    };
    std::size_t removals = 0;
    std::vector<std::unique_ptr<Held>> held;
    std::vector<std::thread> held_waiters;
    const auto started = Clock::now();
    for (int r = 0; r < kReloads; ++r) {
        LoadConfig next = current;
        std::vector<Held*> to_watch;
        switch (r % 5) {
            case 0: {  // remove "b": hold two of its connections first
                for (int i = 0; i < 40 && to_watch.size() < 2; ++i) {
                    auto h = std::make_unique<Held>();
                    h->client = BlockingClient::connect("127.0.0.1", front, kIoTimeout);
                    if (readLine(h->client, kIoTimeout) == "b") {
                        to_watch.push_back(h.get());
                        held.push_back(std::move(h));
                    }
                }
                ASSERT_EQ(to_watch.size(), 2u) << "no connection landed on b";
                ++removals;
                for (Held* h : to_watch) {
                    h->removal = removals;
                    if (auto local = h->client.localAddress())
                        h->client_address = local->toString();
                }
                next.with_b = false;
                break;
            }
            case 1:
                // A backend that comes back before its deadline stops draining: let the
                // drained connections reach theirs first (each waiter ends with its connection).
                for (auto& t : held_waiters) t.join();
                held_waiters.clear();
                next.with_b = true;
                break;
            case 2:
                next.with_extra = true;
                break;
            case 3:
                next.with_extra = false;
                break;
            case 4: {  // rotate the certificate (the other one)
                const auto& to = (r / 5) % 2 == 0 ? two : one;
                std::filesystem::copy_file(to.cert, cert,
                                           std::filesystem::copy_options::overwrite_existing);
                std::filesystem::copy_file(to.key, key,
                                           std::filesystem::copy_options::overwrite_existing);
                break;
            }
        }
        const auto at = Clock::now();
        ASSERT_TRUE(reload(render(next))) << "reload " << r;
        current = next;
        ++reloads_done;
        for (Held* h : to_watch) {
            h->removed_at = at;
            held_waiters.emplace_back([h] {
                const auto rr = h->client.recvAll(Millis(10000));
                if (rr.closed()) h->closed_ms = msSince(h->removed_at);
            });
        }
        if (current.with_extra && r % 5 == 2) {
            const auto extra = listeningPortAt("extra", static_cast<std::size_t>(r / 5 + 1));
            ASSERT_NE(extra, 0);
            EXPECT_TRUE(connectAndReadId("127.0.0.1", extra, kIoTimeout).has_value());
        }
    }
    const double reloads_ms = msSince(started);

    // Ten invalid reloads: rejected, nothing changes.
    for (int r = 0; r < 10; ++r) {
        std::string bad = render(current);
        if (r % 2 == 0)
            bad += "[[pool]\n";
        else
            bad = std::regex_replace(bad, std::regex("live\\.pem"), "missing.pem");
        ASSERT_TRUE(reloadRejected(bad)) << "invalid reload " << r;
    }
    EXPECT_TRUE(connectAndReadId("127.0.0.1", front, kIoTimeout).has_value());

    for (auto& t : streams) t.join();
    stop.store(true);
    for (auto& t : clients) t.join();
    for (auto& t : held_waiters) t.join();

    for (int s = 0; s < kStreams; ++s) {
        EXPECT_TRUE(stream_errors[s].empty()) << "stream " << s << ": " << stream_errors[s];
        EXPECT_EQ(received[s].size(), kStreamBytes) << "stream " << s;
        EXPECT_TRUE(received[s] == sent[s]) << "stream " << s << " is not byte-exact";
    }
    EXPECT_EQ(plain_failed.load(), 0) << ::testing::PrintToString(failures);
    EXPECT_EQ(tls_failed.load(), 0) << ::testing::PrintToString(failures);
    EXPECT_GE(plain_ok.load() / (reloads_ms / 1000.0), 200.0)
        << "fewer than 200 new connections per second";
    EXPECT_GT(tls_ok.load(), 0);
    ASSERT_EQ(held.size(), 8u);
    const auto removed_lines = waitLines(
        logLine({{"msg", "backend removed"}, {"backend", b.address()}}), Stream::Stderr, removals);
    ASSERT_EQ(removed_lines.size(), removals);
    std::vector<double> cut_ms;
    for (const auto& h : held) {
        EXPECT_GE(h->closed_ms, 0.0) << "a drained connection was not closed";
        const auto cut = waitLines(logLine({{"client", h->client_address}, {"cause", "drained"}}),
                                   Stream::Stdout, 1);
        ASSERT_EQ(cut.size(), 1u) << "no cause=drained line for " << h->client_address;
        const double t = between(removed_lines[h->removal - 1], cut[0]);
        cut_ms.push_back(t);
        EXPECT_GE(t, 900.0 - 2) << "a drained connection was cut early: " << cut[0];
        EXPECT_LE(t, 1100.0 + 50) << "a drained connection was cut late: " << cut[0];
    }
    EXPECT_EQ(count(logLine({{"msg", "listening"}, {"listener", "front"}}), Stream::Stderr), 1u);
    EXPECT_EQ(count(logLine({{"msg", "listening"}, {"listener", "tls"}}), Stream::Stderr), 1u);
    EXPECT_LT(reloads_ms, 40000.0);
    std::cout << "[ figures  ] " << kReloads << " reloads in " << reloads_ms
              << " ms; new connections: " << plain_ok.load() << " plain ("
              << plain_ok.load() / (reloads_ms / 1000.0) << "/s over the reloads), "
              << tls_ok.load() << " TLS; " << kStreams << " streams of " << (kStreamBytes >> 20)
              << " MiB byte-exact; drained connections cut after (ms):";
    for (double t : cut_ms) std::cout << ' ' << static_cast<int>(t);
    std::cout << std::endl;
}

}  // namespace
}  // namespace postern::test
