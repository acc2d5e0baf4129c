#include "plugin/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "support/plugins/fake_config.h"

namespace fs = std::filesystem;
using postern::plugin::LoadedPlugin;
using postern::plugin::Registry;
using postern::testing::FakeConfig;
using postern::testing::Value;

namespace {

const fs::path kBuiltins = POSTERN_TEST_PLUGIN_DIR;
const fs::path kSupport = fs::path(POSTERN_TEST_SUPPORT_DIR) / "plugins";

#ifdef _WIN32
constexpr const char* kExt = ".dll";
#else
constexpr const char* kExt = ".so";
#endif

fs::path supportFile(const std::string& dir, const std::string& stem) {
    return kSupport / dir / (stem + kExt);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(Registry, LoadsTheBuiltInPlugins) {
    Registry registry;
    auto messages = registry.scan({kBuiltins});
    EXPECT_TRUE(messages.empty()) << messages.front();

    const LoadedPlugin* rr = registry.find(POSTERN_KIND_BALANCER, "round_robin");
    const LoadedPlugin* st = registry.find(POSTERN_KIND_DISCOVERY, "static");
    const LoadedPlugin* tcp = registry.find(POSTERN_KIND_PROBE, "tcp");
    ASSERT_NE(rr, nullptr);
    ASSERT_NE(st, nullptr);
    ASSERT_NE(tcp, nullptr);
    EXPECT_EQ(rr->version, "1.0.0");
    EXPECT_EQ(rr->file.filename(), std::string("postern_balancer_round_robin") + kExt);
    EXPECT_EQ(st->file.filename(), std::string("postern_discovery_static") + kExt);
    EXPECT_EQ(tcp->file.filename(), std::string("postern_probe_tcp") + kExt);
    EXPECT_TRUE(contains(rr->build_id, "c++")) << rr->build_id;
    ASSERT_NE(rr->descriptor, nullptr);
    EXPECT_NE(rr->descriptor->balancer, nullptr);
    EXPECT_EQ(rr->descriptor->discovery, nullptr);
    EXPECT_NE(st->descriptor->discovery, nullptr);
    EXPECT_NE(tcp->descriptor->probe, nullptr);

    // The name is per kind: there is no "round_robin" probe, and no "tcp" balancer.
    EXPECT_EQ(registry.find(POSTERN_KIND_PROBE, "round_robin"), nullptr);
    EXPECT_EQ(registry.find(POSTERN_KIND_BALANCER, "tcp"), nullptr);
    EXPECT_EQ(registry.find(POSTERN_KIND_BALANCER, "nope"), nullptr);
}

TEST(Registry, ScanIsSortedByFileNameAndSkipsOtherFiles) {
    Registry registry;
    auto messages = registry.scan({kBuiltins, kSupport / "good"});
    EXPECT_TRUE(messages.empty()) << messages.front();
    auto plugins = registry.plugins();
    ASSERT_GE(plugins.size(), 4u);
    // Within the built-in directory, load order is file-name order.
    std::vector<std::string> builtin_names;
    for (const auto* p : plugins)
        if (p->file.parent_path() == kBuiltins) builtin_names.push_back(p->file.filename().string());
    EXPECT_TRUE(std::is_sorted(builtin_names.begin(), builtin_names.end()));
    // The good directory also holds README.txt and a directory named directory.so: skipped.
    EXPECT_EQ(plugins.back()->name, "support_good");
    EXPECT_EQ(plugins.back()->version, "2.5.0");
}

TEST(Registry, ADirectoryIsScannedOnce) {
    Registry registry;
    EXPECT_TRUE(registry.scan({kSupport / "good"}).empty());
    // Scanning again (a reload) neither reloads nor reports the plugin as a duplicate.
    EXPECT_TRUE(registry.scan({kSupport / "good", kSupport / "good" / ".." / "good"}).empty());
    EXPECT_EQ(registry.plugins().size(), 1u);
    // Loading the same file directly is accepted as already loaded.
    EXPECT_FALSE(registry.load(supportFile("good", "postern_balancer_support_good")).has_value());
    EXPECT_EQ(registry.plugins().size(), 1u);
}

TEST(Registry, MissingDirectoryIsNotAnError) {
    Registry registry;
    EXPECT_TRUE(registry.scan({kSupport / "does-not-exist"}).empty());
    EXPECT_TRUE(registry.plugins().empty());
}

TEST(Registry, AFileIsNotADirectory) {
    Registry registry;
    auto messages = registry.scan({kSupport / "good" / "README.txt"});
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_TRUE(contains(messages[0], "not a directory")) << messages[0];
}

TEST(Registry, RefusesAnotherAbiVersion) {
    Registry registry;
    auto messages = registry.scan({kSupport / "wrong_abi"});
    ASSERT_EQ(messages.size(), 1u);
    const auto file = supportFile("wrong_abi", "postern_balancer_wrong_abi");
    EXPECT_EQ(messages[0], "plugin " + file.string() + ": built for plugin ABI 99 (this postern uses " +
                               std::to_string(POSTERN_PLUGIN_ABI_VERSION) + ")");
    EXPECT_TRUE(registry.plugins().empty());
}

TEST(Registry, RefusesALibraryWithoutDescriptor) {
    Registry registry;
    auto messages = registry.scan({kSupport / "no_descriptor"});
    ASSERT_EQ(messages.size(), 1u);
    const auto file = supportFile("no_descriptor", "postern_balancer_no_descriptor");
    EXPECT_EQ(messages[0],
              "plugin " + file.string() + ": no postern_plugin_descriptor symbol (not a postern plugin)");
    EXPECT_TRUE(registry.plugins().empty());
}

TEST(Registry, RefusesADuplicateKindAndNameNamingBothFiles) {
    Registry registry;
    auto messages = registry.scan({kBuiltins, kSupport / "duplicate"});
    ASSERT_EQ(messages.size(), 1u);
    const auto impostor = supportFile("duplicate", "postern_balancer_round_robin");
    const auto original = kBuiltins / (std::string("postern_balancer_round_robin") + kExt);
    EXPECT_EQ(messages[0], "plugin " + impostor.string() +
                               ": duplicate balancer plugin 'round_robin': already loaded from " +
                               original.string());
    // The first one found stays.
    const LoadedPlugin* rr = registry.find(POSTERN_KIND_BALANCER, "round_robin");
    ASSERT_NE(rr, nullptr);
    EXPECT_EQ(rr->version, "1.0.0");
    EXPECT_EQ(rr->file, original);
}

TEST(Registry, RefusesAFileThatIsNotALibraryWithTheLoaderError) {
    Registry registry;
    auto messages = registry.scan({kSupport / "not_a_library"});
    ASSERT_EQ(messages.size(), 1u);
    const auto file = supportFile("not_a_library", "postern_balancer_garbage");
    EXPECT_TRUE(contains(messages[0], "plugin " + file.string() + ": cannot load: ")) << messages[0];
#ifndef _WIN32
    // dlopen's own words, not Boost's generic "Bad file descriptor".
    EXPECT_TRUE(contains(messages[0], "header") || contains(messages[0], "too short")) << messages[0];
#endif
}

TEST(Registry, UnresolvedSymbolsAreCaughtAtLoadTime) {
    Registry registry;
    auto messages = registry.scan({kSupport / "unresolved"});
    ASSERT_EQ(messages.size(), 1u);
    EXPECT_TRUE(contains(messages[0], "cannot load: ")) << messages[0];
#ifndef _WIN32
    EXPECT_TRUE(contains(messages[0], "postern_test_symbol_nobody_defines")) << messages[0];
#endif
    EXPECT_EQ(registry.find(POSTERN_KIND_BALANCER, "unresolved"), nullptr);
}

TEST(Registry, RefusalsDoNotStopTheRestOfTheScan) {
    Registry registry;
    auto messages = registry.scan({kSupport / "wrong_abi", kSupport / "no_descriptor",
                                   kSupport / "not_a_library", kSupport / "good"});
    EXPECT_EQ(messages.size(), 3u);
    ASSERT_EQ(registry.plugins().size(), 1u);
    EXPECT_EQ(registry.plugins()[0]->name, "support_good");
}

TEST(Registry, ConfigErrorPluginReportsThroughTheConfigAndReturnsNull) {
    Registry registry;
    ASSERT_TRUE(registry.scan({kSupport / "config_error"}).empty());
    const LoadedPlugin* p = registry.find(POSTERN_KIND_BALANCER, "config_error");
    ASSERT_NE(p, nullptr);
    const auto* ops = p->descriptor->balancer;

    FakeConfig missing(Value::table({{"y", Value::integer(1)}}));
    EXPECT_EQ(ops->create(missing.raw(), registry.host(*p)), nullptr);
    missing.reportUnknownKeys();
    ASSERT_EQ(missing.errors().size(), 2u);
    EXPECT_EQ(missing.errors()[0].position, "");  // at the plugin's table: the key is absent
    EXPECT_EQ(missing.errors()[0].message, "needs 'x'");
    EXPECT_EQ(missing.errors()[1].position, "y");
    EXPECT_EQ(missing.errors()[1].message, "unknown key 'y'");

    FakeConfig wrong_type(Value::table({{"x", Value::string("1")}}));
    EXPECT_EQ(ops->create(wrong_type.raw(), registry.host(*p)), nullptr);
    ASSERT_EQ(wrong_type.errors().size(), 1u);
    EXPECT_EQ(wrong_type.errors()[0].position, "x");
    EXPECT_EQ(wrong_type.errors()[0].message, "x must be an integer");

    FakeConfig good(Value::table({{"x", Value::integer(1)}}));
    void* factory = ops->create(good.raw(), registry.host(*p));
    ASSERT_NE(factory, nullptr);
    EXPECT_TRUE(good.errors().empty());
    postern::plugin::BalancerFactory owned(p, factory);  // destroyed through the plugin
}

TEST(Registry, GoodPluginWorksThroughTheInstanceHandles) {
    Registry registry;
    ASSERT_TRUE(registry.scan({kSupport / "good"}).empty());
    const LoadedPlugin* p = registry.find(POSTERN_KIND_BALANCER, "support_good");
    ASSERT_NE(p, nullptr);
    FakeConfig config(Value::table({{"first", Value::integer(2)}}));
    void* raw = p->descriptor->balancer->create(config.raw(), registry.host(*p));
    ASSERT_NE(raw, nullptr);
    postern::plugin::BalancerFactory factory(p, raw);

    std::string a = "a", b = "b", c = "c";
    postern_backend backends[] = {postern::testing::backend(a, 1), postern::testing::backend(b, 2),
                                  postern::testing::backend(c, 3)};
    auto selector = factory.build(backends, nullptr);
    ASSERT_NE(selector, nullptr);
    std::uint32_t out[8] = {};
    postern_pick_context ctx{0, 0, 0, 0};
    ASSERT_EQ(selector->pick(ctx, out, 8), 3u);
    EXPECT_EQ(out[0], 2u);
    EXPECT_EQ(out[1], 0u);
    EXPECT_EQ(out[2], 1u);
    EXPECT_EQ(selector->pick(ctx, out, 1), 1u);
}

TEST(Registry, HostLogIsTaggedWithThePluginName) {
    Registry registry;
    ASSERT_TRUE(registry.scan({kSupport / "good"}).empty());
    const LoadedPlugin* p = registry.find(POSTERN_KIND_BALANCER, "support_good");
    ASSERT_NE(p, nullptr);
    const postern_host* host = registry.host(*p);
    ASSERT_NE(host, nullptr);
    ASSERT_NE(host->log, nullptr);

    FakeConfig config;
    ::testing::internal::CaptureStderr();
    void* raw = p->descriptor->balancer->create(config.raw(), host);  // logs "support_good created"
    std::string msg = "hello from the test";
    host->log(host->ctx, POSTERN_LOG_WARN, postern_str{msg.data(), msg.size()});
    std::string err = ::testing::internal::GetCapturedStderr();
    ASSERT_NE(raw, nullptr);
    postern::plugin::BalancerFactory owned(p, raw);
    EXPECT_TRUE(contains(err, "level=info msg=\"support_good created\" plugin=support_good")) << err;
    EXPECT_TRUE(contains(err, "level=warn msg=\"hello from the test\" plugin=support_good")) << err;
}

TEST(Registry, DefaultPluginDirIsBesideTheBinary) {
    // The unit-test binary lives in <build>/bin, like postern itself, so the default directory is
    // <build>/lib/postern/plugins: where the built-in plugins are built.
    auto dirs = postern::plugin::defaultPluginDirs();
    ASSERT_EQ(dirs.size(), 1u);
#ifndef _WIN32
    EXPECT_TRUE(fs::equivalent(dirs[0], kBuiltins)) << dirs[0];
    EXPECT_EQ(dirs[0], fs::canonical(kBuiltins));
#else
    EXPECT_EQ(dirs[0].filename(), "plugins");
#endif
}

TEST(Registry, LoadsAPluginWrittenInPlainC) {
    Registry registry;
    auto messages = registry.scan({kSupport / "plain_c"});
    ASSERT_TRUE(messages.empty()) << messages.front();
    const LoadedPlugin* p = registry.find(POSTERN_KIND_PROBE, "plain_c");
    ASSERT_NE(p, nullptr);
    FakeConfig config;
    void* probe = p->descriptor->probe->create(config.raw(), registry.host(*p));
    ASSERT_NE(probe, nullptr);
    postern::plugin::Probe handle(p, probe);
    postern_backend backend{};
    auto session = handle.newSession(backend);
    ASSERT_NE(session, nullptr);
    std::string send;
    EXPECT_EQ(session->onConnected(send), POSTERN_VERDICT_NEED_MORE);
    EXPECT_EQ(send, "PING\r\n");
    EXPECT_EQ(session->onData("PONG\r\n", false, send), POSTERN_VERDICT_HEALTHY);
    EXPECT_EQ(session->onData("NOPE\r\n", false, send), POSTERN_VERDICT_UNHEALTHY);
}

// Objects a plugin created may outlive the Registry that loaded it (a config held elsewhere):
// the library, its LoadedPlugin record and host table stay valid for the life of the process.
TEST(Registry, InstancesMayOutliveTheRegistry) {
    std::unique_ptr<postern::plugin::Discovery> discovery;
    {
        Registry registry;
        ASSERT_TRUE(registry.scan({kBuiltins}).empty());
        const LoadedPlugin* st = registry.find(POSTERN_KIND_DISCOVERY, "static");
        ASSERT_NE(st, nullptr);
        FakeConfig config(Value::table({{"targets", Value::array({Value::string("127.0.0.1:1")})}}));
        void* instance = st->descriptor->discovery->create(config.raw(), registry.host(*st));
        ASSERT_NE(instance, nullptr);
        discovery = std::make_unique<postern::plugin::Discovery>(st, instance);
    }
    EXPECT_EQ(discovery->plugin().name, "static");
    discovery.reset();  // runs the plugin's destroy function after the Registry is gone
}
