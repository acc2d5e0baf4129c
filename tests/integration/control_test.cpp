// Operating a running postern (SPEC §5): `postern reload` over the control socket (exit 0 applied,
// 2 rejected with the errors, 1 no instance; a stale socket file, a second instance on the same
// path), and the signals: a second SIGTERM or SIGQUIT stops at once, SIGUSR1 reopens the access
// log file, SIGUSR2 is ignored.
//
// Tests marked AFTER-RELOAD-MERGE need Gateway::reload to apply configs (the in-place reload of
// issue 13): while this build's reload answers "not supported by this build yet" they skip, saying
// so; once it is merged they run.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/logfmt.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kUnsupported = "reload is not supported by this build yet";

class ControlTest : public IntegrationTest {
protected:
    /** A postern with its control socket in its temp dir, one listener "front" to `backend`. */
    PosternProcess& runWithSocket(const TestBackend& backend, std::string_view pool_extra = {},
                                  std::string_view log = "access = \"stdout\"") {
        PosternProcess& p = newProcess();
        socket_ = p.dir().path() / "ctl.sock";
        toml_ = "[gateway]\nworkers = 1\ncontrol_socket = \"" + socket_.string() + "\"\n" +
                "[log]\n" + std::string(log) + "\n" + listenerToml("front", "echo") +
                poolToml("echo", addressesOf({&backend}), pool_extra);
        config_ = p.writeConfig(toml_);
        p.start({"run", "-c", config_.string()});
        return p;
    }

    CommandResult reload(const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args = {"reload"};
        if (extra.empty()) {
            args.push_back("-c");
            args.push_back(config_.string());
        } else {
            args.insert(args.end(), extra.begin(), extra.end());
        }
        return runPosternCommand(args, 60s);
    }

    fs::path socket_;
    fs::path config_;
    std::string toml_;
};

std::vector<std::string> nonEmptyLines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

std::string readAll(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/** One client connection through `port`: "hello" echoed, then closed (one access log line). */
::testing::AssertionResult oneConnection(std::uint16_t port) {
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    if (!c.connected()) return ::testing::AssertionFailure() << "connect failed";
    auto r = echoRoundTrip(c, "hello");
    c.close();
    return r;
}

TEST_F(ControlTest, ReloadWithNoInstanceExitsOneNamingTheSocket) {
    TempDir dir;
    const fs::path socket = dir.path() / "nobody.sock";
    auto r = runPosternCommand({"reload", "--socket", socket.string()});
    ASSERT_TRUE(r.exit_code);
    EXPECT_EQ(*r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("no running instance"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(socket.string()), std::string::npos) << r.err;

    // Through -c: the path comes from the file's [gateway] control_socket.
    const fs::path config =
        dir.writeFile("p.toml", "[gateway]\ncontrol_socket = \"" + socket.string() + "\"\n");
    r = runPosternCommand({"reload", "-c", config.string()});
    ASSERT_TRUE(r.exit_code);
    EXPECT_EQ(*r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("[gateway] control_socket in " + config.string()), std::string::npos)
        << r.err;
}

// The reply of the gateway's real Gateway::reload, passed through: every error line the instance
// logged is printed by `postern reload`, which exits 2. The new file is broken, so this holds both
// before the in-place reload lands ("not supported") and after it (the positions of the errors).
TEST_F(ControlTest, RejectedReloadExitsTwoWithTheInstancesErrors) {
    TestBackend b(BackendMode::Echo);
    auto& p = runWithSocket(b);
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitForLine(LinePattern::containing("control socket ready"), kStartTimeout));

    std::ofstream(config_, std::ios::app) << "\n[gateway.nope\n";  // a syntax error at line end
    auto r = reload();
    ASSERT_TRUE(r.exit_code);
    EXPECT_EQ(*r.exit_code, 2) << r.out << r.err;
    ASSERT_TRUE(p.waitForLine(logLine({{"msg", "reload error"}}), 5s));
    const auto logged = p.matchingLines(logLine({{"msg", "reload error"}}), Stream::Stderr);
    const auto printed = nonEmptyLines(r.err);
    ASSERT_EQ(printed.size(), logged.size() + 1) << r.err;  // + the summary line
    // The log quotes the message (logfmt: a backslash in it is doubled): compare the value.
    for (std::size_t i = 0; i < logged.size(); ++i)
        EXPECT_EQ(logfmtField(logged[i], "error").value_or(""), printed[i])
            << "printed '" << printed[i] << "' is not what the instance logged: " << logged[i];
    EXPECT_NE(printed.back().find("reload rejected"), std::string::npos) << r.err;
    EXPECT_NE(printed.back().find("unchanged"), std::string::npos) << r.err;
    EXPECT_TRUE(oneConnection(port)) << "the instance must keep serving";
    EXPECT_TRUE(p.running());
}

// AFTER-RELOAD-MERGE: the errors of a rejected file carry its positions (file:line:col).
TEST_F(ControlTest, RejectedReloadPrintsThePositionsOfTheErrors) {
    TestBackend b(BackendMode::Echo);
    auto& p = runWithSocket(b);
    ASSERT_NE(p.listeningPort("front", kStartTimeout), 0);
    ASSERT_TRUE(p.waitForLine(LinePattern::containing("control socket ready"), kStartTimeout));
    // Line 3 of the file: [gateway] has no such key.
    std::string text = toml_;
    text.insert(text.find("control_socket"), "bogus_key = 1\n");
    std::ofstream(config_, std::ios::trunc) << text;
    auto r = reload();
    ASSERT_TRUE(r.exit_code);
    EXPECT_EQ(*r.exit_code, 2) << r.out << r.err;
    if (r.err.find(kUnsupported) != std::string::npos)
        GTEST_SKIP() << "AFTER-RELOAD-MERGE: this build's Gateway::reload is not implemented; the "
                        "file:line:col positions are checked once it is";
    EXPECT_NE(r.err.find(config_.string() + ":3:1: "), std::string::npos)
        << "the error must carry file:line:col: " << r.err;
    EXPECT_NE(r.err.find("bogus_key"), std::string::npos) << r.err;
}

// AFTER-RELOAD-MERGE: a valid change is applied, `postern reload` exits 0 with the summary line.
TEST_F(ControlTest, AppliedReloadExitsZeroWithTheNewGeneration) {
    TestBackend b(BackendMode::Echo);
    auto& p = runWithSocket(b);
    ASSERT_NE(p.listeningPort("front", kStartTimeout), 0);
    ASSERT_TRUE(p.waitForLine(LinePattern::containing("control socket ready"), kStartTimeout));

    // A second listener on the same pool.
    std::ofstream(config_, std::ios::app) << "\n" << listenerToml("second", "echo");
    auto r = reload();
    ASSERT_TRUE(r.exit_code);
    if (*r.exit_code == 2 && r.err.find(kUnsupported) != std::string::npos)
        GTEST_SKIP() << "AFTER-RELOAD-MERGE: this build's Gateway::reload is not implemented";
    EXPECT_EQ(*r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, "configuration reloaded: generation 2 is serving\n") << r.err;
    EXPECT_NE(p.listeningPort("second", kStartTimeout), 0);
}

TEST_F(ControlTest, StaleSocketFileDoesNotBlockTheStart) {
    TestBackend b(BackendMode::Echo);
    PosternProcess& p = newProcess();
    // A socket file nobody listens on any more: what a killed instance leaves behind.
    const fs::path socket = p.dir().path() / "ctl.sock";
    {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        ASSERT_GE(fd, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
        ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
        ::close(fd);
    }
    ASSERT_TRUE(fs::exists(socket));
    p.run("[gateway]\nworkers = 1\ncontrol_socket = \"" + socket.string() + "\"\n" +
          listenerToml("front", "echo") + poolToml("echo", addressesOf({&b})));
    ASSERT_NE(p.listeningPort("front", kStartTimeout), 0);
    EXPECT_TRUE(p.waitForLine(LinePattern::containing("removed a stale control socket file"),
                              kStartTimeout));
    ASSERT_TRUE(p.waitForLine(LinePattern::containing("control socket ready"), kStartTimeout));
    auto r = runPosternCommand({"reload", "--socket", socket.string()}, 60s);
    ASSERT_TRUE(r.exit_code);
    EXPECT_NE(*r.exit_code, 1) << "the instance was not reached: " << r.err;
    EXPECT_TRUE(
        p.waitForLine(LinePattern::containing("reload requested over the control socket"), 5s));
    EXPECT_EQ(fs::status(socket).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                  fs::perms::group_write);

    // A clean stop removes the socket file.
    ASSERT_TRUE(p.sendSignal(SIGTERM));
    ASSERT_TRUE(p.waitExit(10s));
    EXPECT_FALSE(fs::exists(socket));
}

TEST_F(ControlTest, SecondInstanceOnTheSameSocketFailsAndTheFirstKeepsIt) {
    TestBackend b(BackendMode::Echo);
    auto& first = runWithSocket(b);
    ASSERT_NE(first.listeningPort("front", kStartTimeout), 0);
    ASSERT_TRUE(first.waitForLine(LinePattern::containing("control socket ready"), kStartTimeout));

    auto& second = newProcess();
    second.start({"run", "-c", config_.string()});
    const auto code = second.waitExit(kStartTimeout);
    ASSERT_TRUE(code) << "the second instance did not give up";
    EXPECT_EQ(*code, 1);
    EXPECT_NE(second.stderrText().find("another postern is running with this control socket"),
              std::string::npos)
        << second.stderrText();
    EXPECT_NE(second.stderrText().find(socket_.string()), std::string::npos);

    // The first one still answers on it.
    auto r = reload();
    ASSERT_TRUE(r.exit_code);
    EXPECT_NE(*r.exit_code, 1) << r.err;
    EXPECT_TRUE(
        first.waitForLine(LinePattern::containing("reload requested over the control socket"), 5s));
    EXPECT_TRUE(first.running());
}

TEST_F(ControlTest, SigusrOneReopensTheAccessLogAfterARename) {
    TestBackend b(BackendMode::Echo);
    PosternProcess& p = newProcess();
    const fs::path log = p.dir().path() / "access.log";
    const fs::path rotated = p.dir().path() / "access.log.1";
    p.run("[gateway]\nworkers = 2\ncontrol_socket = \"off\"\n[log]\naccess = \"" + log.string() +
          "\"\n" + listenerToml("front", "echo") + poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    ASSERT_TRUE(oneConnection(port));
    // Access-log lines are written within 1 s of the close (SPEC §6): wait for it, bounded.
    for (int i = 0; i < 100 && readAll(log).find("cause=") == std::string::npos; ++i)
        std::this_thread::sleep_for(20ms);
    ASSERT_EQ(nonEmptyLines(readAll(log)).size(), 1u) << readAll(log);

    fs::rename(log, rotated);  // what logrotate does before its postrotate
    ASSERT_TRUE(p.sendSignal(SIGUSR1));
    ASSERT_TRUE(p.waitForLine(logLine({{"msg", "log files reopened"}}), 5s));
    ASSERT_TRUE(fs::exists(log)) << "SIGUSR1 must create the access log file again";

    ASSERT_TRUE(oneConnection(port));
    for (int i = 0; i < 100 && readAll(log).find("cause=") == std::string::npos; ++i)
        std::this_thread::sleep_for(20ms);
    EXPECT_EQ(nonEmptyLines(readAll(log)).size(), 1u) << "the new file gets the next line";
    EXPECT_EQ(nonEmptyLines(readAll(rotated)).size(), 1u) << "the old file gets nothing more";
    EXPECT_TRUE(p.running());
}

TEST_F(ControlTest, SigusrTwoIsLoggedAndIgnored) {
    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml(1, "control_socket = \"off\"") +
                         listenerToml("front", "echo") + poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    ASSERT_TRUE(p.sendSignal(SIGUSR2));
    ASSERT_TRUE(p.waitForLine(LinePattern::containing("SIGUSR2 received: ignored"), 5s));
    EXPECT_TRUE(oneConnection(port));
    EXPECT_TRUE(p.running());
}

/** After a stop request: the process ends within 5 s (the drain is 60 s), exit 0, the open
 * connection closed with an access log line cause=shutdown. */
::testing::AssertionResult stopsAtOnce(PosternProcess& p, BlockingClient& open,
                                       std::chrono::steady_clock::time_point since) {
    const auto code = p.waitExit(10s);
    if (!code) return ::testing::AssertionFailure() << "still running 10 s later (drain is 60 s)";
    if (*code != 0) return ::testing::AssertionFailure() << "exit code " << *code;
    const double ms = msSince(since);
    if (ms > 5000.0) return ::testing::AssertionFailure() << "took " << ms << " ms";
    const auto r = open.recvAll(2s);
    if (!r.closed()) return ::testing::AssertionFailure() << "the open connection was not closed";
    if (!p.waitForLine(logLine({{"listener", "front"}, {"cause", "shutdown"}}), 1s, Stream::Stdout))
        return ::testing::AssertionFailure() << "no access log line with cause=shutdown";
    return ::testing::AssertionSuccess();
}

TEST_F(ControlTest, SecondSigtermDuringTheDrainStopsAtOnce) {
    TestBackend b(BackendMode::Echo);
    auto& p =
        runPostern(gatewayToml(1, "control_socket = \"off\"") + listenerToml("front", "echo") +
                   poolToml("echo", addressesOf({&b}), "drain_timeout = \"60s\""));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    auto open = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(open, "before"));

    ASSERT_TRUE(p.sendSignal(SIGTERM));
    ASSERT_TRUE(p.waitForLine(LinePattern::containing("shutting down"), 5s));
    EXPECT_TRUE(echoRoundTrip(open, "draining")) << "the first SIGTERM drains";
    EXPECT_TRUE(p.running());
    const auto second = std::chrono::steady_clock::now();
    ASSERT_TRUE(p.sendSignal(SIGTERM));
    EXPECT_TRUE(stopsAtOnce(p, open, second));
    EXPECT_TRUE(p.waitForLine(LinePattern::containing("second stop signal: stopping at once"), 1s));
}

TEST_F(ControlTest, SigquitStopsAtOnce) {
    TestBackend b(BackendMode::Echo);
    auto& p =
        runPostern(gatewayToml(1, "control_socket = \"off\"") + listenerToml("front", "echo") +
                   poolToml("echo", addressesOf({&b}), "drain_timeout = \"60s\""));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    auto open = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(open, "before"));

    const auto sent = std::chrono::steady_clock::now();
    ASSERT_TRUE(p.sendSignal(SIGQUIT));
    EXPECT_TRUE(stopsAtOnce(p, open, sent));
    EXPECT_TRUE(p.waitForLine(LinePattern::containing("SIGQUIT received: stopping at once"), 1s));
}

/** The service manager's side of sd_notify: a datagram socket the test reads. */
class NotifySocket {
public:
    explicit NotifySocket(const fs::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        bound_ =
            fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~NotifySocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool bound() const { return bound_; }
    /** The next message, or nullopt after `timeout`. */
    std::optional<std::string> next(Millis timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return std::nullopt;
        return std::string(buf, static_cast<std::size_t>(n));
    }

private:
    fs::path path_;
    int fd_ = -1;
    bool bound_ = false;
};

TEST_F(ControlTest, EveryReloadIsFramedByReloadingAndReady) {
    TestBackend b(BackendMode::Echo);
    TempDir dir;
    NotifySocket notify(dir.path() / "notify.sock");
    ASSERT_TRUE(notify.bound());
    PosternProcess& p = newProcess();
    p.addEnv("NOTIFY_SOCKET=" + (dir.path() / "notify.sock").string());
    socket_ = p.dir().path() / "ctl.sock";
    config_ =
        p.writeConfig("[gateway]\nworkers = 1\ncontrol_socket = \"" + socket_.string() + "\"\n" +
                      listenerToml("front", "echo") + poolToml("echo", addressesOf({&b})));
    p.start({"run", "-c", config_.string()});
    auto ready = notify.next(kStartTimeout);
    ASSERT_TRUE(ready);
    EXPECT_EQ(ready->rfind("READY=1\nSTATUS=listening", 0), 0u) << *ready;

    // One reload through the control socket, one through SIGHUP: the same frame each time.
    auto r = reload();
    ASSERT_TRUE(r.exit_code);
    ASSERT_TRUE(p.sendSignal(SIGHUP));
    for (int round = 0; round < 2; ++round) {
        auto reloading = notify.next(10s);
        ASSERT_TRUE(reloading) << "round " << round;
        EXPECT_EQ(reloading->rfind("RELOADING=1\n", 0), 0u) << *reloading;
        EXPECT_NE(reloading->find("\nMONOTONIC_USEC="), std::string::npos) << *reloading;
        auto after = notify.next(10s);
        ASSERT_TRUE(after) << "round " << round;
        EXPECT_EQ(after->rfind("READY=1\nSTATUS=", 0), 0u) << *after;
        const bool applied =
            after->find("STATUS=reloaded: configuration generation ") != std::string::npos;
        const bool rejected = after->find("STATUS=reload rejected (") != std::string::npos;
        EXPECT_TRUE(applied || rejected) << *after;
        if (round == 0) {
            EXPECT_EQ(applied, *r.exit_code == 0) << *after;
        }
    }
    ASSERT_TRUE(p.sendSignal(SIGTERM));
    auto stopping = notify.next(10s);
    ASSERT_TRUE(stopping);
    EXPECT_EQ(stopping->rfind("STOPPING=1", 0), 0u) << *stopping;
    EXPECT_TRUE(p.waitExit(10s));
}

}  // namespace
}  // namespace postern::test
