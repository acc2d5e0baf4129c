// Process lifecycle: config errors (exit 2 with positions), bind failures (exit 1 naming the
// address), and SIGTERM draining (exit 0).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/socket_address.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class LifecycleTest : public IntegrationTest {};

std::vector<std::string> linesOf(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

// Line numbers below are part of the test: keep them in sync with the text.
constexpr const char* kBadConfig =
    "[gateway]\n"                      // 1
    "workers = \"two\"\n"              // 2: wrong type
    "bogus_key = 1\n"                  // 3: unknown key
    "\n"                               // 4
    "[[listener]]\n"                   // 5
    "name = \"front\"\n"               // 6
    "bind = [\"127.0.0.1:0\"]\n"       // 7
    "protocol = \"tcp\"\n"             // 8
    "pool = \"nowhere\"\n";            // 9: dangling pool reference

/** `<file>:<line>:<col>: <message>` split up, if `text` has that form for `file`. */
struct Diagnostic {
    int line = 0;
    int column = 0;
    std::string message;
};
std::optional<Diagnostic> parseDiagnostic(const std::string& text, const std::string& file) {
    if (text.rfind(file + ":", 0) != 0) return std::nullopt;
    std::istringstream in(text.substr(file.size() + 1));
    Diagnostic d;
    char colon1 = 0, colon2 = 0;
    if (!(in >> d.line >> colon1 >> d.column >> colon2) || colon1 != ':' || colon2 != ':')
        return std::nullopt;
    std::getline(in >> std::ws, d.message);
    if (d.message.empty()) return std::nullopt;
    return d;
}

void expectBadConfigPositions(const std::string& err, const std::string& file) {
    // The column of a wrong value may be the key's or the value's; a key's own problem is at
    // the key.
    int found_type = 0, found_key = 0, found_pool = 0;
    for (const auto& line : linesOf(err)) {
        const auto d = parseDiagnostic(line, file);
        if (!d) continue;
        found_type += (d->line == 2 && (d->column == 1 || d->column == 11)) ? 1 : 0;
        found_key += (d->line == 3 && d->column == 1) ? 1 : 0;
        found_pool += (d->line == 9 && (d->column == 1 || d->column == 8)) ? 1 : 0;
    }
    EXPECT_EQ(found_type, 1) << "expected one '" << file << ":2:<col>: ...' (workers type)";
    EXPECT_EQ(found_key, 1) << "expected one '" << file << ":3:1: ...' (unknown key)";
    EXPECT_EQ(found_pool, 1) << "expected one '" << file << ":9:<col>: ...' (dangling pool)";
    // All problems at once, sorted by position.
    const auto a = err.find(file + ":2:"), b = err.find(file + ":3:"), c = err.find(file + ":9:");
    if (a != std::string::npos && b != std::string::npos && c != std::string::npos) {
        EXPECT_LT(a, b);
        EXPECT_LT(b, c);
    }
}

TEST_F(LifecycleTest, BadConfigMakesCheckAndRunExitTwoWithPositions) {
    auto& p = newProcess();
    const auto file = p.writeConfig(kBadConfig, "bad.toml").string();

    const auto check = runPosternCommand({"check", "-c", file}, kStartTimeout);
    ASSERT_TRUE(check.exit_code) << "postern check did not exit";
    EXPECT_EQ(*check.exit_code, 2) << check.err;
    expectBadConfigPositions(check.err, file);
    EXPECT_EQ(check.out.find("configuration ok"), std::string::npos);

    p.start({"run", "-c", file});
    const auto code = p.waitExit(kStartTimeout);
    ASSERT_TRUE(code) << "postern run kept running on a bad config";
    EXPECT_EQ(*code, 2);
    const auto err = p.stderrText();
    expectBadConfigPositions(err, file);
    EXPECT_EQ(err.find("msg=listening"), std::string::npos) << "nothing may listen on a bad config";
}

TEST_F(LifecycleTest, CheckAcceptsAGoodConfig) {
    TestBackend b(BackendMode::Echo);
    auto& p = newProcess();
    const auto file =
        p.writeConfig(gatewayToml() + listenerToml("front", "echo") +
                          poolToml("echo", addressesOf({&b})),
                      "good.toml")
            .string();
    const auto check = runPosternCommand({"check", "-c", file}, kStartTimeout);
    ASSERT_TRUE(check.exit_code);
    EXPECT_EQ(*check.exit_code, 0) << check.err;
    EXPECT_NE((check.out + check.err).find("configuration ok"), std::string::npos);
}

// Every tests/fixtures/config/<name>.toml with a <name>.expected: `postern check -c <name>.toml`
// run from that folder prints exactly the expected lines and exits 2, and `postern run` exits 2
// printing them too without listening. valid.toml passes `check`.
TEST_F(LifecycleTest, ConfigFixturesReportTheirExpectedErrors) {
    const std::filesystem::path dir = std::filesystem::path(POSTERN_FIXTURE_DIR) / "config";
    if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "no " << dir;
    std::vector<std::filesystem::path> fixtures;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".toml") fixtures.push_back(e.path());
    std::sort(fixtures.begin(), fixtures.end());

    int with_errors = 0;
    for (const auto& fixture : fixtures) {
        const std::string name = fixture.filename().string();
        SCOPED_TRACE(name);
        auto expected_file = fixture;
        expected_file.replace_extension(".expected");
        if (!std::filesystem::exists(expected_file)) {
            if (name == "valid.toml") {
                const auto check = runPosternCommand({"check", "-c", name}, kStartTimeout, dir);
                ASSERT_TRUE(check.exit_code);
                EXPECT_EQ(*check.exit_code, 0) << check.err;
                EXPECT_NE(check.out.find("configuration ok"), std::string::npos);
            }
            continue;
        }
        ++with_errors;
        std::ifstream in(expected_file);
        std::stringstream ss;
        ss << in.rdbuf();
        const auto expected = linesOf(ss.str());
        ASSERT_FALSE(expected.empty());

        const auto check = runPosternCommand({"check", "-c", name}, kStartTimeout, dir);
        ASSERT_TRUE(check.exit_code) << "postern check did not exit";
        EXPECT_EQ(*check.exit_code, 2);
        EXPECT_EQ(linesOf(check.err), expected);

        auto& p = newProcess();
        p.start({"run", "-c", name}, dir);
        const auto code = p.waitExit(kStartTimeout);
        ASSERT_TRUE(code) << "postern run kept running on " << name;
        EXPECT_EQ(*code, 2);
        const auto err = p.stderrText();
        const auto err_lines = linesOf(err);
        for (const auto& e : expected)
            EXPECT_NE(std::find(err_lines.begin(), err_lines.end(), e), err_lines.end())
                << "postern run did not print: " << e;
        EXPECT_EQ(err.find("msg=listening"), std::string::npos);
    }
    if (with_errors == 0) GTEST_SKIP() << "no <name>.toml + <name>.expected in " << dir;
}

TEST_F(LifecycleTest, PortAlreadyInUseExitsOneNamingTheAddress) {
    // Our own listening socket holds the port (no SO_REUSEPORT, so nobody can share it).
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const auto any = SocketAddress::fromIp("127.0.0.1", 0);
    ASSERT_EQ(::bind(fd, any->sockaddrPtr(), any->length()), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    const auto taken = SocketAddress::localOf(fd);
    ASSERT_TRUE(taken);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};

    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() +
                         listenerToml("busy", "echo", {}, "\"" + taken->toString() + "\"") +
                         poolToml("echo", addressesOf({&b})));
    const auto code = p.waitExit(kStartTimeout);
    ASSERT_TRUE(code) << "postern kept running although its port is taken";
    EXPECT_EQ(*code, 1);
    const auto err = p.stderrText();
    EXPECT_NE(err.find(taken->toString()), std::string::npos)
        << "stderr must name " << taken->toString();
    EXPECT_TRUE(p.waitForLine(logLine({{"level", "error"}, {"listener", "busy"},
                                        {"address", taken->toString()}}),
                              1s))
        << "expected level=error ... listener=busy address=" << taken->toString();
}

TEST_F(LifecycleTest, SigtermStopsAcceptingDrainsOpenConnectionAndExitsZero) {
    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() + listenerToml("front", "echo") +
                         poolToml("echo", addressesOf({&b}), "drain_timeout = \"2s\""));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    auto open = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(open, "before"));

    const auto signalled = std::chrono::steady_clock::now();
    ASSERT_TRUE(p.sendSignal(SIGTERM));

    // Listeners close at once: poll until a connect is refused (bounded).
    bool refused = false;
    for (int i = 0; i < 100 && msSince(signalled) < 2000.0; ++i) {
        auto probe = BlockingClient::connect("127.0.0.1", port, 1s);
        if (!probe.connected() && probe.error() == ECONNREFUSED) {
            refused = true;
            break;
        }
        probe.close();
        std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(refused) << "new connections still accepted 2 s after SIGTERM";

    // The open connection keeps working while it drains.
    EXPECT_TRUE(echoRoundTrip(open, "during drain"));
    std::this_thread::sleep_for(700ms);  // well inside the 2 s drain window
    EXPECT_TRUE(p.running()) << "exited before the drain timeout with a connection open";
    EXPECT_TRUE(echoRoundTrip(open, "still draining"));

    const auto code = p.waitExit(10s);
    ASSERT_TRUE(code) << "did not exit after SIGTERM";
    EXPECT_EQ(*code, 0);
    const double exited_ms = msSince(signalled);
    EXPECT_GE(exited_ms, 1500.0) << "the drain was cut short";
    EXPECT_LE(exited_ms, 6000.0) << "the drain took far longer than drain_timeout";
    const auto r = open.recvAll(2s);
    EXPECT_TRUE(r.closed()) << "drained connection not closed: " << toString(r.status);
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"cause", "shutdown"}}), 1s,
                              Stream::Stdout))
        << "expected an access log line with cause=shutdown for the drained connection";
}

}  // namespace
}  // namespace postern::test
