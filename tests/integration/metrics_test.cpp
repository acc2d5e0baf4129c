// GET /metrics and GET /status of the real binary ([admin] bind), scraped with curl while clients
// use it: the counters move as connections are made (connections, bytes, backend connections and
// connect times, close causes), a connect failure and a max_connections refusal are counted by
// reason, a killed backend's postern_backend_up goes 1 → 0 and /status says "down" with its last
// probe's error, a rejected and an applied reload are counted and listed (errors with
// file:line:col). /status is parsed by python3's json module (strict). Every wait is for a value
// seen in a scrape, with a deadline.
#include <signal.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "certs/test_pki.h"
#include "harness/logfmt.h"
#include "http_support.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr auto kProbe =
    "interval = \"200ms\"\ntimeout = \"150ms\"\nhealthy_threshold = 2\nunhealthy_threshold = 2";

/** `name{labels}` → value, for every sample line of an exposition. */
using Scrape = std::map<std::string, double>;

Scrape parseExposition(const std::string& text) {
    Scrape out;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(start, end - start);
        start = end + 1;
        if (line.empty() || line[0] == '#') continue;
        const std::size_t space = line.rfind(' ');
        if (space == std::string::npos) continue;
        out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
    }
    return out;
}

std::string key(std::string_view name, std::string_view labels) {
    return std::string(name) + "{" + std::string(labels) + "}";
}

class MetricsTest : public IntegrationTest {
protected:
    ::testing::AssertionResult start(const std::string& toml) {
        toml_ = toml;
        p_ = &runPostern(toml);
        if (!p_->waitReady(kStartTimeout)) return ::testing::AssertionFailure() << "not ready";
        auto line = p_->waitForLine(logLine({{"msg", "admin endpoint listening"}}), kStartTimeout);
        if (!line) return ::testing::AssertionFailure() << "no admin endpoint logged";
        auto address = logfmtField(*line, "address");
        if (!address) return ::testing::AssertionFailure() << "no address in " << *line;
        admin_port_ =
            static_cast<std::uint16_t>(std::stoi(address->substr(address->rfind(':') + 1)));
        return ::testing::AssertionSuccess();
    }

    std::string get(std::string_view path) {
        return runCurl({"-g", "-f",
                        "http://127.0.0.1:" + std::to_string(admin_port_) + std::string(path)})
            .out;
    }
    Scrape scrape() { return parseExposition(get("/metrics")); }

    /** The value of `k` in a scrape; NaN when absent. */
    double value(const Scrape& s, const std::string& k) {
        auto it = s.find(k);
        return it == s.end() ? std::nan("") : it->second;
    }

    /** Scrapes until `ok(value of k)` holds (bounded); the last value seen otherwise. */
    ::testing::AssertionResult waitFor(const std::string& k, const std::function<bool(double)>& ok,
                                       Millis timeout = Millis(10000)) {
        const auto deadline = Clock::now() + timeout;
        double last = std::nan("");
        for (int i = 0; i < 1000 && Clock::now() < deadline; ++i) {
            last = value(scrape(), k);
            if (ok(last)) return ::testing::AssertionSuccess();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return ::testing::AssertionFailure()
               << k << " is " << last << " after " << timeout.count() << " ms";
    }

    /** Runs python3 on /status with `script` (after `import json, sys, re; d = json.load(...)`);
     * its stdout, or "FAILED: …" with stderr. */
    std::string checkStatus(const std::string& script, std::vector<std::string> args = {}) {
        const auto file = p_->dir().path() / "status.json";
        {
            std::ofstream out(file, std::ios::binary);
            out << get("/status");
        }
        const std::string program =
            "import json, sys, re\n"
            "d = json.load(open(sys.argv[1]), parse_constant=lambda c: "
            "sys.exit('not JSON: ' + c))\n" +
            script;
        args.insert(args.begin(), {"-c", program, file.string()});
        auto r = runCommand(systemPython(), args, kIoTimeout);
        if (!r.exit_code || *r.exit_code != 0) return "FAILED: " + r.err + r.out;
        return r.out;
    }

    PosternProcess* p_ = nullptr;
    std::uint16_t admin_port_ = 0;
    std::string toml_;
};

TEST_F(MetricsTest, CountersMoveAsClientsUseTheGateway) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    const std::string dead = "127.0.0.1:" + std::to_string(deadPort());
    ASSERT_TRUE(start(
        gatewayToml() + "[admin]\nbind = \"127.0.0.1:0\"\n\n" + listenerToml("front", "hc") +
        listenerToml("fail", "dead") + listenerToml("limited", "hc", "max_connections = 1") +
        poolToml("hc", addressesOf({&a, &b}), {}, "connect_timeout = \"1s\"\nretries = 0", kProbe) +
        poolToml("dead", {dead}, {}, "connect_timeout = \"1s\"\nretries = 0")));
    const auto front = p_->listeningPort("front", kStartTimeout);
    const auto fail = p_->listeningPort("fail", kStartTimeout);
    const auto limited = p_->listeningPort("limited", kStartTimeout);
    ASSERT_TRUE(front && fail && limited);
    ASSERT_TRUE(waitUntilAllServe(front, {"a", "b"}));

    const std::string fl = "listener=\"front\"";
    const std::string ba = "pool=\"hc\",backend=\"" + a.address() + "\"";
    const std::string bb = "pool=\"hc\",backend=\"" + b.address() + "\"";
    // The connections waitUntilAllServe made have ended (their bytes are counted at the end).
    ASSERT_TRUE(waitFor(key("postern_connections_active", fl), [](double v) { return v == 0; }));
    const Scrape s0 = scrape();
    for (const char* name :
         {"postern_config_generation", "postern_config_last_reload_timestamp_seconds",
          "postern_start_time_seconds"})
        EXPECT_TRUE(s0.count(name)) << name;
    EXPECT_EQ(value(s0, "postern_config_generation"), 1);
    EXPECT_EQ(value(s0, key("postern_build_info", "version=\"0.1.0\"")), 1);
    EXPECT_EQ(value(s0, key("postern_config_reloads_total", "result=\"applied\"")), 0);
    EXPECT_EQ(value(s0, key("postern_backend_up", ba)), 1);
    EXPECT_EQ(value(s0, key("postern_backend_up", bb)), 1);

    // Six clients through `front`, each an echo of 14 bytes after the backend's id line.
    constexpr int kClients = 6;
    const std::string payload = "hello metrics\n";
    for (int i = 0; i < kClients; ++i) {
        auto c = BlockingClient::connect("127.0.0.1", front, kIoTimeout);
        ASSERT_TRUE(c.connected());
        ASSERT_TRUE(readLine(c, kIoTimeout));
        ASSERT_TRUE(echoRoundTrip(c, payload));
        c.close();
    }
    const double in0 = value(s0, key("postern_bytes_total", fl + ",direction=\"in\""));
    ASSERT_TRUE(waitFor(key("postern_bytes_total", fl + ",direction=\"in\""),
                        [&](double v) { return v == in0 + kClients * payload.size(); }));
    ASSERT_TRUE(waitFor(key("postern_connections_closed_total", fl + ",cause=\"client_fin\""),
                        [&](double v) {
                            return v == value(s0, key("postern_connections_closed_total",
                                                      fl + ",cause=\"client_fin\"")) +
                                            kClients;
                        }));
    const Scrape s1 = scrape();
    auto delta = [&](const std::string& k) { return value(s1, k) - value(s0, k); };
    EXPECT_EQ(delta(key("postern_connections_total", fl)), kClients);
    EXPECT_EQ(value(s1, key("postern_connections_active", fl)), 0);
    // Out: the id line ("a\n" or "b\n") and the echo.
    EXPECT_EQ(delta(key("postern_bytes_total", fl + ",direction=\"out\"")),
              kClients * (payload.size() + 2));
    EXPECT_EQ(delta(key("postern_backend_connections_total", ba)) +
                  delta(key("postern_backend_connections_total", bb)),
              kClients);
    EXPECT_EQ(delta(key("postern_backend_connect_duration_seconds_count", "pool=\"hc\"")),
              kClients);
    EXPECT_EQ(value(s1, key("postern_backend_connect_duration_seconds_bucket",
                            "pool=\"hc\",le=\"+Inf\"")),
              value(s1, key("postern_backend_connect_duration_seconds_count", "pool=\"hc\"")));
    EXPECT_GT(value(s1, key("postern_probe_duration_seconds_count", ba)), 0);
    EXPECT_EQ(value(s1, key("postern_connections_refused_total", fl + ",reason=\"no_backend\"")),
              0);

    // A backend that refuses: connect failures, on the backend and as the close cause.
    {
        auto c = BlockingClient::connect("127.0.0.1", fail, kIoTimeout);
        ASSERT_TRUE(c.connected());
        EXPECT_TRUE(c.recvAll(kIoTimeout).closed());
    }
    EXPECT_TRUE(waitFor(
        key("postern_backend_connect_failures_total", "pool=\"dead\",backend=\"" + dead + "\""),
        [](double v) { return v == 1; }));
    EXPECT_TRUE(waitFor(
        key("postern_connections_closed_total", "listener=\"fail\",cause=\"connect_failed\""),
        [](double v) { return v == 1; }));

    // max_connections = 1: the second client is refused, by that reason.
    {
        auto held = BlockingClient::connect("127.0.0.1", limited, kIoTimeout);
        ASSERT_TRUE(held.connected());
        ASSERT_TRUE(readLine(held, kIoTimeout));
        auto refused = BlockingClient::connect("127.0.0.1", limited, kIoTimeout);
        ASSERT_TRUE(refused.connected());
        EXPECT_TRUE(refused.recvAll(kIoTimeout).closed());
        EXPECT_TRUE(waitFor(key("postern_connections_refused_total",
                                "listener=\"limited\",reason=\"max_connections\""),
                            [](double v) { return v == 1; }));
        EXPECT_EQ(value(scrape(), key("postern_connections_active", "listener=\"limited\"")), 1);
    }

    // A backend dies: its probe marks it down, and the scrape says so.
    b.stop();
    EXPECT_TRUE(waitFor(key("postern_backend_up", bb), [](double v) { return v == 0; }));
    EXPECT_EQ(value(scrape(), key("postern_backend_up", ba)), 1);

    const std::string status = checkStatus(R"py(
assert set(d) == {"version", "now", "started", "generation", "loaded", "connections_active",
                  "reloads", "listeners", "pools"}, sorted(d)
assert d["generation"] == 1 and d["reloads"] == []
assert [l["name"] for l in d["listeners"]] == ["front", "fail", "limited"]
front = d["listeners"][0]
assert front["protocol"] == "tcp" and front["pool"] == "hc", front
assert front["connections_total"] >= 6 and front["requests_total"] == 0, front
assert re.fullmatch(r"127\.0\.0\.1:\d+", front["bind"][0]), front
pools = {p["name"]: p for p in d["pools"]}
assert pools["hc"]["balance"] == "round_robin"
hc = {b["backend"]: b for b in pools["hc"]["backends"]}
a, b = hc[sys.argv[2]], hc[sys.argv[3]]
assert a["state"] == "up" and a["up"] is True and a["last_probe"]["ok"] is True, a
assert a["last_probe"]["error"] is None and a["last_probe"]["latency_ms"] >= 0, a
assert b["state"] == "down" and b["up"] is False, b
assert b["last_probe"]["ok"] is False and b["last_probe"]["error"], b
dead = pools["dead"]["backends"][0]
assert dead["last_probe"] is None and dead["connect_failures"] == 1 and dead["region"] is None, dead
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d["now"]), d["now"]
print("ok")
)py",
                                           {a.address(), b.address()});
    EXPECT_EQ(status, "ok\n");
}

TEST_F(MetricsTest, ReloadsAreCountedAndListed) {
    TestBackend a(BackendMode::IdThenEcho, "a");
    const std::string toml = gatewayToml() + "[admin]\nbind = \"127.0.0.1:0\"\n\n" +
                             listenerToml("front", "hc") + poolToml("hc", addressesOf({&a}));
    ASSERT_TRUE(start(toml));
    const auto front = p_->listeningPort("front", kStartTimeout);
    ASSERT_TRUE(waitUntilAllServe(front, {"a"}));
    const std::string rejected = key("postern_config_reloads_total", "result=\"rejected\"");
    const std::string applied = key("postern_config_reloads_total", "result=\"applied\"");
    const double loaded0 = value(scrape(), "postern_config_last_reload_timestamp_seconds");

    // A file with an error on line 3: rejected, generation unchanged.
    p_->writeConfig(toml + "\n[[pool]]\nname = 1\n");
    ASSERT_TRUE(p_->sendSignal(SIGHUP));
    ASSERT_TRUE(waitFor(rejected, [](double v) { return v == 1; }));
    Scrape s = scrape();
    EXPECT_EQ(value(s, applied), 0);
    EXPECT_EQ(value(s, "postern_config_generation"), 1);

    // The same file as at start: applied, generation 2, the listener's counters kept.
    const double total_before = value(s, key("postern_connections_total", "listener=\"front\""));
    p_->writeConfig(toml);
    ASSERT_TRUE(p_->sendSignal(SIGHUP));
    ASSERT_TRUE(waitFor(applied, [](double v) { return v == 1; }));
    s = scrape();
    EXPECT_EQ(value(s, "postern_config_generation"), 2);
    EXPECT_GE(value(s, "postern_config_last_reload_timestamp_seconds"), loaded0);
    EXPECT_EQ(value(s, key("postern_connections_total", "listener=\"front\"")), total_before);

    const std::string status = checkStatus(R"py(
r = d["reloads"]
assert [x["result"] for x in r] == ["applied", "rejected"], r
assert r[0]["generation"] == 2 and r[0]["errors"] == [], r
assert r[1]["generation"] == 1 and len(r[1]["errors"]) >= 1, r
assert re.match(r".*postern\.toml:\d+:\d+: ", r[1]["errors"][0]), r[1]["errors"]
assert d["generation"] == 2 and d["loaded"] >= d["started"], d
print("ok")
)py");
    EXPECT_EQ(status, "ok\n");
}

TEST_F(MetricsTest, HttpsRequestsAndHandshakesAreTimed) {
    TempDir certs;
    auto ca = TestCa::createRoot(certs.path(), "metrics-root");
    LeafSpec spec;
    spec.common_name = "localhost";
    spec.dns = {"localhost"};
    spec.ips = {"127.0.0.1"};
    const IssuedCertificate cert = ca->issue("gateway", spec);
    HttpBackend backend;
    ASSERT_TRUE(start(gatewayToml() + "[admin]\nbind = \"127.0.0.1:0\"\n\n" +
                      httpListenerToml("web", "site", {}, cert.cert, cert.key) +
                      poolToml("site", {backend.address()})));
    const auto port = p_->listeningPort("web", kStartTimeout);
    ASSERT_NE(port, 0);
    const std::string wl = "listener=\"web\"";
    EXPECT_EQ(value(scrape(), key("postern_http_request_duration_seconds_count", wl)), 0);

    // Three requests on one connection: one handshake, three requests.
    const std::string base = "https://127.0.0.1:" + std::to_string(port);
    const auto r = runCurl(
        {"--cacert", ca->certificate().string(), base + "/a", base + "/b", base + "/sleep/30"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(waitFor(key("postern_http_request_duration_seconds_count", wl),
                        [](double v) { return v == 3; }));
    EXPECT_TRUE(waitFor(key("postern_connections_closed_total", wl + ",cause=\"complete\""),
                        [](double v) { return v == 3; }));
    EXPECT_TRUE(waitFor(key("postern_tls_handshake_duration_seconds_count", wl),
                        [](double v) { return v == 1; }));
    Scrape s = scrape();
    // The /sleep/30 request took at least 30 ms: not in the buckets up to 25 ms.
    EXPECT_LE(value(s, key("postern_http_request_duration_seconds_bucket", wl + ",le=\"0.025\"")),
              2);
    EXPECT_GE(value(s, key("postern_http_request_duration_seconds_sum", wl)), 0.03);
    EXPECT_EQ(value(s, key("postern_tls_handshake_failures_total", wl)), 0);

    // Plain HTTP to the https listener: a failed handshake.
    runCurl({"http://127.0.0.1:" + std::to_string(port) + "/plain"});
    EXPECT_TRUE(
        waitFor(key("postern_tls_handshake_failures_total", wl), [](double v) { return v == 1; }));
    EXPECT_EQ(value(scrape(), key("postern_tls_handshake_duration_seconds_count", wl)), 1);

    const std::string status = checkStatus(R"py(
web = d["listeners"][0]
assert web["protocol"] == "https" and web["requests_total"] == 3, web
assert web["tls_handshake_failures"] == 1 and web["connections_total"] == 2, web
print("ok")
)py");
    EXPECT_EQ(status, "ok\n");
}

}  // namespace
}  // namespace postern::test
