// The harness itself, without postern: the behaviours the integration tests rely on.
#include <signal.h>
#include <unistd.h>

#include "harness/logfmt.h"
#include "harness/payload.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

TEST(HarnessTest, StoppedBackendRefusesAndRestartsOnTheSamePort) {
    TestBackend b(BackendMode::IdThenEcho, "x");
    const auto port = b.port();
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, 2s), std::optional<std::string>("x"));

    auto open = BlockingClient::connect("127.0.0.1", port, 2s);
    ASSERT_EQ(readLine(open, 2s), std::optional<std::string>("x"));
    b.stop();
    EXPECT_FALSE(b.running());
    EXPECT_TRUE(open.recvAll(2s).closed()) << "stop() closes open connections";
    const auto refused = BlockingClient::connect("127.0.0.1", port, 2s);
    EXPECT_FALSE(refused.connected());
    EXPECT_EQ(refused.error(), ECONNREFUSED);

    b.start();
    EXPECT_EQ(b.port(), port);
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, 2s), std::optional<std::string>("x"));
    EXPECT_TRUE(b.waitForAccepted(3, 2s));
}

TEST(HarnessTest, BackendModes) {
    TestBackend sink(BackendMode::Sink), closer(BackendMode::CloseImmediately),
        late(BackendMode::ReplyAfterEof), echo(BackendMode::Echo);

    auto s = BlockingClient::connect("127.0.0.1", sink.port(), 2s);
    ASSERT_EQ(s.sendAll(std::string(100000, 'a'), 2s), IoStatus::Ok);
    s.shutdownWrite();
    const auto sr = s.recvAll(2s);
    EXPECT_EQ(sr.status, IoStatus::Eof);
    EXPECT_TRUE(sr.data.empty());
    EXPECT_EQ(sink.bytesReceived(), 100000u);

    auto c = BlockingClient::connect("127.0.0.1", closer.port(), 2s);
    EXPECT_TRUE(c.recvAll(2s).closed());

    auto l = BlockingClient::connect("127.0.0.1", late.port(), 2s);
    ASSERT_EQ(l.sendAll("question", 2s), IoStatus::Ok);
    EXPECT_EQ(l.recvSome(200ms).status, IoStatus::Timeout) << "no reply before EOF";
    l.shutdownWrite();
    const auto lr = l.recvAll(2s);
    EXPECT_EQ(lr.status, IoStatus::Eof);
    EXPECT_EQ(lr.data, "question");

    // From another loopback source address: what the access log would show as the client.
    auto e = BlockingClient::connect("127.0.0.1", echo.port(), 2s, "127.0.0.2");
    ASSERT_TRUE(e.connected()) << "errno " << e.error();
    EXPECT_EQ(e.localAddress()->ip(), "127.0.0.2");
    const std::string big = randomBytes(3 * 1024 * 1024, 3);
    const auto er = e.exchange(big, big.size(), 10s);
    EXPECT_EQ(er.status, IoStatus::Ok);
    EXPECT_EQ(checksum(er.data), checksum(big));
}

TEST(HarnessTest, LogfmtAndAddresses) {
    const auto f = parseLogfmt(
        R"(time=2026-01-01T00:00:00Z level=warn msg="backend down" pool=p backend=127.0.0.1:80 reason="connect: refused")");
    EXPECT_EQ(f.at("msg"), "backend down");
    EXPECT_EQ(f.at("backend"), "127.0.0.1:80");
    EXPECT_EQ(f.at("reason"), "connect: refused");
    EXPECT_TRUE(logLine({{"msg", "backend down"}, {"backend", "127.0.0.1:80"}})
                    .matches("level=warn msg=\"backend down\" pool=p backend=127.0.0.1:80"));
    EXPECT_FALSE(logLine({{"backend", "127.0.0.1:80"}})
                     .matches("msg=listening backend=127.0.0.1:801"));
    EXPECT_TRUE(LinePattern::containing("a.b[1]").matches("x a.b[1] y"));
    EXPECT_FALSE(LinePattern::containing("a.b").matches("axb"));
    EXPECT_EQ(SocketAddress::parse("[::1]:8080")->toString(), "[::1]:8080");
    EXPECT_EQ(SocketAddress::parse("127.0.0.1:0")->port(), 0);
    EXPECT_FALSE(SocketAddress::parse("localhost:80"));
}

TEST(HarnessTest, ProcessExitCodesAndKill) {
    PosternProcess t("/bin/sh");
    t.start({"-c", "echo out; echo 'level=info msg=ready' >&2; exit 3"});
    EXPECT_TRUE(t.waitReady(5s));
    EXPECT_EQ(t.waitExit(5s), std::optional<int>(3));
    EXPECT_EQ(t.stdoutText(), "out\n");

    PosternProcess sleeper("/bin/sleep");
    sleeper.start({"30"});
    EXPECT_FALSE(sleeper.waitExit(50ms));
    EXPECT_TRUE(sleeper.sendSignal(SIGTERM));
    EXPECT_EQ(sleeper.waitExit(5s), std::optional<int>(128 + SIGTERM));
    EXPECT_FALSE(sleeper.sendSignal(SIGTERM)) << "no signal to a reaped PID";
}

}  // namespace
}  // namespace postern::test
