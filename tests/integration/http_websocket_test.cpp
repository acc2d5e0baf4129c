// WebSocket through http and https listeners (SPEC §3): python3-websockets as client and server,
// over ws:// and wss://, the upgrade forwarded and the connection relayed after the 101, and the
// two WebSocket timeouts named in the access log.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "certs/test_pki.h"
#include "http_support.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class HttpWebSocketTest : public IntegrationTest {
protected:
    void SetUp() override {
        if (!havePythonModule("websockets")) GTEST_SKIP() << "python3-websockets is not installed";
    }
    std::uint16_t startGateway(const std::string& target, std::string_view listener_extra = {},
                               const IssuedCertificate* cert = nullptr) {
        const std::string toml = gatewayToml(1) +
                                 httpListenerToml("web", "chat", listener_extra,
                                                  cert ? cert->cert : std::filesystem::path(),
                                                  cert ? cert->key : std::filesystem::path()) +
                                 poolToml("chat", {target});
        postern_ = &runPostern(toml);
        EXPECT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
        return postern_->listeningPort("web", kStartTimeout);
    }
    std::optional<std::string> record(const std::map<std::string, std::string>& fields) {
        return postern_->waitForLine(logLine(fields), kIoTimeout, Stream::Stdout);
    }

    PosternProcess* postern_ = nullptr;
};

TEST_F(HttpWebSocketTest, EchoOverWs) {
    WebSocketEchoServer server;
    const auto port = startGateway(server.address());
    const auto r = runWebSocketClient("ws://127.0.0.1:" + std::to_string(port) + "/chat", "echo");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, "echo ok\n") << r.err;
    // The session's record: the upgrade's status and how the relay ended.
    const auto line = record({{"method", "GET"}, {"path", "/chat"}, {"status", "101"}});
    ASSERT_TRUE(line) << postern_->stdoutText();
    EXPECT_TRUE(std::regex_search(*line, std::regex(" cause=(client_fin|backend_fin)$")));
}

TEST_F(HttpWebSocketTest, EchoOverWss) {
    TempDir dir;
    auto ca = TestCa::createRoot(dir.path(), "ws-ca");
    LeafSpec spec;
    spec.common_name = "localhost";
    spec.dns = {"localhost"};
    spec.ips = {"127.0.0.1"};
    const auto cert = ca->issue("gateway", spec);
    // wss to postern, plain ws to the backend.
    WebSocketEchoServer server;
    const auto port = startGateway(server.address(), {}, &cert);
    const auto r = runWebSocketClient("wss://localhost:" + std::to_string(port) + "/secure", "echo",
                                      ca->certificate());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, "echo ok\n") << r.err;
    EXPECT_TRUE(record({{"path", "/secure"}, {"status", "101"}}));
}

TEST_F(HttpWebSocketTest, IdleTimeoutClosesAQuietSession) {
    WebSocketEchoServer server;
    const auto port = startGateway(server.address(), "ws_idle_timeout = \"1s\"");
    const auto start = std::chrono::steady_clock::now();
    const auto r = runWebSocketClient("ws://127.0.0.1:" + std::to_string(port) + "/", "idle", {},
                                      Millis(20000));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out.rfind("closed ", 0), 0u) << r.out << r.err;
    EXPECT_GE(msSince(start), 900.0);
    EXPECT_TRUE(record({{"status", "101"}, {"cause", "ws_idle_timeout"}}));
}

TEST_F(HttpWebSocketTest, MaxSessionClosesABusySession) {
    WebSocketEchoServer server;
    // Busy every 200 ms: never idle for 5 s, but capped at 1 s.
    const auto port =
        startGateway(server.address(), "ws_idle_timeout = \"5s\"\nws_max_session = \"1s\"");
    const auto r = runWebSocketClient("ws://127.0.0.1:" + std::to_string(port) + "/", "chat", {},
                                      Millis(20000));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out.rfind("closed ", 0), 0u) << r.out << r.err;
    EXPECT_TRUE(record({{"status", "101"}, {"cause", "ws_max_session"}}));
}

TEST_F(HttpWebSocketTest, BadUpgradesAreAnsweredAndNonUpgradeAnswersKeepHttp) {
    HttpBackend backend;  // plain HTTP: answers the upgrade request with 200
    const auto port = startGateway(backend.address());
    const std::string key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    // Version 8: 426 with the version we speak.
    std::string resp = rawExchange(port,
                                   "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n" +
                                       key + "Sec-WebSocket-Version: 8\r\n\r\n");
    EXPECT_EQ(statusOf(resp), 426) << resp;
    EXPECT_NE(resp.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << resp;
    // No key: 400.
    resp =
        rawExchange(port,
                    "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n");
    EXPECT_EQ(statusOf(resp), 400) << resp;
    EXPECT_EQ(backend.requests(), 0u);
    // A valid upgrade the backend answers with 200: passed on, and HTTP goes on.
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(
        c.sendAll("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                      key + "Sec-WebSocket-Version: 13\r\n\r\n",
                  kIoTimeout),
        IoStatus::Ok);
    auto r = readResponse(c);
    ASSERT_TRUE(r);
    EXPECT_EQ(statusOf(*r), 200) << *r;
    ASSERT_EQ(c.sendAll("GET /next HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    r = readResponse(c);
    ASSERT_TRUE(r);
    EXPECT_EQ(bodyOf(*r), "ok /next\n");
}

}  // namespace
}  // namespace postern::test
