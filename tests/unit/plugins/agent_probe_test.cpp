// The agent probe (plugins/probe_agent): reading an agent's reply line, and the plugin through the
// C ABI.
#include <gtest/gtest.h>

#include <string>

#include "plugin/registry.h"
#include "probe_agent/agent_reply.h"
#include "support/plugins/fake_config.h"

namespace postern::plugins::agent_probe {
namespace {

using postern::sdk::Verdict;
using postern::testing::FakeConfig;
using postern::testing::Value;

TEST(AgentReply, WordsAndPercentages) {
    struct Case {
        std::string_view line;
        Verdict verdict;
        double utilization;
    };
    const Case cases[] = {
        {"up", Verdict::Healthy, -1},           {"UP\r", Verdict::Healthy, -1},
        {"ready", Verdict::Healthy, -1},        {"72%", Verdict::Healthy, 0.72},
        {"up 72%", Verdict::Healthy, 0.72},     {"  72.5%,up ", Verdict::Healthy, 0.725},
        {"drain", Verdict::Drain, -1},          {"drain 10%", Verdict::Drain, 0.10},
        {"up,drain", Verdict::Drain, -1},       {"down", Verdict::Unhealthy, -1},
        {"drain down", Verdict::Unhealthy, -1}, {"fail 30%", Verdict::Unhealthy, 0.30},
        {"maint", Verdict::Unhealthy, -1},      {"stopped", Verdict::Unhealthy, -1},
        {"150%", Verdict::Healthy, 1.5},
    };
    for (const auto& c : cases) {
        const AgentReply r = parseAgentReply(c.line);
        EXPECT_EQ(r.verdict, c.verdict) << c.line;
        EXPECT_DOUBLE_EQ(r.utilization, c.utilization) << c.line;
    }
}

TEST(AgentReply, ReasonsForFailures) {
    EXPECT_EQ(parseAgentReply("down#disk full").reason, "agent says down: disk full");
    EXPECT_EQ(parseAgentReply("down").reason, "agent says down");
    EXPECT_EQ(parseAgentReply("").reason, "empty reply from the agent");
    EXPECT_EQ(parseAgentReply(" , ").verdict, Verdict::Unhealthy);
    const AgentReply typo = parseAgentReply("upp");
    EXPECT_EQ(typo.verdict, Verdict::Unhealthy);
    EXPECT_EQ(typo.reason, "unknown word \"upp\" in the agent's reply");
    EXPECT_EQ(parseAgentReply("0.72").verdict, Verdict::Unhealthy);  // percentages only
    EXPECT_EQ(parseAgentReply("-5%").verdict, Verdict::Unhealthy);
    EXPECT_EQ(parseAgentReply("up #all good").verdict, Verdict::Healthy);
}

struct LoadedProbe {
    plugin::Registry registry;
    const plugin::LoadedPlugin* plugin = nullptr;
    LoadedProbe() {
        registry.scan({POSTERN_TEST_PLUGIN_DIR});
        plugin = registry.find(POSTERN_KIND_PROBE, "agent");
    }
    std::unique_ptr<plugin::Probe> create(FakeConfig& config) {
        void* raw = plugin->descriptor->probe->create(config.raw(), registry.host(*plugin));
        return raw ? std::make_unique<plugin::Probe>(plugin, raw) : nullptr;
    }
};

TEST(AgentProbePlugin, ReadsOneLineThroughTheAbi) {
    LoadedProbe l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table({{"send", Value::string("status\n")}}));
    auto probe = l.create(config);
    ASSERT_NE(probe, nullptr);
    config.reportUnknownKeys();
    EXPECT_TRUE(config.errors().empty());
    auto backend = postern::testing::backend("10.0.0.9", 9999);

    auto s = probe->newSession(backend);
    std::string send;
    EXPECT_EQ(s->onConnected(send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(send, "status\n");
    EXPECT_EQ(s->onData("dra", false, send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(s->onData("in 40%\nignored", false, send), POSTERN_VERDICT_DRAIN);
    EXPECT_DOUBLE_EQ(s->result().utilization, 0.40);

    // A reply ended by the agent closing the connection instead of a newline.
    auto closed = probe->newSession(backend);
    closed->onConnected(send);
    EXPECT_EQ(closed->onData("up", false, send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(closed->onData("", true, send), POSTERN_VERDICT_HEALTHY);

    auto silent = probe->newSession(backend);
    silent->onConnected(send);
    EXPECT_EQ(silent->onData("", true, send), POSTERN_VERDICT_UNHEALTHY);
    const auto r = silent->result();
    EXPECT_EQ(std::string(r.reason.data, r.reason.size),
              "agent closed the connection without a reply");

    auto chatty = probe->newSession(backend);
    chatty->onConnected(send);
    EXPECT_EQ(chatty->onData(std::string(kMaxLine + 1, 'x'), false, send),
              POSTERN_VERDICT_UNHEALTHY);
}

TEST(AgentProbePlugin, SendMustBeAString) {
    LoadedProbe l;
    ASSERT_NE(l.plugin, nullptr);
    FakeConfig config(Value::table({{"send", Value::integer(1)}}));
    EXPECT_EQ(l.create(config), nullptr);
    EXPECT_EQ(config.lines(),
              (std::vector<std::string>{"send: 'send' must be a string, not an integer"}));
    FakeConfig none;
    auto probe = l.create(none);
    ASSERT_NE(probe, nullptr);
    auto backend = postern::testing::backend("10.0.0.9", 9999);
    auto s = probe->newSession(backend);
    std::string send;
    EXPECT_EQ(s->onConnected(send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_TRUE(send.empty());  // nothing to send by default: the agent speaks first
}

}  // namespace
}  // namespace postern::plugins::agent_probe
