// admin::writePrometheus: the exposition format 0.0.4 read strictly (every sample line parsed,
// every family declared once with HELP and TYPE before its samples, no two series with the same
// labels), every SPEC §6 name present, label values escaped, histograms cumulative with
// _sum/_count, backends of one address merged into one series.
#include "admin/prometheus_writer.h"

#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "snapshot_fixture.h"

namespace postern::admin {
namespace {

struct Sample {
    std::string name;
    std::string labels;  ///< as written, between the braces
    std::string value;
};

struct Exposition {
    std::map<std::string, std::string> types;  ///< family → type
    std::set<std::string> helps;
    std::vector<Sample> samples;
    std::vector<std::string> errors;
};

/** Reads `text` as strictly as Prometheus' parser does for what we write. */
Exposition parse(const std::string& text) {
    static const std::regex kSample(
        R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\[\\"n]|[^"\\\n])*")*)\})? ([-+]?(?:[0-9]+(?:\.[0-9]*)?(?:e[-+]?[0-9]+)?|\+Inf|NaN))$)re");
    static const std::regex kHelp(R"re(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)re");
    static const std::regex kType(
        R"re(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)re");
    Exposition e;
    std::set<std::string> series;
    std::istringstream in(text);
    std::string line;
    if (text.empty() || text.back() != '\n') e.errors.push_back("no final line feed");
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_match(line, m, kHelp)) {
            if (!e.helps.insert(m[1]).second) e.errors.push_back("HELP twice: " + line);
        } else if (std::regex_match(line, m, kType)) {
            if (!e.helps.count(m[1])) e.errors.push_back("TYPE before HELP: " + line);
            if (!e.types.emplace(m[1], m[2]).second) e.errors.push_back("TYPE twice: " + line);
        } else if (std::regex_match(line, m, kSample)) {
            Sample s{m[1], m[3], m[4]};
            std::string family = s.name;
            for (const char* suffix : {"_bucket", "_sum", "_count"}) {
                const std::string sfx = suffix;
                if (!e.types.count(family) && family.size() > sfx.size() &&
                    family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0)
                    family = family.substr(0, family.size() - sfx.size());
            }
            if (!e.types.count(family)) e.errors.push_back("sample before its TYPE: " + line);
            if (!series.insert(s.name + "{" + s.labels + "}").second)
                e.errors.push_back("duplicate series: " + line);
            e.samples.push_back(s);
        } else {
            e.errors.push_back("unparsable line: " + line);
        }
    }
    return e;
}

const Sample* find(const Exposition& e, const std::string& name, const std::string& labels) {
    for (const auto& s : e.samples)
        if (s.name == name && s.labels == labels) return &s;
    return nullptr;
}

std::string valueOf(const Exposition& e, const std::string& name, const std::string& labels) {
    const Sample* s = find(e, name, labels);
    return s ? s->value : "<missing " + name + "{" + labels + "}>";
}

TEST(PrometheusWriter, IsValidExpositionFormat) {
    const Exposition e = parse(writePrometheus(testing::sampleSnapshot()));
    for (const auto& err : e.errors) ADD_FAILURE() << err;
    EXPECT_GT(e.samples.size(), 100u);
}

TEST(PrometheusWriter, HasEveryMetricOfSpecSection6AndTheBriefsWithTheirTypes) {
    const Exposition e = parse(writePrometheus(testing::sampleSnapshot()));
    const std::map<std::string, std::string> expected = {
        {"postern_connections_active", "gauge"},
        {"postern_connections_total", "counter"},
        {"postern_connections_refused_total", "counter"},
        {"postern_bytes_total", "counter"},
        {"postern_backend_up", "gauge"},
        {"postern_backend_connections_active", "gauge"},
        {"postern_backend_connect_failures_total", "counter"},
        {"postern_probe_duration_seconds", "histogram"},
        {"postern_tls_handshake_failures_total", "counter"},
        {"postern_config_reloads_total", "counter"},
        {"postern_backend_connect_duration_seconds", "histogram"},
        {"postern_tls_handshake_duration_seconds", "histogram"},
        {"postern_http_request_duration_seconds", "histogram"},
        {"postern_connections_closed_total", "counter"},
        {"postern_build_info", "gauge"},
        {"postern_config_generation", "gauge"},
        {"postern_config_last_reload_timestamp_seconds", "gauge"},
        {"postern_backend_draining", "gauge"},
        {"postern_backend_connections_total", "counter"},
    };
    for (const auto& [name, type] : expected) {
        auto it = e.types.find(name);
        ASSERT_NE(it, e.types.end()) << name;
        EXPECT_EQ(it->second, type) << name;
        EXPECT_TRUE(e.helps.count(name)) << name;
    }
    for (const auto& [name, type] : e.types) EXPECT_EQ(name.rfind("postern_", 0), 0u) << name;
}

TEST(PrometheusWriter, WritesTheValues) {
    const Exposition e = parse(writePrometheus(testing::sampleSnapshot()));
    EXPECT_EQ(valueOf(e, "postern_build_info", "version=\"0.1.0\""), "1");
    EXPECT_EQ(valueOf(e, "postern_config_generation", ""), "2");
    EXPECT_EQ(valueOf(e, "postern_config_last_reload_timestamp_seconds", ""), "1765000060");
    EXPECT_EQ(valueOf(e, "postern_config_reloads_total", "result=\"applied\""), "1");
    EXPECT_EQ(valueOf(e, "postern_config_reloads_total", "result=\"rejected\""), "1");
    EXPECT_EQ(valueOf(e, "postern_connections_active", "listener=\"pg\""), "3");
    EXPECT_EQ(valueOf(e, "postern_connections_total", "listener=\"pg\""), "100");
    EXPECT_EQ(valueOf(e, "postern_bytes_total", "listener=\"pg\",direction=\"in\""), "1234");
    EXPECT_EQ(valueOf(e, "postern_bytes_total", "listener=\"pg\",direction=\"out\""), "5678");
    EXPECT_EQ(valueOf(e, "postern_connections_refused_total",
                      "listener=\"pg\",reason=\"max_connections\""),
              "2");
    EXPECT_EQ(valueOf(e, "postern_connections_refused_total", "listener=\"pg\",reason=\"acl\""),
              "1");
    EXPECT_EQ(
        valueOf(e, "postern_connections_refused_total", "listener=\"pg\",reason=\"no_backend\""),
        "0");
    EXPECT_EQ(
        valueOf(e, "postern_connections_closed_total", "listener=\"pg\",cause=\"client_fin\""),
        "95");
    EXPECT_EQ(valueOf(e, "postern_backend_up", "pool=\"pg\",backend=\"[::1]:9002\""), "0");
    EXPECT_EQ(
        valueOf(e, "postern_backend_connect_failures_total", "pool=\"pg\",backend=\"[::1]:9002\""),
        "3");
    EXPECT_EQ(valueOf(e, "postern_backend_up", "pool=\"site\",backend=\"127.0.0.1:9100\""), "1");
}

TEST(PrometheusWriter, EscapesLabelValues) {
    std::string out;
    appendLabelValue(out, "a\"b\\c\nd");
    EXPECT_EQ(out, "a\\\"b\\\\c\\nd");
    const std::string text = writePrometheus(testing::sampleSnapshot());
    EXPECT_NE(text.find("postern_connections_total{listener=\"we\\\"b\\\\site\\n2\"} 10\n"),
              std::string::npos);
}

TEST(PrometheusWriter, HistogramsAreCumulativeWithSumAndCount) {
    const Exposition e = parse(writePrometheus(testing::sampleSnapshot()));
    const std::string l = "listener=\"we\\\"b\\\\site\\n2\"";
    const std::string h = "postern_tls_handshake_duration_seconds";
    EXPECT_EQ(valueOf(e, h + "_bucket", l + ",le=\"0.0005\""), "0");
    EXPECT_EQ(valueOf(e, h + "_bucket", l + ",le=\"0.001\""), "0");
    EXPECT_EQ(valueOf(e, h + "_bucket", l + ",le=\"0.0025\""), "5");
    EXPECT_EQ(valueOf(e, h + "_bucket", l + ",le=\"0.005\""), "5");
    EXPECT_EQ(valueOf(e, h + "_bucket", l + ",le=\"0.01\""), "8");
    EXPECT_EQ(valueOf(e, h + "_bucket", l + ",le=\"10\""), "8");
    EXPECT_EQ(valueOf(e, h + "_bucket", l + ",le=\"+Inf\""), "8");
    EXPECT_EQ(valueOf(e, h + "_count", l), "8");
    EXPECT_EQ(valueOf(e, h + "_sum", l), "0.03");
    const std::string r = "postern_http_request_duration_seconds";
    EXPECT_EQ(valueOf(e, r + "_bucket", l + ",le=\"10\""), "9");
    EXPECT_EQ(valueOf(e, r + "_bucket", l + ",le=\"+Inf\""), "10");
    EXPECT_EQ(valueOf(e, r + "_sum", l), "20.5");
    // Every histogram series: buckets never decrease, +Inf == _count.
    std::map<std::string, std::uint64_t> last;
    for (const auto& s : e.samples) {
        if (s.name.size() < 7 || s.name.compare(s.name.size() - 7, 7, "_bucket") != 0) continue;
        const std::string key = s.name + "{" + s.labels.substr(0, s.labels.rfind(",le=")) + "}";
        const std::uint64_t v = std::stoull(s.value);
        EXPECT_GE(v, last[key]) << key;
        last[key] = v;
        if (s.labels.find("le=\"+Inf\"") != std::string::npos) {
            const std::string base = s.name.substr(0, s.name.size() - 7);
            EXPECT_EQ(s.value,
                      valueOf(e, base + "_count", s.labels.substr(0, s.labels.rfind(",le="))))
                << key;
        }
    }
    // A tcp listener has no TLS or HTTP histogram; a pool without a probe no probe histogram.
    EXPECT_EQ(find(e, h + "_count", "listener=\"pg\""), nullptr);
    EXPECT_EQ(find(e, r + "_count", "listener=\"pg\""), nullptr);
    EXPECT_EQ(
        find(e, "postern_probe_duration_seconds_count", "pool=\"site\",backend=\"127.0.0.1:9100\""),
        nullptr);
    EXPECT_EQ(valueOf(e, "postern_backend_connect_duration_seconds_count", "pool=\"pg\""), "40");
}

TEST(PrometheusWriter, BackendsOfOneAddressAreOneSeries) {
    const Exposition e = parse(writePrometheus(testing::sampleSnapshot()));
    const std::string l = "pool=\"pg\",backend=\"127.0.0.1:9001\"";
    EXPECT_EQ(valueOf(e, "postern_backend_up", l), "1");
    EXPECT_EQ(valueOf(e, "postern_backend_draining", l), "0");
    EXPECT_EQ(valueOf(e, "postern_backend_connections_active", l), "3");
    EXPECT_EQ(valueOf(e, "postern_backend_connections_total", l), "45");
    EXPECT_EQ(valueOf(e, "postern_probe_duration_seconds_count", l), "7");
}

TEST(PrometheusWriter, AnEmptyGatewayIsStillValid) {
    GatewaySnapshot s;
    s.version = "0.1.0";
    const Exposition e = parse(writePrometheus(s));
    for (const auto& err : e.errors) ADD_FAILURE() << err;
    EXPECT_EQ(valueOf(e, "postern_config_reloads_total", "result=\"rejected\""), "0");
}

}  // namespace
}  // namespace postern::admin
