// Logs (SPEC §2 [log], §5 SIGUSR1, §6): postern's own log in the file of [log] file, reopened on
// SIGUSR1 with the access log; the access log's chosen fields; an access log target that fails is
// reported once, and once when it works again.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/logfmt.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

namespace fs = std::filesystem;

std::string readAll(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> linesOf(const fs::path& path) {
    std::vector<std::string> out;
    std::istringstream in(readAll(path));
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

/** Waits (bounded) until a line of `path` matches `pattern`; returns it. */
std::optional<std::string> waitForFileLine(const fs::path& path, const LinePattern& pattern,
                                           Millis timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
        for (const auto& line : linesOf(path))
            if (pattern.matches(line)) return line;
        std::this_thread::sleep_for(20ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return std::nullopt;
}

/** One client connection through `port`: "hello" echoed, then closed (one access log record). */
::testing::AssertionResult oneConnection(std::uint16_t port) {
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    if (!c.connected()) return ::testing::AssertionFailure() << "connect failed";
    auto r = echoRoundTrip(c, "hello");
    c.close();
    return r;
}

using LogsTest = IntegrationTest;

TEST_F(LogsTest, OwnLogGoesToTheFileAndBothFilesAreReopenedOnSigusrOne) {
    TestBackend b(BackendMode::Echo);
    PosternProcess& p = newProcess();
    const fs::path own = p.dir().path() / "postern.log";
    const fs::path access = p.dir().path() / "access.log";
    p.run("[gateway]\nworkers = 2\ncontrol_socket = \"off\"\n[log]\nfile = \"" + own.string() +
          "\"\naccess = \"" + access.string() +
          "\"\nformat = \"json\"\nfields = [\"cause\", \"listener\", \"pool\", \"sni\"]\n" +
          listenerToml("front", "echo") + poolToml("echo", addressesOf({&b})));
    const auto listening =
        waitForFileLine(own, logLine({{"msg", "listening"}, {"listener", "front"}}), kStartTimeout);
    ASSERT_TRUE(listening) << readAll(own) << p.stderrText();
    ASSERT_TRUE(waitForFileLine(own, logLine({{"msg", "ready"}}), kStartTimeout));
    const auto address = logfmtField(*listening, "address");
    ASSERT_TRUE(address);
    const auto port =
        static_cast<std::uint16_t>(std::stoi(address->substr(address->rfind(':') + 1)));
    // The file has postern's own lines; stderr does not.
    EXPECT_TRUE(p.matchingLines(logLine({{"msg", "ready"}}), Stream::Stderr).empty())
        << p.stderrText();

    ASSERT_TRUE(oneConnection(port));
    // Access-log records are written within 1 s of the close (SPEC §6): wait for it, bounded.
    for (int i = 0; i < 250 && linesOf(access).empty(); ++i) std::this_thread::sleep_for(20ms);
    // The chosen fields, in their order; "sni" is not a plain TCP connection's.
    EXPECT_EQ(linesOf(access),
              (std::vector<std::string>{
                  "{\"cause\":\"client_fin\",\"listener\":\"front\",\"pool\":\"echo\"}"}));

    // logrotate renames both, then its postrotate sends SIGUSR1.
    fs::rename(own, p.dir().path() / "postern.log.1");
    fs::rename(access, p.dir().path() / "access.log.1");
    ASSERT_TRUE(p.sendSignal(SIGUSR1));
    ASSERT_TRUE(waitForFileLine(own, logLine({{"msg", "log files reopened"}}), 5s))
        << readAll(p.dir().path() / "postern.log.1");
    EXPECT_EQ(readAll(p.dir().path() / "postern.log.1").find("log files reopened"),
              std::string::npos);
    ASSERT_TRUE(oneConnection(port));
    for (int i = 0; i < 250 && linesOf(access).empty(); ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(linesOf(access).size(), 1u) << "the new access log gets the next record";
    EXPECT_EQ(linesOf(p.dir().path() / "access.log.1").size(), 1u);
    EXPECT_TRUE(p.running());
}

TEST_F(LogsTest, FailingAccessLogIsReportedOnceAndAgainWhenItWorks) {
    TestBackend b(BackendMode::Echo);
    PosternProcess& p = newProcess();
    const fs::path access = p.dir().path() / "access.log";
    const fs::path good = p.dir().path() / "good.log";
    fs::create_symlink("/dev/full", access);  // every write fails with ENOSPC, as a full disk
    p.run("[gateway]\nworkers = 2\ncontrol_socket = \"off\"\n[log]\naccess = \"" + access.string() +
          "\"\nfields = [\"listener\", \"cause\"]\n" + listenerToml("front", "echo") +
          poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    const LinePattern failed = LinePattern::containing("access log cannot be written");
    ASSERT_TRUE(oneConnection(port));
    const auto report = p.waitForLine(failed, 5s);
    ASSERT_TRUE(report) << p.stderrText();
    EXPECT_EQ(logfmtField(*report, "level"), "error");
    EXPECT_EQ(logfmtField(*report, "error"), "No space left on device");
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(oneConnection(port));

    // The disk has room again (the path now leads to a writable file) and logrotate's SIGUSR1.
    fs::remove(access);
    fs::create_symlink(good, access);
    ASSERT_TRUE(p.sendSignal(SIGUSR1));
    ASSERT_TRUE(p.waitForLine(logLine({{"msg", "log files reopened"}}), 5s));
    ASSERT_TRUE(oneConnection(port));
    const auto recovered = p.waitForLine(LinePattern::containing("access log written again"), 5s);
    ASSERT_TRUE(recovered) << p.stderrText();
    const auto lost = logfmtField(*recovered, "lost");
    ASSERT_TRUE(lost);
    EXPECT_GE(std::stoi(*lost), 1) << *recovered;
    for (int i = 0; i < 250 && linesOf(good).empty(); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_FALSE(linesOf(good).empty());
    EXPECT_EQ(linesOf(good).back(), "listener=front cause=client_fin");
    // Five records failed, one report.
    EXPECT_EQ(p.matchingLines(failed, Stream::Stderr).size(), 1u) << p.stderrText();
}

TEST_F(LogsTest, AReloadMovesTheOwnLogToAFileAndBack) {
    TestBackend b(BackendMode::Echo);
    PosternProcess& p = newProcess();
    const fs::path own = p.dir().path() / "postern.log";
    const std::string rest = listenerToml("front", "echo") + poolToml("echo", addressesOf({&b}));
    const std::string head =
        "[gateway]\nworkers = 1\ncontrol_socket = \"off\"\n[log]\naccess = \"off\"\n";
    const fs::path config = p.writeConfig(head + rest);
    p.start({"run", "-c", config.string()});
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    p.writeConfig(head + "file = \"" + own.string() + "\"\n" + rest);
    ASSERT_TRUE(p.sendSignal(SIGHUP));
    // The reload's own report is the first line in the new file.
    ASSERT_TRUE(waitForFileLine(own, logLine({{"msg", "configuration reloaded"}}), kStartTimeout))
        << p.stderrText();
    EXPECT_TRUE(
        p.matchingLines(logLine({{"msg", "configuration reloaded"}}), Stream::Stderr).empty());

    // And back: the next reload's report is on stderr again, not in the file.
    p.writeConfig(head + rest);
    ASSERT_TRUE(p.sendSignal(SIGHUP));
    ASSERT_TRUE(p.waitForLine(logLine({{"msg", "configuration reloaded"}, {"generation", "3"}}),
                              kStartTimeout))
        << readAll(own);
    EXPECT_EQ(readAll(own).find("generation=3"), std::string::npos) << readAll(own);
    EXPECT_TRUE(p.running());
}

TEST_F(LogsTest, CheckNamesAnUnknownFieldWithItsPosition) {
    TestBackend b(BackendMode::Echo);
    PosternProcess& p = newProcess();
    const fs::path config =
        p.writeConfig("[log]\nfields = [\"time\", \"agent\"]\n" + listenerToml("front", "echo") +
                      poolToml("echo", addressesOf({&b})));
    const CommandResult r = runPosternCommand({"check", "-c", config.string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(
        r.err.find(config.filename().string() + ":2:19: unknown access log field \"agent\" "
                                                "in 'fields'; the fields are: time, listener,"),
        std::string::npos)
        << r.err << r.out;
}

}  // namespace
}  // namespace postern::test
