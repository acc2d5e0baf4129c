// The built-in `tls` probe plugin, loaded from its shared library and driven through the C ABI: it
// asks the core for TLS (with its SNI and ALPN) and is healthy once the transport is up.
#include <gtest/gtest.h>

#include <string>

#include "plugin/registry.h"
#include "support/plugins/fake_config.h"

using postern::testing::FakeConfig;
using postern::testing::Value;

namespace {

struct Loaded {
    postern::plugin::Registry registry;
    const postern::plugin::LoadedPlugin* plugin = nullptr;
    Loaded() {
        registry.scan({POSTERN_TEST_PLUGIN_DIR});
        plugin = registry.find(POSTERN_KIND_PROBE, "tls");
    }
};

std::string text(postern_str s) { return s.data ? std::string(s.data, s.size) : std::string(); }

TEST(TlsProbePlugin, AsksForTlsAndIsHealthyOnceItIsUp) {
    Loaded l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config;
    void* raw = l.plugin->descriptor->probe->create(config.raw(), l.registry.host(*l.plugin));
    ASSERT_NE(raw, nullptr);
    postern::plugin::Probe probe(l.plugin, raw);
    auto transport = probe.transport();
    EXPECT_EQ(transport.tls, 1);
    EXPECT_EQ(text(transport.sni), "") << "the core's default: tls_sni, then the target's host name";
    EXPECT_EQ(text(transport.alpn), "");
    auto session = probe.newSession(postern::testing::backend("10.0.0.1", 443));
    ASSERT_NE(session, nullptr);
    std::string send;
    EXPECT_EQ(session->onConnected(send), POSTERN_VERDICT_HEALTHY);
    EXPECT_TRUE(send.empty());
}

TEST(TlsProbePlugin, SniAndAlpnComeFromItsKeys) {
    Loaded l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table({{"sni", Value::string("svc.internal")},
                                    {"alpn", Value::array({Value::string("h2"), Value::string("http/1.1")})}}));
    void* raw = l.plugin->descriptor->probe->create(config.raw(), l.registry.host(*l.plugin));
    ASSERT_NE(raw, nullptr) << testing::PrintToString(config.lines());
    postern::plugin::Probe probe(l.plugin, raw);
    auto transport = probe.transport();
    EXPECT_EQ(transport.tls, 1);
    EXPECT_EQ(text(transport.sni), "svc.internal");
    EXPECT_EQ(text(transport.alpn), "h2,http/1.1");
}

TEST(TlsProbePlugin, BadKeysAreReportedAtTheirValues) {
    Loaded l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table({{"sni", Value::string("not a name")},
                                    {"alpn", Value::array({Value::string("a,b"), Value::integer(2)})}}));
    void* raw = l.plugin->descriptor->probe->create(config.raw(), l.registry.host(*l.plugin));
    EXPECT_EQ(raw, nullptr);
    const auto lines = config.lines();
    ASSERT_EQ(lines.size(), 3u) << testing::PrintToString(lines);
    EXPECT_NE(lines[0].find("'sni' must be a host name"), std::string::npos) << lines[0];
    EXPECT_NE(lines[1].find("without ','"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("must be a string, not an integer"), std::string::npos) << lines[2];
}

}  // namespace
