// The reload diff (server/config_diff.h) on configurations loaded with the real plugins, and the
// loader's reuse of a running pool's plugin instances (LoadOptions::previous).
#include "server/config_diff.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "unit/config/load_helpers.h"

namespace postern::server {
namespace {

using config::test::errorLines;
using config::test::loadText;
using config::test::testOptions;
using Names = std::vector<std::string>;

std::shared_ptr<const config::Config> load(const std::string& text,
                                           const config::Config* previous = nullptr) {
    auto options = testOptions();
    options.previous = previous;
    auto r = loadText(text, options);
    EXPECT_TRUE(r.errors.empty()) << ::testing::PrintToString(errorLines(r));
    return r.config;
}

std::string listener(const std::string& name, const std::string& binds,
                     const std::string& pool = "pg") {
    return "[[listener]]\nname = \"" + name + "\"\nbind = [" + binds + "]\npool = \"" + pool +
           "\"\n";
}

std::string pool(const std::string& name, const std::string& targets, const std::string& extra = {},
                 const std::string& probe = {}) {
    std::string s = "[[pool]]\nname = \"" + name + "\"\n" + extra +
                    "\n[pool.discovery]\ntargets = [" + targets + "]\n";
    if (!probe.empty()) s += "[pool.probe]\n" + probe + "\n";
    return s;
}

TEST(ConfigDiffTest, ListenersAreKeptByNameAndBindsAddedAndRemovedOtherwise) {
    const auto before =
        load(listener("same", "\"127.0.0.1:7001\"") + listener("moved", "\"127.0.0.1:7002\"") +
             listener("gone", "\"127.0.0.1:7003\"") + pool("pg", "\"10.0.0.1:1\""));
    const auto after =
        load(listener("same", "\"127.0.0.1:7001\"") + listener("moved", "\"127.0.0.1:7012\"") +
             listener("new", "\"127.0.0.1:7004\"") + pool("pg", "\"10.0.0.1:1\""));
    const ConfigDiff d = diffConfigs(*before, *after);
    EXPECT_EQ(d.listeners_kept, (Names{"same"}));
    EXPECT_EQ(d.listeners_added, (Names{"moved", "new"}));
    EXPECT_EQ(d.listeners_removed, (Names{"moved", "gone"}));
    EXPECT_TRUE(d.restart_only.empty());
}

TEST(ConfigDiffTest, RouteChangesKeepTheListenerAndAreNamed) {
    const std::string pools = pool("a", "\"10.0.0.1:1\"") + pool("b", "\"10.0.0.2:1\"");
    auto routed = [&](const std::string& name, const std::string& port, const std::string& routes) {
        return "[[listener]]\nname = \"" + name + "\"\nbind = [\"127.0.0.1:" + port +
               "\"]\npool = \"a\"\n" + routes;
    };
    const std::string to_b = "[[listener.route]]\nsni = \"b.example.com\"\npool = \"b\"\n";
    const std::string to_b_other = "[[listener.route]]\nsni = \"c.example.com\"\npool = \"b\"\n";
    const auto before = load(routed("same", "7001", to_b) + routed("changed", "7002", to_b) +
                             routed("added_route", "7003", "") + pools);
    const auto after = load(routed("same", "7001", to_b) + routed("changed", "7002", to_b_other) +
                            routed("added_route", "7003", to_b) + pools);
    ASSERT_TRUE(before && after);
    const ConfigDiff d = diffConfigs(*before, *after);
    EXPECT_EQ(d.listeners_kept, (Names{"same", "changed", "added_route"}));
    EXPECT_EQ(d.routes_changed, (Names{"changed", "added_route"}));
    EXPECT_TRUE(d.listeners_added.empty());
    // A pool only a route names is a pool like the others: kept by name.
    EXPECT_EQ(d.pools_kept, (Names{"a", "b"}));
}

TEST(ConfigDiffTest, AListenerWithAnotherPoolOrSettingsIsStillKept) {
    const auto before = load(listener("l", "\"127.0.0.1:7001\"", "a") +
                             pool("a", "\"10.0.0.1:1\"") + pool("b", "\"10.0.0.2:1\""));
    const auto after = load(listener("l", "\"127.0.0.1:7001\"", "b") + "idle_timeout = \"9s\"\n" +
                            pool("a", "\"10.0.0.1:1\"") + pool("b", "\"10.0.0.2:1\""));
    const ConfigDiff d = diffConfigs(*before, *after);
    EXPECT_EQ(d.listeners_kept, (Names{"l"}));
    EXPECT_EQ(d.routes_changed, (Names{"l"}));  // its own pool is its catch-all
    EXPECT_TRUE(d.listeners_added.empty());
    EXPECT_TRUE(d.listeners_removed.empty());
}

TEST(ConfigDiffTest, PoolsAreKeptChangedAddedAndRemovedByName) {
    const std::string l = listener("l", "\"127.0.0.1:7001\"", "same");
    const auto before = load(l + pool("same", "\"10.0.0.1:1\"") + pool("drain", "\"10.0.0.2:1\"") +
                             pool("targets", "\"10.0.0.3:1\"") +
                             pool("probe", "\"10.0.0.4:1\"", {}, "interval = \"5s\"") +
                             pool("gone", "\"10.0.0.5:1\""));
    const auto after = load(l + pool("same", "\"10.0.0.1:1\"") +
                                pool("drain", "\"10.0.0.2:1\"", "drain_timeout = \"1s\"") +
                                pool("targets", "\"10.0.0.3:1\", \"10.0.0.9:1\"") +
                                pool("probe", "\"10.0.0.4:1\"", {}, "interval = \"6s\"") +
                                pool("new", "\"10.0.0.6:1\""),
                            before.get());
    const ConfigDiff d = diffConfigs(*before, *after);
    EXPECT_EQ(d.pools_kept, (Names{"same"}));
    EXPECT_EQ(d.pools_changed, (Names{"drain", "targets", "probe"}));
    EXPECT_EQ(d.pools_added, (Names{"new"}));
    EXPECT_EQ(d.pools_removed, (Names{"gone"}));
}

TEST(ConfigDiffTest, RestartOnlyKeysAreReportedByName) {
    const std::string rest = listener("l", "\"127.0.0.1:7001\"") + pool("pg", "\"10.0.0.1:1\"");
    const auto before = load("[gateway]\nworkers = 2\n" + rest);
#ifdef _WIN32
    // Windows refuses `user` at load time (the service's account is the SCM's business).
    const std::string user;
    const Names expected{"[gateway] workers", "[gateway] splice"};
#else
    const std::string user = "user = \"nobody\"\n";
    const Names expected{"[gateway] workers", "[gateway] user", "[gateway] splice"};
#endif
    const auto after = load("[gateway]\nworkers = 4\n" + user + "splice = false\n"
                            "[log]\nlevel = \"debug\"\naccess = \"stderr\"\n" +
                            rest);
    ASSERT_TRUE(before && after);
    const ConfigDiff d = diffConfigs(*before, *after);
    EXPECT_EQ(d.restart_only, expected);
    EXPECT_TRUE(d.log_level_changed);
    EXPECT_TRUE(d.access_log_changed);
    const ConfigDiff same = diffConfigs(*before, *before);
    EXPECT_TRUE(same.restart_only.empty());
    EXPECT_FALSE(same.log_level_changed);
    EXPECT_FALSE(same.access_log_changed);
}

TEST(ConfigDiffTest, AccessLogFieldsAndTheLogFileApplyInPlace) {
    const std::string rest = listener("l", "\"127.0.0.1:7001\"") + pool("pg", "\"10.0.0.1:1\"");
    const auto before = load(rest);
    const auto fields = load("[log]\nfields = [\"time\", \"cause\"]\n" + rest);
    const auto file = load("[log]\nfile = \"" +
                           (std::filesystem::temp_directory_path() / "postern.log").generic_string() +
                           "\"\n" + rest);
    ASSERT_TRUE(before && fields && file);
    const ConfigDiff d = diffConfigs(*before, *fields);
    EXPECT_TRUE(d.access_log_changed);
    EXPECT_FALSE(d.log_file_changed);
    EXPECT_TRUE(d.restart_only.empty());
    const ConfigDiff f = diffConfigs(*before, *file);
    EXPECT_TRUE(f.log_file_changed);
    EXPECT_FALSE(f.access_log_changed);
    EXPECT_TRUE(f.restart_only.empty());
    EXPECT_FALSE(diffConfigs(*file, *file).log_file_changed);
}

TEST(ConfigDiffTest, UnchangedPluginTablesKeepTheirInstancesOnAReload) {
    const std::string l = listener("l", "\"127.0.0.1:7001\"");
    const auto before = load(l + pool("pg", "\"10.0.0.1:1\"", {}, "interval = \"5s\""));
    // Reordered keys and other spacing: the same table.
    const auto same = load(l + "[[pool]]\nname = \"pg\"\n[pool.probe]\ninterval = \"5s\"\n"
                               "[pool.discovery]\ntargets = [ \"10.0.0.1:1\" ]\n",
                           before.get());
    const auto& p0 = before->pools[0];
    const auto& p1 = same->pools[0];
    EXPECT_EQ(p1.discovery.instance, p0.discovery.instance);
    EXPECT_EQ(p1.probe->instance, p0.probe->instance);
    EXPECT_EQ(p1.balancer_factory, p0.balancer_factory);

    const auto changed =
        load(l + pool("pg", "\"10.0.0.2:1\"", {}, "interval = \"6s\""), before.get());
    EXPECT_NE(changed->pools[0].discovery.instance, p0.discovery.instance);
    EXPECT_NE(changed->pools[0].probe->instance, p0.probe->instance);
    EXPECT_EQ(changed->pools[0].balancer_factory, p0.balancer_factory);

    // Without `previous` (a start, `postern check`) every instance is new.
    const auto fresh = load(l + pool("pg", "\"10.0.0.1:1\"", {}, "interval = \"5s\""));
    EXPECT_NE(fresh->pools[0].discovery.instance, p0.discovery.instance);
}

}  // namespace
}  // namespace postern::server
