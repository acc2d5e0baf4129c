// The admin endpoint (SPEC §6, docs/operations.md "Admin endpoint") through the real binary:
// token rules (none, wrong, right; protect_reads; both applied live by a reload), malformed and
// unknown requests answered without effect, a backend drained by hand as a client sees it (new
// connections avoid it, an open one works until the pool's drain deadline, then is cut) and
// enabled again, POST /reload applied and rejected (errors with file:line:col), a slow client
// holding half a head stalls neither other admin clients nor proxied traffic and gets 408, the
// 65th connection closed at accept, a bind in use failing the start, a reload moving the endpoint.
#include <signal.h>

#include <algorithm>
#include <regex>
#include <thread>

#include "harness/logfmt.h"
#include "http_support.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kToken = "s3cret-T0ken";

/** [admin] on a free loopback port, with `extra` keys. */
std::string adminToml(std::string_view extra = {}, std::string_view bind = "127.0.0.1:0") {
    return "[admin]\nbind = \"" + std::string(bind) + "\"\n" + std::string(extra) + "\n";
}

class AdminTest : public IntegrationTest {
protected:
    /** Starts postern with `toml`; waits for ready and the admin endpoint's address. */
    ::testing::AssertionResult start(const std::string& toml) {
        p_ = &runPostern(toml);
        if (!p_->waitReady(kStartTimeout)) return ::testing::AssertionFailure() << "not ready";
        admin_port_ = adminPortAt(1);
        if (admin_port_ == 0) return ::testing::AssertionFailure() << "no admin address logged";
        return ::testing::AssertionSuccess();
    }

    /** The port of the `occurrence`-th "admin endpoint listening" line. */
    std::uint16_t adminPortAt(std::size_t occurrence) {
        auto line = p_->waitForLine(logLine({{"msg", "admin endpoint listening"}}), kStartTimeout,
                                    Stream::Stderr, occurrence);
        if (!line) return 0;
        auto address = logfmtField(*line, "address");
        if (!address) return 0;
        return static_cast<std::uint16_t>(std::stoi(address->substr(address->rfind(':') + 1)));
    }

    std::string url(std::string_view path) const {
        return "http://127.0.0.1:" + std::to_string(admin_port_) + std::string(path);
    }

    /** curl -i: the status line, fields and body. `token` empty = no Authorization. */
    std::string curl(std::string_view method, std::string_view path, std::string_view token = {},
                     std::vector<std::string> extra = {}) {
        // curl -X HEAD would wait for the body the fields announce: -I asks for the head only.
        std::vector<std::string> args = {"-i", "-g"};
        if (method == "HEAD") {
            args.push_back("-I");
        } else {
            args.push_back("-X");
            args.push_back(std::string(method));
        }
        if (!token.empty()) {
            args.push_back("-H");
            args.push_back("Authorization: Bearer " + std::string(token));
        }
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(url(path));
        return runCurl(args).out;
    }
    int status(std::string_view method, std::string_view path, std::string_view token = {}) {
        return statusOf(curl(method, path, token));
    }

    /** One raw request on a new connection; the whole answer (the server closes after errors). */
    std::string raw(std::string_view request) { return rawExchange(admin_port_, request); }

    std::size_t count(const LinePattern& pattern) const {
        return p_->matchingLines(pattern, Stream::Stderr).size();
    }

    PosternProcess* p_ = nullptr;
    std::uint16_t admin_port_ = 0;
};

std::string poolWith(const std::vector<std::string>& targets, std::string_view drain = "30s") {
    return poolToml("app", targets, "drain_timeout = \"" + std::string(drain) + "\"");
}

/** Field `name` of a response head (case as sent), empty when absent. */
std::string fieldOf(const std::string& response, const std::string& name) {
    std::smatch m;
    const std::regex re("\r\n" + name + ": ([^\r]*)\r\n");
    return std::regex_search(response, m, re) ? m[1].str() : std::string();
}

TEST_F(AdminTest, TokenRules) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    ASSERT_TRUE(start(gatewayToml(2) + adminToml("token = \"" + std::string(kToken) + "\"") +
                      listenerToml("front", "app") + poolWith(addressesOf({&a}))));

    // Reads are open without protect_reads.
    EXPECT_EQ(status("GET", "/metrics"), 200);
    EXPECT_EQ(status("GET", "/status"), 200);
    EXPECT_EQ(status("GET", "/metrics", "wrong"), 200);

    // Actions: none → 401 with the challenge, wrong → 403, right → 200.
    const std::string drain = "/pools/app/backends/" + a.address() + "/drain";
    for (const std::string& path : {std::string("/reload"), drain}) {
        const std::string none = curl("POST", path);
        EXPECT_EQ(statusOf(none), 401) << none;
        EXPECT_EQ(fieldOf(none, "WWW-Authenticate"), "Bearer realm=\"postern admin\"") << none;
        for (const std::string& wrong : std::vector<std::string>{
                 "s3cret-T0ke", "s3cret-T0ken2", "S3CRET-T0KEN", "x", std::string(300, 'a')})
            EXPECT_EQ(status("POST", path, wrong), 403) << path << " " << wrong;
        // Basic credentials are not a bearer token.
        EXPECT_EQ(statusOf(curl("POST", path, {}, {"-u", "u:s3cret-T0ken"})), 401);
    }
    EXPECT_EQ(count(logLine({{"msg", "backend drained by admin"}})), 0u);
    EXPECT_EQ(count(logLine({{"msg", "reload applied"}})), 0u);

    const std::string drained = curl("POST", drain, kToken);
    EXPECT_EQ(statusOf(drained), 200) << drained;
    EXPECT_EQ(bodyOf(drained), "{\"pool\":\"app\",\"backend\":\"" + a.address() +
                                   "\",\"action\":\"drain\",\"result\":\"drained\"}");
    const std::string reloaded = curl("POST", "/reload", kToken);
    EXPECT_EQ(statusOf(reloaded), 200) << reloaded;
    EXPECT_EQ(count(logLine({{"msg", "backend drained by admin"}})), 1u);
}

TEST_F(AdminTest, ProtectReadsAndTokenChangesApplyOnReload) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    const std::string rest = listenerToml("front", "app") + poolWith(addressesOf({&a}));
    ASSERT_TRUE(start(gatewayToml(2) +
                      adminToml("token = \"" + std::string(kToken) + "\"\nprotect_reads = true") +
                      rest));
    for (const char* path : {"/metrics", "/status"}) {
        const std::string none = curl("GET", path);
        EXPECT_EQ(statusOf(none), 401) << none;
        EXPECT_EQ(fieldOf(none, "WWW-Authenticate"), "Bearer realm=\"postern admin\"");
        EXPECT_EQ(status("GET", path, "nope"), 403) << path;
        EXPECT_EQ(status("HEAD", path, "nope"), 403) << path;
        EXPECT_EQ(status("GET", path, kToken), 200) << path;
    }

    // The dashboard page holds no data: it loads without the token (and asks for it).
    const std::string page = curl("GET", "/");
    EXPECT_EQ(statusOf(page), 200);
    EXPECT_EQ(fieldOf(page, "Content-Type"), "text/html; charset=utf-8");

    // A new token and open reads, through the admin endpoint itself; a connection opened
    // before the reload sees the new rules on its next request.
    BlockingClient kept = BlockingClient::connect("127.0.0.1", admin_port_, kIoTimeout);
    ASSERT_TRUE(kept.connected());
    p_->writeConfig(gatewayToml(2) + adminToml("token = \"other-token\"") + rest);
    const std::string reloaded = curl("POST", "/reload", kToken);
    ASSERT_EQ(statusOf(reloaded), 200) << reloaded;
    EXPECT_EQ(status("GET", "/status"), 200);
    EXPECT_EQ(status("POST", "/reload", kToken), 403);
    EXPECT_EQ(status("POST", "/reload", "other-token"), 200);
    ASSERT_EQ(kept.sendAll("GET /status HTTP/1.1\r\nHost: a\r\n\r\n", kIoTimeout), IoStatus::Ok);
    auto answer = readResponse(kept);
    ASSERT_TRUE(answer);
    EXPECT_EQ(statusOf(*answer), 200);
}

TEST_F(AdminTest, MalformedAndUnknownRequestsHaveNoEffect) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    ASSERT_TRUE(start(gatewayToml(2) + adminToml("token = \"" + std::string(kToken) + "\"") +
                      listenerToml("front", "app") + poolWith(addressesOf({&a}))));
    const std::string auth = "Authorization: Bearer " + std::string(kToken) + "\r\n";
    auto post = [&](const std::string& path) {
        return raw("POST " + path + " HTTP/1.1\r\nHost: a\r\n" + auth +
                   "Connection: close\r\n\r\n");
    };

    // A bad request line, a method byte that cannot be, a bad version: 400/505, connection closed.
    std::string r = raw("GARBAGE\r\n\r\n");
    EXPECT_EQ(statusOf(r), 400) << r;
    EXPECT_EQ(fieldOf(r, "Connection"), "close");
    EXPECT_EQ(statusOf(raw("\x16\x03\x01\x02\x00\x01\x00")), 400);
    EXPECT_EQ(statusOf(raw("POST /reload HTTP/2.0\r\nHost: a\r\n" + auth + "\r\n")), 505);
    EXPECT_EQ(statusOf(raw("POST /reload HTTP/1.1\r\n" + auth + "\r\n")), 400);  // no Host
    // A head over 8 KiB: 431 (a request line over it: 414 or 431, both limits are 8 KiB).
    r = raw("POST /reload HTTP/1.1\r\nHost: a\r\n" + auth + "X-Pad: " + std::string(9000, 'p') +
            "\r\n\r\n");
    EXPECT_EQ(statusOf(r), 431) << r;
    r = raw("POST /" + std::string(9000, 'r') + " HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_TRUE(statusOf(r) == 414 || statusOf(r) == 431) << r;
    // A body over 4 KiB: 413.
    r = raw("POST /reload HTTP/1.1\r\nHost: a\r\n" + auth + "Content-Length: 5000\r\n\r\n" +
            std::string(5000, 'b'));
    EXPECT_EQ(statusOf(r), 413) << r;
    // Bad percent-encoding, an encoded '/', empty segments: 400.
    for (const std::string backend : {"127.0.0.1%3", "127.0.0.1%zz80", "a%2Fb", ""})
        EXPECT_EQ(statusOf(post("/pools/app/backends/" + backend + "/drain")), 400) << backend;
    // Two Authorization fields: 400.
    EXPECT_EQ(statusOf(raw("POST /reload HTTP/1.1\r\nHost: a\r\n" + auth + auth + "\r\n")), 400);
    // Unknown pool, unknown backend, unknown action or path: 404; a wrong method: 405 + Allow.
    r = post("/pools/nope/backends/" + a.address() + "/drain");
    EXPECT_EQ(statusOf(r), 404) << r;
    EXPECT_EQ(bodyOf(r), "{\"error\":\"no pool named 'nope'\"}");
    EXPECT_EQ(statusOf(post("/pools/app/backends/127.0.0.1:1/drain")), 404);
    EXPECT_EQ(statusOf(post("/pools/app/backends/" + a.address() + "/pause")), 404);
    EXPECT_EQ(status("GET", "/nothing-here"), 404);
    r = curl("GET", "/reload", kToken);
    EXPECT_EQ(statusOf(r), 405);
    EXPECT_EQ(fieldOf(r, "Allow"), "POST");
    r = curl("DELETE", "/metrics");
    EXPECT_EQ(statusOf(r), 405);
    EXPECT_EQ(fieldOf(r, "Allow"), "GET, HEAD");

    // Nothing happened: no drain, no reload; the backend still takes connections.
    EXPECT_EQ(count(logLine({{"msg", "backend drained by admin"}})), 0u);
    EXPECT_EQ(count(logLine({{"msg", "reload applied"}})), 0u);
    EXPECT_EQ(count(logLine({{"msg", "reload rejected"}})), 0u);
    const auto port = p_->listeningPort("front", kStartTimeout);
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), std::optional<std::string>("a"));
    // And the endpoint still serves.
    EXPECT_EQ(status("GET", "/metrics"), 200);
}

TEST_F(AdminTest, RuntimeDrainSeenByClientsThenEnable) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    TestBackend b(BackendMode::IdThenEcho, "b");
    ASSERT_TRUE(start(gatewayToml(2) + adminToml() + listenerToml("front", "app") +
                      poolWith(addressesOf({&a, &b}), "3s")));
    const auto port = p_->listeningPort("front", kStartTimeout);
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b"}));

    // An open connection on a.
    std::optional<BlockingClient> on_a;
    for (int i = 0; i < 20 && !on_a; ++i) {
        auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
        if (readLine(c, kIoTimeout) == std::optional<std::string>("a")) on_a = std::move(c);
    }
    ASSERT_TRUE(on_a) << "no connection reached a";

    // Drained by hand (the address as %3A-encoded, as a client may send it).
    std::string encoded = a.address();
    encoded.replace(encoded.rfind(':'), 1, "%3A");
    const std::string drained = curl("POST", "/pools/app/backends/" + encoded + "/drain");
    const auto drained_at = Clock::now();
    ASSERT_EQ(statusOf(drained), 200) << drained;
    ASSERT_TRUE(p_->waitForLine(
        logLine({{"msg", "backend drained by admin"}, {"pool", "app"}, {"backend", a.address()}}),
        kIoTimeout));

    // /status and /metrics say so.
    const std::string shown = bodyOf(curl("GET", "/status"));
    EXPECT_NE(shown.find("{\"backend\":\"" + a.address() + "\",\"host\":\"127.0.0.1\",\"state\":" +
                         "\"draining\",\"up\":true,\"draining\":true,\"admin_drained\":true,"),
              std::string::npos)
        << shown;
    EXPECT_NE(curl("GET", "/metrics")
                  .find("postern_backend_draining{pool=\"app\",backend=\"" + a.address() + "\"} 1"),
              std::string::npos);

    // New connections avoid a; the open one still works.
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), std::optional<std::string>("b"));
    EXPECT_TRUE(echoRoundTrip(*on_a, "still here\n"));
    // Draining twice changes nothing.
    EXPECT_NE(bodyOf(curl("POST", "/pools/app/backends/" + a.address() + "/drain"))
                  .find("\"result\":\"already draining\""),
              std::string::npos);

    // Cut at the drain deadline (3 s, in its last 10 %), not before (the lower bound leaves room
    // for a slow curl on a busy machine: the drain happened before it returned).
    auto cut = on_a->recvAll(10s);
    const double after_ms = msSince(drained_at);
    EXPECT_TRUE(cut.closed()) << toString(cut.status);
    EXPECT_GE(after_ms, 2000.0);
    EXPECT_LE(after_ms, 8000.0);

    // Enabled: a takes new connections again.
    const std::string enabled = curl("POST", "/pools/app/backends/" + a.address() + "/enable");
    ASSERT_EQ(statusOf(enabled), 200) << enabled;
    EXPECT_EQ(bodyOf(enabled), "{\"pool\":\"app\",\"backend\":\"" + a.address() +
                                   "\",\"action\":\"enable\",\"result\":\"enabled\"}");
    EXPECT_TRUE(p_->waitForLine(logLine({{"msg", "backend enabled by admin"}}), kIoTimeout));
    EXPECT_NE(bodyOf(curl("GET", "/status"))
                  .find("{\"backend\":\"" + a.address() +
                        "\",\"host\":\"127.0.0.1\",\"state\":\"up\",\"up\":true,\"draining\":false,"
                        "\"admin_drained\":false,"),
              std::string::npos);
    EXPECT_TRUE(waitUntilAllServe(port, {"a", "b"}));
}

TEST_F(AdminTest, Ipv6BackendsInBracketsOrEncoded) {
    TestBackend v4(BackendMode::IdThenEcho, "v4");
    TestBackend v6(BackendMode::IdThenEcho, "v6", "::1");
    const std::string six = "[::1]:" + std::to_string(v6.port());
    ASSERT_TRUE(start(gatewayToml(1) + adminToml({}, "[::1]:0") + listenerToml("front", "app") +
                      poolWith({v4.address(), six})));
    const auto port = p_->listeningPort("front", kStartTimeout);
    ASSERT_TRUE(waitUntilAllServe(port, {"v4", "v6"}));
    auto on = [&](const std::string& path) {
        return statusOf(runCurl({"-i", "-g", "-X", "POST",
                                 "http://[::1]:" + std::to_string(admin_port_) + path})
                            .out);
    };
    EXPECT_EQ(on("/pools/app/backends/" + six + "/drain"), 200);
    EXPECT_TRUE(p_->waitForLine(logLine({{"msg", "backend drained by admin"}, {"backend", six}}),
                                kIoTimeout));
    for (int i = 0; i < 6; ++i)
        EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout),
                  std::optional<std::string>("v4"));
    EXPECT_EQ(on("/pools/app/backends/%5B%3A%3A1%5D%3A" + std::to_string(v6.port()) + "/enable"),
              200);
    EXPECT_TRUE(waitUntilAllServe(port, {"v4", "v6"}));
}

TEST_F(AdminTest, EnableBeforeTheDeadlineSparesOpenConnections) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    ASSERT_TRUE(start(gatewayToml(1) + adminToml() + listenerToml("front", "app") +
                      poolWith(addressesOf({&a}), "4s")));
    const auto port = p_->listeningPort("front", kStartTimeout);
    ASSERT_TRUE(waitUntilAllServe(port, {"a"}));
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_EQ(readLine(c, kIoTimeout), std::optional<std::string>("a"));
    const std::string path = "/pools/app/backends/" + a.address();
    ASSERT_EQ(status("POST", path + "/drain"), 200);
    // The only backend drained: new connections find none.
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, 3s), std::nullopt);
    ASSERT_EQ(status("POST", path + "/enable"), 200);
    // Past the deadline the connection still works.
    const auto until = Clock::now() + 5s;
    while (Clock::now() < until) {
        ASSERT_TRUE(echoRoundTrip(c, "x\n"));
        std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), std::optional<std::string>("a"));
}

TEST_F(AdminTest, DrainSurvivesAReload) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    TestBackend b(BackendMode::IdThenEcho, "b");
    const std::string head = gatewayToml(2) + adminToml() + listenerToml("front", "app");
    ASSERT_TRUE(start(head + poolWith(addressesOf({&a, &b}), "3s")));
    const auto port = p_->listeningPort("front", kStartTimeout);
    ASSERT_TRUE(waitUntilAllServe(port, {"a", "b"}));
    ASSERT_EQ(status("POST", "/pools/app/backends/" + a.address() + "/drain"), 200);
    // A reload that keeps both backends (another drain_timeout).
    p_->writeConfig(head + poolWith(addressesOf({&a, &b}), "4s"));
    ASSERT_EQ(status("POST", "/reload"), 200);
    for (int i = 0; i < 8; ++i)
        EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), std::optional<std::string>("b"));
}

TEST_F(AdminTest, ReloadAppliedAndRejected) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    const std::string head = gatewayToml(2) + adminToml("token = \"" + std::string(kToken) + "\"");
    const std::string rest = listenerToml("front", "app") + poolWith(addressesOf({&a}));
    ASSERT_TRUE(start(head + rest));

    // Rejected: errors with file:line:col, the running config unchanged.
    const std::string bad = head + rest +
                            "[[pool]]\nname = \"x\"\nbalancer = 42\n  [pool.discovery]\n  targets "
                            "= [\"127.0.0.1:1\"]\n";
    const std::string path = p_->writeConfig(bad).string();
    const int line = static_cast<int>(
        std::count(bad.begin(), bad.begin() + bad.find("balancer = 42"), '\n') + 1);
    std::string r = curl("POST", "/reload", kToken);
    EXPECT_EQ(statusOf(r), 422) << r;
    EXPECT_EQ(bodyOf(r),
              "{\"result\":\"rejected\",\"generation\":1,\"warnings\":[],\"errors\":[\"" + path +
                  ":" + std::to_string(line) +
                  ":12: 'balancer' must be a string, not an integer\"]}");
    EXPECT_TRUE(p_->waitForLine(logLine({{"msg", "reload rejected"}}), kIoTimeout));
    const auto port = p_->listeningPort("front", kStartTimeout);
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), std::optional<std::string>("a"));

    // Applied: generation 2, logged with its origin.
    p_->writeConfig(head + rest + "\n");
    r = curl("POST", "/reload", kToken);
    EXPECT_EQ(statusOf(r), 200) << r;
    EXPECT_EQ(bodyOf(r), "{\"result\":\"applied\",\"generation\":2,\"warnings\":[],\"errors\":[]}");
    EXPECT_TRUE(p_->waitForLine(
        logLine({{"msg", "configuration reloaded"}, {"origin", "admin API"}}), kIoTimeout));

    // Applied with a warning ([gateway] workers needs a restart).
    p_->writeConfig(gatewayToml(3) + adminToml("token = \"" + std::string(kToken) + "\"") + rest);
    r = curl("POST", "/reload", kToken);
    EXPECT_EQ(statusOf(r), 200) << r;
    EXPECT_NE(bodyOf(r).find("\"generation\":3,\"warnings\":[\"[gateway] workers"),
              std::string::npos)
        << r;
}

TEST_F(AdminTest, SlowClientStallsNeitherAdminNorTraffic) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    ASSERT_TRUE(start(gatewayToml(2) + adminToml() + listenerToml("front", "app") +
                      poolWith(addressesOf({&a}))));
    const auto port = p_->listeningPort("front", kStartTimeout);
    ASSERT_TRUE(waitUntilAllServe(port, {"a"}));

    // Half a head, then nothing.
    auto slow = BlockingClient::connect("127.0.0.1", admin_port_, kIoTimeout);
    ASSERT_TRUE(slow.connected());
    ASSERT_EQ(slow.sendAll("GET /metrics HTTP/1.1\r\nHost: a\r\nX-Slow: ", kIoTimeout),
              IoStatus::Ok);
    const auto slow_since = Clock::now();

    // Meanwhile: other admin clients and proxied connections are served at once.
    for (int i = 0; i < 5; ++i) {
        const auto t0 = Clock::now();
        EXPECT_EQ(status("GET", "/status"), 200);
        EXPECT_LT(msSince(t0), 2000.0);
        auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
        EXPECT_EQ(readLine(c, kIoTimeout), std::optional<std::string>("a"));
        EXPECT_TRUE(echoRoundTrip(c, "through\n"));
    }
    // An action too.
    EXPECT_EQ(status("POST", "/pools/app/backends/" + a.address() + "/enable"), 200);

    // The slow one gets 408 after 10 s from its first byte, and is closed.
    auto r = slow.recvAll(20s);
    const double waited = msSince(slow_since);
    EXPECT_TRUE(r.closed()) << toString(r.status);
    EXPECT_EQ(statusOf(r.data), 408) << r.data;
    EXPECT_GE(waited, 9500.0);
    EXPECT_LE(waited, 15000.0);
}

TEST_F(AdminTest, SixtyFifthConnectionIsClosedAtAccept) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    ASSERT_TRUE(start(gatewayToml(1) + adminToml() + listenerToml("front", "app") +
                      poolWith(addressesOf({&a}))));
    // 64 kept-alive connections, each served once (so each is open on the server's side).
    std::vector<BlockingClient> open;
    for (int i = 0; i < 64; ++i) {
        auto c = BlockingClient::connect("127.0.0.1", admin_port_, kIoTimeout);
        ASSERT_TRUE(c.connected()) << i;
        ASSERT_EQ(c.sendAll("GET /status HTTP/1.1\r\nHost: a\r\n\r\n", kIoTimeout), IoStatus::Ok);
        auto answer = readResponse(c);
        ASSERT_TRUE(answer) << "connection " << i;
        ASSERT_EQ(statusOf(*answer), 200);
        open.push_back(std::move(c));
    }
    // The 65th: closed without an answer.
    auto extra = BlockingClient::connect("127.0.0.1", admin_port_, kIoTimeout);
    ASSERT_TRUE(extra.connected());
    extra.sendAll("GET /status HTTP/1.1\r\nHost: a\r\n\r\n", kIoTimeout);
    auto refused = extra.recvAll(kIoTimeout);
    EXPECT_TRUE(refused.closed()) << toString(refused.status);
    EXPECT_EQ(refused.data, "");
    // The 64 still work; once one goes, a new one is served.
    ASSERT_EQ(open[10].sendAll("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", kIoTimeout),
              IoStatus::Ok);
    auto again = readResponse(open[10]);
    ASSERT_TRUE(again);
    EXPECT_EQ(statusOf(*again), 200);
    open[0].close();
    bool served = false;
    for (int i = 0; i < 50 && !served; ++i) {
        served = status("GET", "/status") == 200;
        if (!served) std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(served);
}

TEST_F(AdminTest, BindInUseFailsTheStart) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    TestBackend taken(BackendMode::Echo, "taken");
    auto& p = runPostern(gatewayToml(1) + adminToml({}, taken.address()) +
                         listenerToml("front", "app") + poolWith(addressesOf({&a})));
    EXPECT_EQ(p.waitExit(kStartTimeout), std::optional<int>(1));
    EXPECT_NE(p.stderrText().find("cannot bind the admin endpoint to " + taken.address() + ": "),
              std::string::npos)
        << p.stderrText();
}

TEST_F(AdminTest, ReloadMovesStartsAndStopsTheEndpoint) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    const std::string rest = listenerToml("front", "app") + poolWith(addressesOf({&a}));
    ASSERT_TRUE(start(gatewayToml(1) + adminToml() + rest));
    const std::uint16_t first = admin_port_;

    // A new address: the reload is answered on the old one, the new one serves after it.
    const std::uint16_t next = deadPort();
    p_->writeConfig(gatewayToml(1) + adminToml({}, "127.0.0.1:" + std::to_string(next)) + rest);
    ASSERT_EQ(status("POST", "/reload"), 200);
    ASSERT_EQ(adminPortAt(2), next);
    admin_port_ = next;
    EXPECT_EQ(status("GET", "/status"), 200);
    admin_port_ = first;
    EXPECT_EQ(status("GET", "/status"), 0) << "the old address still answers";

    // An address in use: rejected with its position, the endpoint stays where it was.
    TestBackend taken(BackendMode::Echo, "taken");
    const std::string in_use = gatewayToml(1) + adminToml({}, taken.address()) + rest;
    const std::string path = p_->writeConfig(in_use).string();
    admin_port_ = next;
    const std::string r = curl("POST", "/reload");
    EXPECT_EQ(statusOf(r), 422) << r;
    const int bind_line = static_cast<int>(std::count(
                              in_use.begin(), in_use.begin() + in_use.find("bind = \"127"), '\n')) +
                          1;
    EXPECT_NE(bodyOf(r).find(path + ":" + std::to_string(bind_line) +
                             ":8: cannot bind the admin endpoint to " + taken.address()),
              std::string::npos)
        << r;
    EXPECT_EQ(status("GET", "/status"), 200);

    // Removed: closed (by SIGHUP: a POST /reload would lose its answer with the endpoint).
    p_->writeConfig(gatewayToml(1) + rest);
    ASSERT_TRUE(p_->sendSignal(SIGHUP));
    ASSERT_TRUE(p_->waitForLine(logLine({{"msg", "admin endpoint closed"}}), kIoTimeout));
    EXPECT_EQ(status("GET", "/status"), 0);
}

}  // namespace
}  // namespace postern::test
