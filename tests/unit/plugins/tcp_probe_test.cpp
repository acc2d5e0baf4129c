// The built-in `tcp` probe plugin, loaded from its shared library and driven through the C ABI.
#include <gtest/gtest.h>

#include <string>

#include "plugin/registry.h"
#include "support/plugins/fake_config.h"

using postern::testing::FakeConfig;
using postern::testing::Value;

TEST(TcpProbePlugin, HealthyOnceConnectedOverPlainTcp) {
    postern::plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_PROBE, "tcp");
    ASSERT_NE(p, nullptr);
    FakeConfig config;
    void* raw = p->descriptor->probe->create(config.raw(), registry.host(*p));
    ASSERT_NE(raw, nullptr);
    postern::plugin::Probe probe(p, raw);

    auto transport = probe.transport();
    EXPECT_EQ(transport.tls, 0);
    EXPECT_EQ(transport.sni.size, 0u);
    EXPECT_EQ(transport.alpn.size, 0u);

    auto backend = postern::testing::backend("10.0.0.1", 5432);
    auto session = probe.newSession(backend);
    ASSERT_NE(session, nullptr);
    std::string send;
    EXPECT_EQ(session->onConnected(send), POSTERN_VERDICT_HEALTHY);
    EXPECT_TRUE(send.empty());  // a TCP check sends nothing
    auto result = session->result();
    EXPECT_EQ(result.reason.size, 0u);
    EXPECT_LT(result.utilization, 0.0);
}

TEST(TcpProbePlugin, KeysItDoesNotReadAreLeftUnknown) {
    postern::plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_PROBE, "tcp");
    ASSERT_NE(p, nullptr);
    FakeConfig config(Value::table({{"path", Value::string("/health")}}));
    void* raw = p->descriptor->probe->create(config.raw(), registry.host(*p));
    ASSERT_NE(raw, nullptr);
    postern::plugin::Probe probe(p, raw);
    config.reportUnknownKeys();
    EXPECT_EQ(config.lines(), (std::vector<std::string>{"path: unknown key 'path'"}));
}
