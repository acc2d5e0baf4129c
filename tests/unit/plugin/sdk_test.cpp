// The header-only SDK, exercised in-process: the Config/Node view over a fake host config, and the
// C function tables the POSTERN_*_PLUGIN macros generate (via their detail::*Glue templates).
#include "postern/plugin/sdk.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "support/plugins/fake_config.h"

using postern::sdk::Config;
using postern::sdk::Node;
using postern::sdk::NodeType;
using postern::testing::FakeConfig;
using postern::testing::FakeHost;
using postern::testing::FakeSink;
using postern::testing::Value;

TEST(SdkConfig, ReadsScalarsWithoutCoercion) {
    FakeConfig fake(Value::table({{"s", Value::string("text")},
                                  {"i", Value::integer(-7)},
                                  {"f", Value::floating(0.5)},
                                  {"b", Value::boolean(true)},
                                  {"d", Value::date()}}));
    Config config(fake.raw());
    EXPECT_EQ(config.type(), NodeType::Table);
    EXPECT_EQ(config.get("s").asString(), "text");
    EXPECT_EQ(config.get("i").asInteger(), -7);
    EXPECT_EQ(config.get("f").asFloat(), 0.5);
    EXPECT_EQ(config.get("b").asBoolean(), true);
    EXPECT_EQ(config.get("d").type(), NodeType::Other);
    // No coercion: an integer is not a float, a string is not a number.
    EXPECT_FALSE(config.get("i").asFloat());
    EXPECT_FALSE(config.get("s").asInteger());
    EXPECT_FALSE(config.get("f").asInteger());
    EXPECT_FALSE(config.get("b").asString());
    EXPECT_TRUE(config.ok());
    EXPECT_TRUE(fake.errors().empty());
}

TEST(SdkConfig, AbsentValuesAnswerNothingAndReportAtTheirParent) {
    FakeConfig fake(Value::table({{"t", Value::table({{"inner", Value::integer(1)}})},
                                  {"a", Value::array({Value::integer(1)})}}));
    Config config(fake.raw());
    Node missing = config.get("t").get("nope");
    EXPECT_FALSE(missing);
    EXPECT_EQ(missing.type(), NodeType::None);
    EXPECT_FALSE(missing.asString());
    EXPECT_FALSE(missing.get("deeper").present());
    EXPECT_EQ(missing.size(), 0u);
    missing.error("needs 'nope'");
    config.get("a").at(5).error("no sixth element");
    config.get("t").get("nope").get("deeper").error("deep");
    config.get("absent").error("at the root");
    config.error("the table itself");
    ASSERT_EQ(fake.lines(), (std::vector<std::string>{"t: needs 'nope'", "a: no sixth element",
                                                       "t: deep", "<root>: at the root",
                                                       "<root>: the table itself"}));
    EXPECT_EQ(config.errorCount(), 5u);
    EXPECT_FALSE(config.ok());
}

TEST(SdkConfig, ArraysAndPositionedErrors) {
    FakeConfig fake(Value::table(
        {{"list", Value::array({Value::string("x"), Value::table({{"k", Value::integer(2)}})})}}));
    Config config(fake.raw());
    Node list = config.get("list");
    ASSERT_EQ(list.type(), NodeType::Array);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list.at(0).asString(), "x");
    EXPECT_EQ(list.at(1).get("k").asInteger(), 2);
    EXPECT_FALSE(list.at(2));
    list.at(1).get("k").error("bad k");
    list.at(0).error("bad x");
    EXPECT_EQ(fake.lines(), (std::vector<std::string>{"list[1].k: bad k", "list[0]: bad x"}));
    // get() on a non-table and size()/at() on a non-array are simply absent / empty.
    EXPECT_FALSE(list.get("k"));
    EXPECT_EQ(config.size(), 0u);
}

TEST(SdkConfig, UnreadKeysAreLeftForTheHostToReport) {
    FakeConfig fake(Value::table({{"known", Value::integer(1)}, {"typo", Value::integer(2)}}));
    Config config(fake.raw());
    (void)config.get("known");
    fake.reportUnknownKeys();
    EXPECT_EQ(fake.lines(), (std::vector<std::string>{"typo: unknown key 'typo'"}));
}

TEST(SdkConfig, DurationsAndTheirErrorsCount) {
    FakeConfig fake(Value::table({{"ok", Value::string("250ms")},
                                  {"secs", Value::integer(3)},
                                  {"bad", Value::string("soon")}}));
    Config config(fake.raw());
    EXPECT_EQ(config.get("ok").asDurationMs(), 250);
    EXPECT_EQ(config.get("secs").asDurationMs(), 3000);
    EXPECT_FALSE(config.get("missing").asDurationMs());
    EXPECT_TRUE(config.ok());  // absent is not an error
    EXPECT_FALSE(config.get("bad").asDurationMs());
    EXPECT_EQ(config.errorCount(), 1u);  // the host reported it; the SDK counted it
    EXPECT_EQ(fake.lines(), (std::vector<std::string>{"bad: invalid duration"}));
}

TEST(SdkConfig, ANullConfigIsEmpty) {
    Config config(nullptr);
    EXPECT_FALSE(config.present());
    EXPECT_FALSE(config.get("x"));
    config.error("goes nowhere");  // must not crash
    EXPECT_EQ(config.errorCount(), 0u);
}

TEST(SdkHost, LogsThroughTheHostAndToleratesNone) {
    FakeHost fake;
    postern::sdk::Host host(&fake.host);
    host.info("one");
    host.log(postern::sdk::LogLevel::Error, "two");
    ASSERT_EQ(fake.lines.size(), 2u);
    EXPECT_EQ(fake.lines[0], std::make_pair(POSTERN_LOG_INFO, std::string("one")));
    EXPECT_EQ(fake.lines[1], std::make_pair(POSTERN_LOG_ERROR, std::string("two")));
    postern::sdk::Host none;
    none.warn("dropped");  // must not crash
}

// --- the generated C tables ----------------------------------------------------------------

namespace {

int g_live_factories = 0;
int g_live_selectors = 0;

class CountingSelector final : public postern::sdk::Balancer {
public:
    explicit CountingSelector(std::uint32_t claim) : claim_(claim) { ++g_live_selectors; }
    ~CountingSelector() override { --g_live_selectors; }
    std::uint32_t pick(const postern_pick_context& ctx, std::span<std::uint32_t> out) noexcept override {
        for (auto& o : out) o = static_cast<std::uint32_t>(ctx.random);
        return claim_;  // may lie about the count: the glue clamps it
    }
    void onOpen(std::uint32_t index) noexcept override { opened += index; }
    std::uint32_t opened = 0;

private:
    std::uint32_t claim_;
};

// create() is deliberately not noexcept here, so the glue's catch is exercised.
class TestFactory final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<TestFactory> create(Config& config, postern::sdk::Host& host) {
        auto mode = config.get("mode").asString().value_or("ok");
        if (mode == "throw") throw std::runtime_error("boom");
        if (mode == "silent") return nullptr;
        if (mode == "error_but_object") {
            config.get("mode").error("inconsistent");
            return std::make_unique<TestFactory>(0);
        }
        host.debug("created");
        return std::make_unique<TestFactory>(
            static_cast<std::uint32_t>(config.get("claim").asInteger().value_or(1)));
    }
    explicit TestFactory(std::uint32_t claim) : claim_(claim) { ++g_live_factories; }
    ~TestFactory() override { --g_live_factories; }
    std::unique_ptr<postern::sdk::Balancer> build(std::span<const postern_backend> backends,
                                                  const postern_backend_load& load) noexcept override {
        last_size = backends.size();
        last_load_active = postern::sdk::BackendLoad(load).active(0);
        return std::make_unique<CountingSelector>(claim_);
    }
    std::size_t last_size = 99;
    std::uint32_t last_load_active = 99;

private:
    std::uint32_t claim_;
};

using Glue = postern::sdk::detail::BalancerGlue<TestFactory>;

}  // namespace

TEST(SdkGlue, BalancerCreateReportsExceptionsAndSilentFailures) {
    const auto& ops = Glue::ops;
    {
        FakeConfig fake(Value::table({{"mode", Value::string("throw")}}));
        EXPECT_EQ(ops.create(fake.raw(), nullptr), nullptr);
        EXPECT_EQ(fake.lines(),
                  (std::vector<std::string>{"<root>: the plugin failed while being created: boom"}));
    }
    {
        FakeConfig fake(Value::table({{"mode", Value::string("silent")}}));
        EXPECT_EQ(ops.create(fake.raw(), nullptr), nullptr);
        EXPECT_EQ(fake.lines(), (std::vector<std::string>{
                                    "<root>: the balancer plugin could not be created (it gave no reason)"}));
    }
    {
        FakeConfig fake(Value::table({{"mode", Value::string("error_but_object")}}));
        EXPECT_EQ(ops.create(fake.raw(), nullptr), nullptr);  // reported errors win
        EXPECT_EQ(fake.lines(), (std::vector<std::string>{"mode: inconsistent"}));
        EXPECT_EQ(g_live_factories, 0);  // and the object was not leaked
    }
}

TEST(SdkGlue, BalancerRoundTrip) {
    const auto& ops = Glue::ops;
    FakeConfig fake(Value::table({{"claim", Value::integer(50)}}));
    FakeHost host;
    void* factory = ops.create(fake.raw(), &host.host);
    ASSERT_NE(factory, nullptr);
    EXPECT_EQ(host.lines.size(), 1u);
    EXPECT_EQ(g_live_factories, 1);

    postern_backend backends[2] = {postern::testing::backend("a", 1), postern::testing::backend("b", 2)};
    postern_backend_load load{nullptr, [](void*, uint32_t i) noexcept -> uint32_t { return 40 + i; }};
    void* selector = ops.build(factory, backends, 2, &load);
    ASSERT_NE(selector, nullptr);
    EXPECT_EQ(static_cast<TestFactory*>(static_cast<postern::sdk::BalancerFactory*>(factory))->last_size, 2u);
    EXPECT_EQ(static_cast<TestFactory*>(static_cast<postern::sdk::BalancerFactory*>(factory))->last_load_active, 40u);

    // No load table from the core: BackendLoad reads 0, nothing crashes.
    void* selector2 = ops.build(factory, nullptr, 0, nullptr);
    ASSERT_NE(selector2, nullptr);
    EXPECT_EQ(static_cast<TestFactory*>(static_cast<postern::sdk::BalancerFactory*>(factory))->last_load_active, 0u);

    postern_pick_context ctx{0, 0, 0, 1};
    std::uint32_t out[4] = {};
    EXPECT_EQ(ops.pick(selector, &ctx, out, 4), 4u);  // claimed 50, clamped to the capacity
    EXPECT_EQ(ops.pick(selector, &ctx, out, 0), 0u);
    EXPECT_EQ(ops.pick(selector, nullptr, out, 4), 0u);
    ops.on_open(selector, 7);
    ops.on_close(selector, 7);  // default: nothing
    EXPECT_EQ(static_cast<CountingSelector*>(static_cast<postern::sdk::Balancer*>(selector))->opened, 7u);

    EXPECT_EQ(g_live_selectors, 2);
    ops.destroy_selector(selector);
    ops.destroy_selector(selector2);
    EXPECT_EQ(g_live_selectors, 0);
    ops.destroy(factory);
    EXPECT_EQ(g_live_factories, 0);
}

namespace {

class ThrowingDiscovery final : public postern::sdk::Discovery {
public:
    static std::unique_ptr<ThrowingDiscovery> create(Config&, postern::sdk::Host&) noexcept {
        return std::make_unique<ThrowingDiscovery>();
    }
    void discover(postern::sdk::Sink& sink, std::int64_t budget_ms) noexcept override {
        sink.add({"h", 1, static_cast<std::uint32_t>(budget_ms), 0, "r"});
        sink.fail("could not finish");
    }
    std::int64_t nextRefreshMs() const noexcept override { return -5; }
};

class EchoSession final : public postern::sdk::ProbeSession {
public:
    postern::sdk::Verdict onConnected(postern::sdk::Output& out) noexcept override {
        out.write("hello");
        out.write("");
        return postern::sdk::Verdict::NeedMore;
    }
    postern::sdk::Verdict onData(std::string_view data, bool eof, postern::sdk::Output&) noexcept override {
        if (eof) return postern::sdk::Verdict::Drain;
        reason_ = std::string(data);
        return postern::sdk::Verdict::Unhealthy;
    }
    postern::sdk::ProbeResult result() const noexcept override { return {reason_, 0.25}; }

private:
    std::string reason_;
};

class EchoProbe final : public postern::sdk::Probe {
public:
    static std::unique_ptr<EchoProbe> create(Config&, postern::sdk::Host&) noexcept {
        return std::make_unique<EchoProbe>();
    }
    postern::sdk::Transport transport() const noexcept override { return {true, "sni.example", "h2,http/1.1"}; }
    std::unique_ptr<postern::sdk::ProbeSession> newSession(const postern_backend&) noexcept override {
        return std::make_unique<EchoSession>();
    }
};

}  // namespace

TEST(SdkGlue, DiscoveryRoundTrip) {
    const auto& ops = postern::sdk::detail::DiscoveryGlue<ThrowingDiscovery>::ops;
    FakeConfig fake;
    void* d = ops.create(fake.raw(), nullptr);
    ASSERT_NE(d, nullptr);
    FakeSink sink;
    ops.discover(d, &sink.sink, 1234);
    ASSERT_EQ(sink.targets.size(), 1u);
    EXPECT_EQ(sink.targets[0].host, "h");
    EXPECT_EQ(sink.targets[0].weight, 1234u);
    EXPECT_EQ(sink.targets[0].region, "r");
    EXPECT_EQ(sink.failures, (std::vector<std::string>{"could not finish"}));
    EXPECT_EQ(ops.next_refresh_ms(d), 0);  // negative hints are clamped to "use refresh"
    ops.destroy(d);
}

TEST(SdkGlue, ProbeRoundTrip) {
    const auto& ops = postern::sdk::detail::ProbeGlue<EchoProbe>::ops;
    FakeConfig fake;
    void* p = ops.create(fake.raw(), nullptr);
    ASSERT_NE(p, nullptr);
    postern_probe_transport t{};
    ops.transport(p, &t);
    EXPECT_EQ(t.tls, 1);
    EXPECT_EQ(std::string(t.sni.data, t.sni.size), "sni.example");
    EXPECT_EQ(std::string(t.alpn.data, t.alpn.size), "h2,http/1.1");

    auto b = postern::testing::backend("127.0.0.1", 80);
    void* s = ops.session_new(p, &b);
    ASSERT_NE(s, nullptr);
    std::string sent;
    postern_output out{&sent, [](void* ctx, postern_str bytes) noexcept {
                           static_cast<std::string*>(ctx)->append(bytes.data, bytes.size);
                       }};
    EXPECT_EQ(ops.on_connected(s, &out), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(sent, "hello");
    EXPECT_EQ(ops.on_data(s, "bad", 3, 0, &out), POSTERN_VERDICT_UNHEALTHY);
    postern_probe_result r{};
    ops.result(s, &r);
    EXPECT_EQ(std::string(r.reason.data, r.reason.size), "bad");
    EXPECT_EQ(r.utilization, 0.25);
    EXPECT_EQ(ops.on_data(s, nullptr, 0, 1, &out), POSTERN_VERDICT_DRAIN);
    EXPECT_EQ(ops.session_new(p, nullptr), nullptr);
    ops.session_destroy(s);
    ops.destroy(p);
}

TEST(SdkDescriptor, NameRuleAndBuildId) {
    using postern::sdk::detail::validPluginName;
    static_assert(validPluginName("round_robin"));
    static_assert(!validPluginName("Round"));
    static_assert(!validPluginName(""));
    static_assert(!validPluginName("a-b"));
    std::string id = POSTERN_SDK_BUILD_ID;
    EXPECT_NE(id.find(";c++20"), std::string::npos) << id;
}
