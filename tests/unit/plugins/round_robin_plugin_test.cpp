// The built-in round_robin plugin, loaded from its shared library and driven through the C ABI.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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
        plugin = registry.find(POSTERN_KIND_BALANCER, "round_robin");
    }
};

}  // namespace

TEST(RoundRobinPlugin, WeightedSmoothSequenceThroughTheAbi) {
    Loaded l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config;
    void* raw = l.plugin->descriptor->balancer->create(config.raw(), l.registry.host(*l.plugin));
    ASSERT_NE(raw, nullptr);
    postern::plugin::BalancerFactory factory(l.plugin, raw);

    std::vector<std::string> hosts = {"a", "b", "c"};
    std::vector<postern_backend> backends = {postern::testing::backend(hosts[0], 1, 5),
                                             postern::testing::backend(hosts[1], 1, 1),
                                             postern::testing::backend(hosts[2], 1, 1)};
    auto selector = factory.build(backends, nullptr);
    ASSERT_NE(selector, nullptr);
    postern_pick_context ctx{0, 0, 0, 0};
    std::string seq;
    for (int i = 0; i < 7; ++i) {
        std::uint32_t out[3];
        ASSERT_EQ(selector->pick(ctx, out, 3), 3u);
        seq += hosts[out[0]];
        EXPECT_NE(out[0], out[1]);
        EXPECT_NE(out[1], out[2]);
        EXPECT_NE(out[0], out[2]);
    }
    EXPECT_EQ(seq, "aabacaa");
    selector->onOpen(0);  // optional hooks are wired and harmless
    selector->onClose(0);

    auto empty = factory.build({}, nullptr);
    ASSERT_NE(empty, nullptr);
    std::uint32_t out[1];
    EXPECT_EQ(empty->pick(ctx, out, 1), 0u);
}

TEST(RoundRobinPlugin, ReadsNoKeys) {
    Loaded l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table({{"weights", Value::integer(3)}}));
    void* raw = l.plugin->descriptor->balancer->create(config.raw(), l.registry.host(*l.plugin));
    ASSERT_NE(raw, nullptr);
    postern::plugin::BalancerFactory factory(l.plugin, raw);
    config.reportUnknownKeys();
    EXPECT_EQ(config.lines(), (std::vector<std::string>{"weights: unknown key 'weights'"}));
}
