// HTTP listeners end to end (SPEC §3, HTTP): the real binary between curl or raw sockets and real
// backends (nginx, a Python HTTP/1.1 server), on loopback.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "http_support.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class HttpProxyTest : public IntegrationTest {
protected:
    /** postern with one http listener "web" in front of pool "site" (`targets`); returns its
     * port. One worker, so a keep-alive pool is shared by every client connection. */
    std::uint16_t startGateway(const std::vector<std::string>& targets,
                               std::string_view listener_extra = {},
                               std::string_view backend_extra = {}, std::string_view probe = {}) {
        const std::string toml = gatewayToml(1) + httpListenerToml("web", "site", listener_extra) +
                                 poolToml("site", targets, {}, backend_extra, probe);
        postern_ = &runPostern(toml);
        EXPECT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
        return postern_->listeningPort("web", kStartTimeout);
    }
    /** Waits for the `n`-th access-log line with every field of `fields`. */
    std::optional<std::string> record(const std::map<std::string, std::string>& fields,
                                      std::size_t n = 1) {
        return postern_->waitForLine(logLine(fields), kIoTimeout, Stream::Stdout, n);
    }
    std::string url(std::uint16_t port, std::string_view path) const {
        return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
    }

    PosternProcess* postern_ = nullptr;
};

std::filesystem::path writeBlob(const std::filesystem::path& dir, std::size_t size) {
    std::filesystem::create_directories(dir);
    const auto path = dir / "blob.bin";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    std::string chunk(64 * 1024, '\0');
    for (std::size_t done = 0; done < size; done += chunk.size()) {
        for (char& c : chunk) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c = static_cast<char>(x);
        }
        out.write(chunk.data(), static_cast<std::streamsize>(std::min(chunk.size(), size - done)));
    }
    return path;
}

std::string sha256Of(const std::filesystem::path& file) {
    auto r = runCommand("/usr/bin/sha256sum", {file.string()}, kIoTimeout);
    return r.out.substr(0, 64);
}

TEST_F(HttpProxyTest, GetThroughNginx) {
    NginxBackend nginx;
    const auto port = startGateway({nginx.address()});
    const auto r = runCurl({"-i", url(port, "/hello?x=1")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(statusOf(r.out), 200) << r.out;
    EXPECT_NE(r.out.find("conn="), std::string::npos) << r.out;
    const auto line = record({{"method", "GET"},
                              {"path", "/hello"},
                              {"status", "200"},
                              {"backend", nginx.address()},
                              {"cause", "complete"}});
    ASSERT_TRUE(line) << postern_->stdoutText();
    EXPECT_TRUE(std::regex_search(*line, std::regex(" host=127\\.0\\.0\\.1:[0-9]+ ")));
    EXPECT_TRUE(std::regex_search(*line, std::regex(" bytes_out=[1-9][0-9]* ")));
}

TEST_F(HttpProxyTest, KeepAliveReusesOneBackendConnectionAcrossClients) {
    NginxBackend nginx;
    const auto port = startGateway({nginx.address()});
    // Ten requests on one client connection, then five more clients one after the other.
    std::vector<std::string> args;
    for (int i = 0; i < 10; ++i) args.push_back(url(port, "/same/" + std::to_string(i)));
    ASSERT_EQ(runCurl(args).exit_code, 0);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(runCurl({url(port, "/next")}).exit_code, 0);
    ASSERT_TRUE(record({{"status", "200"}}, 15));
    const auto lines = nginx.accessLines();
    ASSERT_EQ(lines.size(), 15u);
    std::set<std::string> connections;
    for (const auto& l : lines) connections.insert(l.substr(0, l.find(' ')));
    EXPECT_EQ(connections.size(), 1u)
        << "nginx saw these connections for 15 requests: " << ::testing::PrintToString(connections);
    EXPECT_EQ(postern_->matchingLines(logLine({{"reused", "1"}}), Stream::Stdout).size(), 14u);
}

TEST_F(HttpProxyTest, KeepAliveIdleConnectionsExpire) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()}, {}, "keepalive_idle = \"300ms\"");
    ASSERT_EQ(runCurl({url(port, "/conn")}).out, "1\n");
    ASSERT_EQ(runCurl({url(port, "/conn")}).out, "1\n");  // reused at once
    // After keepalive_idle postern closes it (the backend sees the close); the next request
    // needs a new connection.
    ASSERT_TRUE(backend.waitForClose(1, kIoTimeout));
    EXPECT_EQ(runCurl({url(port, "/conn")}).out, "2\n");
}

TEST_F(HttpProxyTest, LargeResponsesStreamWhole) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    // By length, chunked (forwarded as is: curl de-chunks) and until the backend closes.
    for (const auto& [path, size] :
         std::vector<std::pair<std::string, std::size_t>>{{"/bytes/8388608", 8388608},
                                                          {"/chunked/3000000", 3000000},
                                                          {"/close/2000000", 2000000}}) {
        const auto r = runCurl({"-o", "-", url(port, path)});
        ASSERT_EQ(r.exit_code, 0) << path << ": " << r.err;
        EXPECT_EQ(r.out.size(), size) << path;
        EXPECT_EQ(r.out.substr(0, 26), "abcdefghijklmnopqrstuvwxyz") << path;
    }
    EXPECT_TRUE(record({{"path", "/close/2000000"}, {"status", "200"}, {"cause", "complete"}}));
}

TEST_F(HttpProxyTest, ABackendClosingItsKeptAliveConnectionsCostsNoRequest) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    // Each response leaves an idle connection the backend then closes: postern drops it from
    // its pool (or, had it already written to it, connects afresh before any byte went out).
    for (int i = 1; i <= 5; ++i) {
        const auto r = runCurl({"-i", url(port, "/bye")});
        ASSERT_EQ(statusOf(r.out), 200) << "request " << i << ": " << r.out << r.err;
        ASSERT_TRUE(backend.waitForClose(static_cast<std::size_t>(i), kIoTimeout));
    }
    EXPECT_EQ(backend.connections(), 5u);
    EXPECT_EQ(postern_->matchingLines(logLine({{"status", "200"}, {"reused", "0"}}), Stream::Stdout)
                  .size(),
              5u);
}

TEST_F(HttpProxyTest, ARequestLostOnAReusedConnectionIsNeverSentAgain) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    // Client A: a first request leaves an idle backend connection; its second request goes on
    // that connection, and the backend drops it without an answer. The request is not sent
    // again; A's own connection closes without a response, as when a server closes a kept-alive
    // connection under a request (clients retry then).
    auto a = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(a.sendAll("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    ASSERT_TRUE(readResponse(a));
    ASSERT_EQ(
        a.sendAll("POST /drop HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", kIoTimeout),
        IoStatus::Ok);
    const auto end = a.recvAll(kIoTimeout);
    EXPECT_TRUE(end.closed());
    EXPECT_EQ(end.data, "");
    EXPECT_TRUE(
        record({{"path", "/drop"}, {"status", "0"}, {"reused", "1"}, {"cause", "backend_fin"}}));
    // Client B's first request on a reused connection that the backend drops: 502.
    ASSERT_EQ(runCurl({url(port, "/b")}).out, "ok /b\n");
    const auto r = runCurl({"-i", "-X", "POST", "-d", "hi", url(port, "/drop")});
    EXPECT_EQ(statusOf(r.out), 502) << r.out;
    EXPECT_TRUE(record({{"path", "/drop"}, {"status", "502"}, {"reused", "1"}}));
    // Each dropped request reached the backend exactly once.
    EXPECT_EQ(backend.process()
                  .matchingLines(LinePattern("^req [0-9]+ POST /drop$"), Stream::Stdout)
                  .size(),
              2u);
}

TEST_F(HttpProxyTest, AnUnfinishedHeadIs408AndAnIdleClientIsClosed) {
    HttpBackend backend;
    const auto port =
        startGateway({backend.address()}, "request_timeout = \"1s\"\nidle_timeout = \"2s\"");
    // A head that never ends: 408 after request_timeout, even after a first request went well.
    auto slow = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(slow.sendAll("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    ASSERT_TRUE(readResponse(slow));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(slow.sendAll("GET /b HTTP/1.1\r\nHost: h\r\n", kIoTimeout), IoStatus::Ok);
    const auto r = slow.recvAll(kIoTimeout);
    EXPECT_EQ(statusOf(r.data), 408) << r.data;
    EXPECT_GE(msSince(start), 900.0);
    EXPECT_TRUE(record({{"status", "408"}, {"cause", "request_timeout"}}));
    // A kept-alive client with nothing more to ask is closed after idle_timeout.
    auto idle = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(idle.sendAll("GET /c HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    ASSERT_TRUE(readResponse(idle));
    const auto quiet = std::chrono::steady_clock::now();
    const auto end = idle.recvAll(kIoTimeout);
    EXPECT_TRUE(end.closed()) << toString(end.status);
    EXPECT_EQ(end.data, "");
    EXPECT_GE(msSince(quiet), 1800.0);
}

TEST_F(HttpProxyTest, PostOfFiveMiBIsStreamedIntact) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    const auto dir = postern_->dir().path() / "upload";
    const auto blob = writeBlob(dir, 5 * 1024 * 1024);
    const auto r = runCurl({"--data-binary", "@" + blob.string(), url(port, "/body")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "len=5242880 sha256=" + sha256Of(blob) + "\n");
    const auto line = record({{"method", "POST"}, {"status", "200"}, {"cause", "complete"}});
    ASSERT_TRUE(line);
    EXPECT_TRUE(std::regex_search(*line, std::regex(" bytes_in=52[0-9]{5} ")));
}

TEST_F(HttpProxyTest, ChunkedUploadIsForwardedIntact) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    const auto blob = writeBlob(postern_->dir().path() / "upload", 300 * 1000 + 7);
    const auto r = runCurl({"-H", "Transfer-Encoding: chunked", "--data-binary",
                            "@" + blob.string(), url(port, "/body")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "len=300007 sha256=" + sha256Of(blob) + "\n");
}

TEST_F(HttpProxyTest, ExpectContinueIsForwardedAndTheBackendsContinueRelayed) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    const auto blob = writeBlob(postern_->dir().path() / "upload", 100 * 1000);
    const auto r = runCurl({"-i", "-H", "Expect: 100-continue", "--data-binary",
                            "@" + blob.string(), url(port, "/continue")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("len=100000 sha256=" + sha256Of(blob)), std::string::npos);
}

TEST_F(HttpProxyTest, PipelinedRequestsAreAnsweredInOrder) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected());
    std::string all;
    constexpr int kRequests = 20;
    for (int i = 0; i < kRequests; ++i)
        all += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nHost: pipe\r\n\r\n";
    ASSERT_EQ(c.sendAll(all, kIoTimeout), IoStatus::Ok);
    std::string carry;
    for (int i = 0; i < kRequests; ++i) {
        const auto resp = readResponse(c, carry);
        ASSERT_TRUE(resp) << "response " << i;
        EXPECT_EQ(bodyOf(*resp), "ok /p" + std::to_string(i) + "\n");
    }
    EXPECT_EQ(carry, "");
    EXPECT_EQ(backend.connections(), 1u);
}

TEST_F(HttpProxyTest, HeadAnd204And304HaveNoBodyAndTheConnectionGoesOn) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected());
    for (const char* path : {"/bytes/100", "/status/204", "/status/304"}) {
        const bool head = std::string_view(path) == "/bytes/100";
        ASSERT_EQ(
            c.sendAll(std::string(head ? "HEAD " : "GET ") + path + " HTTP/1.1\r\nHost: h\r\n\r\n",
                      kIoTimeout),
            IoStatus::Ok);
        // The head arrives alone: a HEAD response's Content-Length must not be waited for.
        std::string got;
        for (int i = 0; i < 100 && got.find("\r\n\r\n") == std::string::npos; ++i)
            got += c.recvSome(kIoTimeout).data;
        EXPECT_EQ(got.substr(got.find("\r\n\r\n") + 4), "") << path;
        if (head) {
            EXPECT_NE(got.find("Content-Length: 100\r\n"), std::string::npos) << got;
        }
    }
    ASSERT_EQ(c.sendAll("GET /after HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    const auto resp = readResponse(c);
    ASSERT_TRUE(resp);
    EXPECT_EQ(bodyOf(*resp), "ok /after\n");
}

TEST_F(HttpProxyTest, Http10ClientGetsAChunkedBodyDechunkedAndTheClose) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    const std::string resp = rawExchange(port, "GET /chunked/2500 HTTP/1.0\r\nHost: old\r\n\r\n");
    EXPECT_EQ(resp.rfind("HTTP/1.0 200 ", 0), 0u) << resp;
    EXPECT_EQ(resp.find("Transfer-Encoding"), std::string::npos) << resp;
    EXPECT_EQ(bodyOf(resp).size(), 2500u);
    // A 1.0 client asking for keep-alive keeps it for a length-delimited response.
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(c.sendAll("GET /bytes/10 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", kIoTimeout),
                  IoStatus::Ok);
        const auto r = readResponse(c);
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->rfind("HTTP/1.0 200 ", 0), 0u) << *r;
        EXPECT_EQ(bodyOf(*r), "abcdefghij");
    }
}

TEST_F(HttpProxyTest, BackendSeesForwardedHeadersAndNoHopByHopFields) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    const std::string resp =
        rawExchange(port,
                    "GET /headers HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: 203.0.113.7\r\n"
                    "Connection: close, X-Secret\r\nX-Secret: hop\r\nKeep-Alive: timeout=5\r\n"
                    "TE: trailers\r\nX-Kept: yes\r\n\r\n");
    ASSERT_EQ(statusOf(resp), 200) << resp;
    const std::string seen = bodyOf(resp);
    EXPECT_NE(seen.find("GET /headers HTTP/1.1\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Forwarded-Proto: http\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Forwarded-Port: " + std::to_string(port) + "\r\n"), std::string::npos)
        << seen;
    EXPECT_NE(seen.find("Forwarded: for=127.0.0.1;proto=http;host=app.example\r\n"),
              std::string::npos)
        << seen;
    EXPECT_NE(seen.find("X-Kept: yes\r\n"), std::string::npos) << seen;
    for (const char* gone : {"X-Secret", "Keep-Alive: timeout", "TE:"})
        EXPECT_EQ(seen.find(gone), std::string::npos) << gone << " in\n" << seen;
}

TEST_F(HttpProxyTest, NoRouteIs404) {
    HttpBackend backend;
    const std::string toml =
        gatewayToml(1) +
        httpListenerToml("web", "", "[[listener.route]]\nhost = \"a.example\"\npool = \"site\"\n") +
        poolToml("site", {backend.address()});
    postern_ = &runPostern(toml);
    ASSERT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
    const auto port = postern_->listeningPort("web", kStartTimeout);
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(c.sendAll("GET / HTTP/1.1\r\nHost: b.example\r\n\r\n", kIoTimeout), IoStatus::Ok);
    auto r = readResponse(c);
    ASSERT_TRUE(r);
    EXPECT_EQ(statusOf(*r), 404) << *r;
    // A bodiless request keeps its connection: the next one is routed.
    ASSERT_EQ(c.sendAll("GET /x HTTP/1.1\r\nHost: A.Example:80\r\n\r\n", kIoTimeout), IoStatus::Ok);
    r = readResponse(c);
    ASSERT_TRUE(r);
    EXPECT_EQ(bodyOf(*r), "ok /x\n");
    // A HEAD gets our answer without its body, and the connection goes on in step.
    ASSERT_EQ(c.sendAll("HEAD / HTTP/1.1\r\nHost: b.example\r\n\r\nGET /y HTTP/1.1\r\nHost: "
                        "a.example\r\n\r\n",
                        kIoTimeout),
              IoStatus::Ok);
    std::string head;
    for (int i = 0; i < 100 && head.find("ok /y\n") == std::string::npos; ++i) {
        const auto got = c.recvSome(kIoTimeout);
        head += got.data;
        if (got.status != IoStatus::Ok) break;
    }
    EXPECT_EQ(statusOf(head), 404) << head;
    const auto second = head.find("HTTP/1.1 200");
    ASSERT_NE(second, std::string::npos) << head;
    EXPECT_EQ(head.substr(second - 4, 4), "\r\n\r\n") << head;  // no body between the two
    EXPECT_TRUE(record({{"status", "404"}, {"cause", "no_route"}, {"host", "b.example"}}));
    EXPECT_EQ(backend.requests(), 2u);
}

TEST_F(HttpProxyTest, ConnectFailureIs502) {
    // Two dead backends, one retry: both are tried, then 502.
    const auto port = startGateway(
        {"127.0.0.1:" + std::to_string(deadPort()), "127.0.0.1:" + std::to_string(deadPort())}, {},
        "retries = 1\npassive_failures = 0");
    const auto r = runCurl({"-i", url(port, "/")});
    EXPECT_EQ(statusOf(r.out), 502) << r.out;
    EXPECT_TRUE(record({{"status", "502"}, {"cause", "connect_failed"}, {"attempts", "2"}}));
}

TEST_F(HttpProxyTest, NoHealthyBackendIs503) {
    // Probed and never healthy: down from the start.
    const auto port =
        startGateway({"127.0.0.1:" + std::to_string(deadPort())}, {}, {}, "interval = \"1s\"");
    const auto r = runCurl({"-i", url(port, "/")});
    EXPECT_EQ(statusOf(r.out), 503) << r.out;
    EXPECT_TRUE(record({{"status", "503"}, {"cause", "no_backend"}}));
}

TEST_F(HttpProxyTest, NoResponseHeadWithinRequestTimeoutIs504) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()}, "request_timeout = \"1s\"");
    const auto start = std::chrono::steady_clock::now();
    const auto r = runCurl({"-i", url(port, "/sleep/5000")});
    EXPECT_EQ(statusOf(r.out), 504) << r.out;
    EXPECT_LT(msSince(start), 4500.0);
    EXPECT_TRUE(record({{"status", "504"}, {"cause", "request_timeout"}}));
}

TEST_F(HttpProxyTest, InvalidResponseIs502) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    const auto r = runCurl({"-i", url(port, "/garbage")});
    EXPECT_EQ(statusOf(r.out), 502) << r.out;
    EXPECT_TRUE(record({{"status", "502"}, {"cause", "bad_response"}}));
}

TEST_F(HttpProxyTest, ARefusedRequestAfterAGoodOneIsRecordedOnItsOwn) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(c.sendAll("GET /good HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    ASSERT_TRUE(readResponse(c));
    ASSERT_EQ(c.sendAll("GET /bad HTTP/1.1\r\n\r\n", kIoTimeout), IoStatus::Ok);  // no Host
    const auto r = readResponse(c);
    ASSERT_TRUE(r);
    EXPECT_EQ(statusOf(*r), 400);
    // Nothing of the first request leaks into the second one's record.
    EXPECT_TRUE(record({{"status", "400"},
                        {"method", "-"},
                        {"path", "-"},
                        {"backend", "-"},
                        {"cause", "bad_request"}}));
}

TEST_F(HttpProxyTest, HeadLimitsAre414And431) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()});
    EXPECT_EQ(statusOf(rawExchange(
                  port, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: h\r\n\r\n")),
              414);
    std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
    for (int i = 0; i < 101; ++i) many += "X-F" + std::to_string(i) + ": v\r\n";
    EXPECT_EQ(statusOf(rawExchange(port, many + "\r\n")), 431);
    EXPECT_EQ(statusOf(rawExchange(port, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " +
                                             std::string(33 * 1024, 'b') + "\r\n\r\n")),
              431);
    EXPECT_EQ(backend.requests(), 0u);
}

/** Request-smuggling inputs: each gets its status and the backend receives nothing at all. */
TEST_F(HttpProxyTest, SmugglingAttemptsNeverReachTheBackend) {
    TestBackend sink(BackendMode::Sink);
    const auto port = startGateway({sink.address()});
    struct Case {
        const char* name;
        std::string request;
        int status;
    };
    const std::vector<Case> cases = {
        {"CL and TE",
         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: "
         "chunked\r\n\r\n0\r\n\r\n",
         400},
        {"TE and CL",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
         "4\r\n\r\n0\r\n\r\n",
         400},
        {"differing CL",
         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400},
        {"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4, 5\r\n\r\nabcde", 400},
        {"space before colon", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 4\r\n\r\nabcd", 400},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n folded\r\n\r\n", 400},
        {"bare CR", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},
        {"TE not last chunked",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {"TE twice",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
         "chunked\r\n\r\n0\r\n\r\n",
         400},
        {"TE unknown",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", 501},
        {"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"bad chunk size",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
         400},
        {"chunk size overflow",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
         400},
        {"chunk LF only",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", 400},
        {"LF-only head", "GET / HTTP/1.1\nHost: h\n\n", 400},
        {"NUL in field", std::string("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", 35), 400},
        {"CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
        {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
        {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"negative CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
    };
    for (const auto& c : cases) {
        const std::string resp = rawExchange(port, c.request);
        EXPECT_EQ(statusOf(resp), c.status) << c.name << ": " << resp;
        EXPECT_NE(resp.find("Connection: close\r\n"), std::string::npos) << c.name;
    }
    std::size_t bad = 0;
    for (const auto& c : cases) bad += c.status == 400;
    EXPECT_TRUE(record({{"status", "400"}, {"cause", "bad_request"}}, bad));
    EXPECT_EQ(sink.acceptedConnections(), 0u);
    EXPECT_EQ(sink.bytesReceived(), 0u);
}

TEST_F(HttpProxyTest, KeptAliveConnectionsDoNotHoldUpTheShutdown) {
    HttpBackend backend;
    // drain_timeout is long: only a request in flight may use it.
    const std::string toml = gatewayToml(1) + httpListenerToml("web", "site") +
                             poolToml("site", {backend.address()}, "drain_timeout = \"60s\"");
    postern_ = &runPostern(toml);
    ASSERT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
    const auto port = postern_->listeningPort("web", kStartTimeout);
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(c.sendAll("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    ASSERT_TRUE(readResponse(c));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(postern_->sendSignal(SIGTERM));
    // The idle client connection is closed at once, and postern exits without waiting 60 s.
    const auto end = c.recvAll(kIoTimeout);
    EXPECT_TRUE(end.closed()) << toString(end.status);
    EXPECT_EQ(postern_->waitExit(Millis(20000)), 0);
    EXPECT_LT(msSince(start), 15000.0);
}

TEST_F(HttpProxyTest, AReloadThatRemovesTheListenerLetsARequestInFlightFinish) {
    HttpBackend backend;
    const std::string pool = poolToml("site", {backend.address()}, "drain_timeout = \"30s\"");
    const std::string other = listenerToml("other", "site");
    postern_ = &runPostern(gatewayToml(1) + httpListenerToml("web", "site") + other + pool);
    ASSERT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
    const auto port = postern_->listeningPort("web", kStartTimeout);
    // An idle kept-alive client, and one whose request is in flight.
    auto idle = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(idle.sendAll("GET /a HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout), IoStatus::Ok);
    ASSERT_TRUE(readResponse(idle));
    auto busy = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(busy.sendAll("GET /sleep/1500 HTTP/1.1\r\nHost: h\r\n\r\n", kIoTimeout),
              IoStatus::Ok);
    ASSERT_TRUE(backend.waitForRequests(2, kIoTimeout));
    postern_->writeConfig(gatewayToml(1) + other + pool);
    ASSERT_TRUE(postern_->sendSignal(SIGHUP));
    ASSERT_TRUE(postern_->waitForLine(LinePattern("configuration reloaded"), kStartTimeout));
    // The idle one is closed at once; the busy one gets its response, then the close.
    EXPECT_TRUE(idle.recvAll(kIoTimeout).closed());
    const auto r = busy.recvAll(kIoTimeout);
    EXPECT_EQ(statusOf(r.data), 200) << r.data;
    EXPECT_EQ(bodyOf(r.data), "slept\n");
    EXPECT_NE(r.data.find("Connection: close\r\n"), std::string::npos) << r.data;
    EXPECT_TRUE(record({{"path", "/sleep/1500"}, {"status", "200"}, {"cause", "complete"}}));
}

TEST_F(HttpProxyTest, ProxyCarriedClientAddressIsForwarded) {
    HttpBackend backend;
    const auto port = startGateway({backend.address()},
                                   "accept_proxy = true\ntrusted_proxies = [\"127.0.0.0/8\"]");
    const std::string resp =
        rawExchange(port,
                    "PROXY TCP4 198.51.100.7 127.0.0.1 4242 80\r\n"
                    "GET /headers HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    ASSERT_EQ(statusOf(resp), 200) << resp;
    const std::string seen = bodyOf(resp);
    EXPECT_NE(seen.find("X-Forwarded-For: 198.51.100.7\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("X-Forwarded-Port: 80\r\n"), std::string::npos) << seen;
    EXPECT_NE(seen.find("Forwarded: for=198.51.100.7;"), std::string::npos) << seen;
    EXPECT_TRUE(record({{"client", "198.51.100.7:4242"}, {"status", "200"}}));
}

TEST_F(HttpProxyTest, RoutesChooseThePoolPerRequestOnOneConnection) {
    HttpBackend site;
    HttpBackend chat;
    const std::string toml =
        gatewayToml(1) +
        httpListenerToml("web", "site",
                         "[[listener.route]]\nhost = \"*.example.com\"\npath_prefix = \"/ws/\"\n"
                         "pool = \"chat\"\n") +
        poolToml("site", {site.address()}) + poolToml("chat", {chat.address()});
    postern_ = &runPostern(toml);
    ASSERT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
    const auto port = postern_->listeningPort("web", kStartTimeout);
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    const std::vector<std::pair<std::string, std::string>> requests = {
        {"a.example.com", "/ws/room"},
        {"a.example.com", "/other"},
        {"example.com", "/ws/room"},
        {"B.Example.Com:8080", "/ws/x"}};
    for (const auto& [host, path] : requests) {
        ASSERT_EQ(c.sendAll("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n", kIoTimeout),
                  IoStatus::Ok);
        ASSERT_TRUE(readResponse(c)) << host << path;
    }
    EXPECT_EQ(chat.requests(), 2u);
    EXPECT_EQ(site.requests(), 2u);
    EXPECT_TRUE(record({{"host", "B.Example.Com:8080"}, {"pool", "chat"}}));
}

}  // namespace
}  // namespace postern::test
