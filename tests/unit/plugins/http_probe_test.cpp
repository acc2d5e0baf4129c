// The http probe (plugins/probe_http): expect_status sets, X-Utilization, the response judge fed
// in pieces, and the plugin through the C ABI (request bytes, configuration errors).
#include <gtest/gtest.h>

#include <string>

#include "plugin/registry.h"
#include "probe_http/http_check.h"
#include "support/plugins/fake_config.h"

namespace postern::plugins::http_probe {
namespace {

using postern::sdk::Verdict;
using postern::testing::FakeConfig;
using postern::testing::Value;

StatusSet statusSet(std::string_view text) {
    std::string error;
    auto s = StatusSet::parse(text, error);
    EXPECT_TRUE(s) << error;
    return s ? *s : StatusSet();
}

TEST(HttpProbeStatusSet, RangesAndLists) {
    const StatusSet def = statusSet("200-399");
    EXPECT_TRUE(def.contains(200));
    EXPECT_TRUE(def.contains(302));
    EXPECT_TRUE(def.contains(399));
    EXPECT_FALSE(def.contains(199));
    EXPECT_FALSE(def.contains(400));
    EXPECT_FALSE(def.contains(503));
    const StatusSet list = statusSet(" 200, 204 ,301-302");
    EXPECT_EQ(list.text(), "200,204,301-302");
    EXPECT_TRUE(list.contains(204));
    EXPECT_TRUE(list.contains(302));
    EXPECT_FALSE(list.contains(201));
    EXPECT_FALSE(list.contains(303));
    for (std::string_view bad :
         {"", "abc", "200-", "-200", "99", "600", "300-200", "200,,204", "2000", "20x"}) {
        std::string error;
        EXPECT_FALSE(StatusSet::parse(bad, error)) << bad;
        EXPECT_NE(error.find("'expect_status'"), std::string::npos) << error;
    }
}

TEST(HttpProbeUtilization, FractionsAndPercentages) {
    EXPECT_DOUBLE_EQ(*parseUtilization("0.72"), 0.72);
    EXPECT_DOUBLE_EQ(*parseUtilization(" 72% "), 0.72);
    EXPECT_DOUBLE_EQ(*parseUtilization("72.5 %"), 0.725);
    EXPECT_DOUBLE_EQ(*parseUtilization("0"), 0.0);
    EXPECT_DOUBLE_EQ(*parseUtilization("1.5"), 1.5);  // overloaded is still a value
    for (std::string_view bad : {"", "%", "-0.1", "high", "0.7x", "nan", "inf", "+1", "72%%"})
        EXPECT_FALSE(parseUtilization(bad)) << bad;
}

TEST(HttpProbeRequest, GetWithHostAndConnectionClose) {
    EXPECT_EQ(buildRequest("/healthz?full=1", "api.example:8080"),
              "GET /healthz?full=1 HTTP/1.1\r\nHost: api.example:8080\r\nUser-Agent: "
              "postern-probe/1.0\r\n"
              "Accept: */*\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(hostHeader("", "10.0.0.4", 8080), "10.0.0.4:8080");
    EXPECT_EQ(hostHeader("", "web.local", 80), "web.local");
    EXPECT_EQ(hostHeader("", "::1", 8443), "[::1]:8443");
    EXPECT_EQ(hostHeader("health.internal", "10.0.0.4", 8080), "health.internal");
}

TEST(HttpProbeJudge, HealthyStatusWithUtilizationInAnyChunking) {
    const StatusSet expect = statusSet("200-399");
    const std::string response =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nx-utilization:  72%\r\nContent-Length: "
        "2\r\n\r\nok";
    for (std::size_t chunk = 1; chunk <= response.size(); ++chunk) {
        ResponseJudge judge(expect);
        Verdict v = Verdict::NeedMore;
        for (std::size_t at = 0; at < response.size() && v == Verdict::NeedMore; at += chunk)
            v = judge.feed(std::string_view(response).substr(at, chunk), false);
        ASSERT_EQ(v, Verdict::Healthy) << "chunk " << chunk << ": " << judge.reason();
        EXPECT_EQ(judge.status(), 200);
        EXPECT_DOUBLE_EQ(judge.utilization(), 0.72);
    }
}

TEST(HttpProbeJudge, UnexpectedStatusIsUnhealthyWithTheReason) {
    const StatusSet expect = statusSet("200-399");
    ResponseJudge judge(expect);
    EXPECT_EQ(judge.feed("HTTP/1.0 503 Service Unavailable\r\nX-Utilization: 0.95\r\n\r\n", false),
              Verdict::Unhealthy);
    EXPECT_EQ(judge.reason(), "status 503 (expected 200-399)");
    EXPECT_DOUBLE_EQ(judge.utilization(), 0.95);

    ResponseJudge only204(statusSet("204"));
    EXPECT_EQ(only204.feed("HTTP/1.1 200 OK\r\n\r\n", false), Verdict::Unhealthy);
    EXPECT_EQ(only204.reason(), "status 200 (expected 204)");
}

TEST(HttpProbeJudge, BrokenResponsesFail) {
    const StatusSet expect = statusSet("200-399");
    {
        ResponseJudge j(expect);
        EXPECT_EQ(j.feed("", true), Verdict::Unhealthy);
        EXPECT_EQ(j.reason(), "connection closed without a response");
    }
    {
        ResponseJudge j(expect);
        EXPECT_EQ(j.feed("HTTP/1.1 200 OK\r\nServer: x\r\n", false), Verdict::NeedMore);
        EXPECT_EQ(j.feed("", true), Verdict::Unhealthy);
        EXPECT_EQ(j.reason(), "connection closed before the end of the response head");
    }
    {
        ResponseJudge j(expect);
        EXPECT_EQ(j.feed("SSH-2.0-OpenSSH_9.2\r\n\r\n", false), Verdict::Unhealthy);
        EXPECT_EQ(j.reason(), "malformed status line \"SSH-2.0-OpenSSH_9.2\"");
    }
    {
        ResponseJudge j(expect);
        EXPECT_EQ(j.feed("HTTP/1.1 2000 OK\r\n\r\n", false), Verdict::Unhealthy);
    }
    {
        ResponseJudge j(expect);
        EXPECT_EQ(j.feed("HTTP/1.1 200 OK\r\n" + std::string(kMaxHead, 'a'), false),
                  Verdict::Unhealthy);
        EXPECT_EQ(j.reason(), "response head longer than 16384 bytes");
    }
    {
        ResponseJudge j(expect);  // an invalid X-Utilization is ignored, not fatal
        EXPECT_EQ(j.feed("HTTP/1.1 204 No Content\nX-Utilization: lots\n\n", false),
                  Verdict::Healthy);
        EXPECT_LT(j.utilization(), 0.0);
    }
}

struct LoadedProbe {
    plugin::Registry registry;
    const plugin::LoadedPlugin* plugin = nullptr;
    LoadedProbe() {
        registry.scan({POSTERN_TEST_PLUGIN_DIR});
        plugin = registry.find(POSTERN_KIND_PROBE, "http");
    }
    std::unique_ptr<plugin::Probe> create(FakeConfig& config) {
        void* raw = plugin->descriptor->probe->create(config.raw(), registry.host(*plugin));
        return raw ? std::make_unique<plugin::Probe>(plugin, raw) : nullptr;
    }
};

TEST(HttpProbePlugin, SendsTheRequestAndJudgesTheResponseThroughTheAbi) {
    LoadedProbe l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table(
        {{"path", Value::string("/health")}, {"expect_status", Value::string("200,204")}}));
    auto probe = l.create(config);
    ASSERT_NE(probe, nullptr);
    config.reportUnknownKeys();
    EXPECT_TRUE(config.errors().empty());
    EXPECT_EQ(probe->transport().tls, 0);

    auto backend = postern::testing::backend("10.1.2.3", 8080);
    auto session = probe->newSession(backend);
    ASSERT_NE(session, nullptr);
    std::string send;
    EXPECT_EQ(session->onConnected(send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(send, buildRequest("/health", "10.1.2.3:8080"));
    send.clear();
    EXPECT_EQ(session->onData("HTTP/1.1 204 No Content\r\nX-Utilization: 0.25\r\n", false, send),
              POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(session->onData("\r\n", false, send), POSTERN_VERDICT_HEALTHY);
    EXPECT_DOUBLE_EQ(session->result().utilization, 0.25);

    auto failing = probe->newSession(backend);
    EXPECT_EQ(failing->onConnected(send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(failing->onData("HTTP/1.1 302 Found\r\n\r\n", false, send),
              POSTERN_VERDICT_UNHEALTHY);
    const auto r = failing->result();
    EXPECT_EQ(std::string(r.reason.data, r.reason.size), "status 302 (expected 200,204)");
}

TEST(HttpProbePlugin, ConfiguredHostHeader) {
    LoadedProbe l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table({{"host", Value::string("status.internal")}}));
    auto probe = l.create(config);
    ASSERT_NE(probe, nullptr);
    auto backend = postern::testing::backend("10.1.2.3", 80);
    auto session = probe->newSession(backend);
    std::string send;
    session->onConnected(send);
    EXPECT_EQ(send, buildRequest("/", "status.internal"));
}

TEST(HttpsProbePlugin, AsksTheCoreForTlsWithAlpnHttp11AndItsSni) {
    plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_PROBE, "https");
    ASSERT_NE(p, nullptr);
    FakeConfig config(
        Value::table({{"sni", Value::string("svc.internal")}, {"path", Value::string("/ready")}}));
    void* raw = p->descriptor->probe->create(config.raw(), registry.host(*p));
    ASSERT_NE(raw, nullptr);
    plugin::Probe probe(p, raw);
    config.reportUnknownKeys();
    EXPECT_TRUE(config.errors().empty());
    const auto t = probe.transport();
    EXPECT_EQ(t.tls, 1);
    EXPECT_EQ(std::string(t.sni.data, t.sni.size), "svc.internal");
    EXPECT_EQ(std::string(t.alpn.data, t.alpn.size), "http/1.1");
    auto backend = postern::testing::backend("10.1.2.3", 443);
    auto session = probe.newSession(backend);
    std::string send;
    EXPECT_EQ(session->onConnected(send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(send, buildRequest("/ready", "10.1.2.3:443"));
    EXPECT_EQ(session->onData("HTTP/1.1 200 OK\r\n\r\n", false, send), POSTERN_VERDICT_HEALTHY);

    FakeConfig bad(Value::table({{"sni", Value::string("not a name")}}));
    EXPECT_EQ(p->descriptor->probe->create(bad.raw(), registry.host(*p)), nullptr);
    ASSERT_EQ(bad.errors().size(), 1u);
    EXPECT_EQ(bad.errors()[0].position, "sni");

    // The plain http probe has no `sni` (it would have no effect).
    const auto* plain = registry.find(POSTERN_KIND_PROBE, "http");
    ASSERT_NE(plain, nullptr);
    FakeConfig with_sni(Value::table({{"sni", Value::string("svc.internal")}}));
    void* plain_raw = plain->descriptor->probe->create(with_sni.raw(), registry.host(*plain));
    ASSERT_NE(plain_raw, nullptr);
    plugin::Probe plain_probe(plain, plain_raw);
    EXPECT_EQ(plain_probe.transport().tls, 0);
    with_sni.reportUnknownKeys();
    EXPECT_EQ(with_sni.lines(), (std::vector<std::string>{"sni: unknown key 'sni'"}));
}

TEST(HttpProbePlugin, EveryBadKeyIsReportedAtItsOwnPosition) {
    LoadedProbe l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table({{"path", Value::string("health")},
                                    {"host", Value::string("a b")},
                                    {"expect_status", Value::integer(200)},
                                    {"method", Value::string("HEAD")}}));
    EXPECT_EQ(l.create(config), nullptr);
    config.reportUnknownKeys();
    EXPECT_EQ(
        config.lines(),
        (std::vector<std::string>{
            "path: 'path' must start with '/' and contain no spaces or control characters, got "
            "\"health\"",
            "host: 'host' must contain no spaces or control characters, got \"a b\"",
            "expect_status: 'expect_status' must be a string such as \"200-399\", not an integer",
            "method: unknown key 'method'"}));

    FakeConfig bad_range(Value::table({{"expect_status", Value::string("500-200")}}));
    EXPECT_EQ(l.create(bad_range), nullptr);
    ASSERT_EQ(bad_range.errors().size(), 1u);
    EXPECT_EQ(bad_range.errors()[0].position, "expect_status");
}

}  // namespace
}  // namespace postern::plugins::http_probe
