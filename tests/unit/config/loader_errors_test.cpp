// Invalid configurations: each kind of problem with its exact "file:line:col: message", all
// reported at once and sorted by position, and never a Config.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::loadText;
using Lines = std::vector<std::string>;

/** Loads `text` and expects exactly these error lines (and no config). */
void expectErrors(std::string_view text, const Lines& expected) {
    LoadResult r = loadText(text);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r), expected);
}

const std::string kPluginDir = POSTERN_TEST_PLUGIN_DIR;
/** kPluginDir as error messages name it (see test::asLoaded). */
const std::string kPluginDirAsLoaded = test::asLoaded(POSTERN_TEST_PLUGIN_DIR).string();

TEST(ConfigErrors, UnknownKeysAtTopLevelAndNested) {
    expectErrors(R"(foo = 1
[[listener]]
name = "web"
bnid = ["0.0.0.0:80"]
bind = ["127.0.0.1:0"]
pool = "pg"
[[pool]]
name = "pg"
  [pool.backend]
  prot = 5432
  [pool.discovery]
  targets = ["10.0.0.4:1"]
[extra]
x = 1
)",
                 {
                     "t.toml:1:1: unknown top-level key 'foo'",
                     "t.toml:4:1: unknown key 'bnid' in [[listener]]; did you mean 'bind'?",
                     "t.toml:10:3: unknown key 'prot' in [pool.backend]; did you mean 'port'?",
                     "t.toml:13:2: unknown top-level key 'extra'",
                 });
}

TEST(ConfigErrors, WrongTypeForEachKindOfValue) {
    expectErrors(R"([gateway]
workers = "4"
plugin_dirs = "/usr/lib"
[log]
level = 3
[[listener]]
name = "web"
bind = "127.0.0.1:80"
pool = "pg"
accept_proxy = "no"
idle_timeout = true
trusted_proxies = [1]
[[pool]]
name = "pg"
max_utilization = 1
max_connections_per_backend = 2.0
backend = "tcp"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
  refresh = 1.5
  plugin = false
)",
                 {
                     "t.toml:2:11: 'workers' must be an integer, not a string",
                     "t.toml:3:15: 'plugin_dirs' must be an array of strings, not a string",
                     "t.toml:5:9: 'level' must be a string, not an integer",
                     "t.toml:8:8: 'bind' must be an array of strings, not a string",
                     "t.toml:10:16: 'accept_proxy' must be a boolean (true or false), not a "
                     "string",
                     "t.toml:11:16: 'idle_timeout' must be a duration string like \"30s\" or an "
                     "integer number of seconds, not a boolean",
                     "t.toml:12:20: each element of 'trusted_proxies' must be a string, not an "
                     "integer",
                     "t.toml:15:19: 'max_utilization' must be a float (e.g. 0.8), not an "
                     "integer",
                     "t.toml:16:31: 'max_connections_per_backend' must be an integer, not a "
                     "float",
                     "t.toml:17:11: 'backend' must be a table, not a string",
                     "t.toml:20:13: 'refresh' must be a duration string like \"30s\" or an "
                     "integer number of seconds, not a float",
                     "t.toml:21:12: 'plugin' must be a string, not a boolean",
                 });
}

TEST(ConfigErrors, BadDurations) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "pg"
idle_timeout = "5x"
[[pool]]
name = "pg"
drain_timeout = "forever"
  [pool.backend]
  connect_timeout = "0s"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
  refresh = ""
  [pool.probe]
  interval = -3
  timeout = "10"
[[pool]]
name = "other"
drain_timeout = true
  [pool.discovery]
  targets = ["10.0.0.4:1"]
  refresh = 0
)",
                 {
                     "t.toml:5:16: 'idle_timeout': invalid duration \"5x\": unknown unit 'x' "
                     "(use ms, s, m or h)",
                     "t.toml:8:17: 'drain_timeout': invalid duration \"forever\": expected a "
                     "number followed by a unit (ms, s, m, h)",
                     "t.toml:10:21: 'connect_timeout' must be greater than 0",
                     "t.toml:13:13: 'refresh': invalid duration \"\": empty (use e.g. \"250ms\", "
                     "\"30s\", \"4m\", \"1h\")",
                     "t.toml:15:14: 'interval' must not be negative, got -3",
                     "t.toml:16:13: 'timeout': invalid duration \"10\": missing unit (ms, s, m, "
                     "h)",
                     "t.toml:19:17: 'drain_timeout' must be a duration string like \"30s\", "
                     "\"unlimited\" or an integer number of seconds, not a boolean",
                     "t.toml:22:13: 'refresh' must be greater than 0",
                 });
}

TEST(ConfigErrors, BadAddresses) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["localhost", "[::1:80", "1.2.3.4:99999", "::1:80", "a b:1"]
pool = "pg"
[[listener]]
name = "empty"
bind = []
pool = "pg"
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
)",
                 {
                     "t.toml:3:9: 'bind': invalid address \"localhost\": missing port (use "
                     "host:port or [ipv6]:port)",
                     "t.toml:3:22: 'bind': invalid address \"[::1:80\": missing ']'",
                     "t.toml:3:33: 'bind': invalid address \"1.2.3.4:99999\": port must be a "
                     "number from 0 to 65535",
                     "t.toml:3:50: 'bind': invalid address \"::1:80\": IPv6 addresses need "
                     "brackets: [addr]:port",
                     "t.toml:3:60: 'bind': invalid address \"a b:1\": not a valid host name or "
                     "IP address",
                     "t.toml:7:8: 'bind' must list at least one address",
                 });
}

TEST(ConfigErrors, DuplicateListenerAndPoolNames) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:8080"]
pool = "pg"
[[listener]]
name = "web"
bind = ["127.0.0.1:8081"]
pool = "pg"
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.5:1"]
)",
                 {
                     "t.toml:6:8: duplicate listener name 'web' (first defined at 1:1)",
                     "t.toml:14:8: duplicate pool name 'pg' (first defined at 9:1)",
                 });
}

TEST(ConfigErrors, DuplicateBindAddressesButPortZeroNeverConflicts) {
    expectErrors(R"([[listener]]
name = "a"
bind = ["0.0.0.0:80", "127.0.0.1:0"]
pool = "pg"
[[listener]]
name = "b"
bind = ["127.0.0.1:0", "0.0.0.0:80", "[::]:81", "[::]:81"]
pool = "pg"
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
)",
                 {
                     "t.toml:7:24: duplicate bind address \"0.0.0.0:80\" (already used by "
                     "listener 'a' at 3:9)",
                     "t.toml:7:49: duplicate bind address \"[::]:81\" (already used by listener "
                     "'b' at 7:38)",
                 });
}

TEST(ConfigErrors, InvalidNames) {
    expectErrors(R"([[listener]]
name = "my web"
bind = ["127.0.0.1:0"]
pool = "pg"
[[pool]]
name = ""
  [pool.discovery]
  targets = ["10.0.0.4:1"]
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
)",
                 {
                     "t.toml:2:8: listener name 'my web' must be non-empty and use only letters, "
                     "digits, '_', '.' and '-'",
                     "t.toml:6:8: pool name '' must be non-empty and use only letters, digits, "
                     "'_', '.' and '-'",
                 });
}

TEST(ConfigErrors, DanglingPoolReference) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "sitex"
[[listener]]
bind = ["127.0.0.1:0"]
name = "other"
pool = "zzz"
[[pool]]
name = "site"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
)",
                 {
                     "t.toml:4:8: listener 'web' refers to unknown pool 'sitex'; did you mean "
                     "'site'?",
                     "t.toml:8:8: listener 'other' refers to unknown pool 'zzz'",
                 });
}

TEST(ConfigErrors, MissingRequiredKeysAreReportedAtTheHeader) {
    expectErrors(R"([[pool]]
balancer = "round_robin"
  [pool.discovery]
  targets = ["10.0.0.4:1"]

[[listener]]
protocol = "tcp"
)",
                 {
                     "t.toml:1:1: [[pool]] is missing required key 'name'",
                     "t.toml:6:1: [[listener]] is missing required key 'name'",
                     "t.toml:6:1: [[listener]] is missing required key 'bind'",
                     "t.toml:6:1: [[listener]] needs 'pool' or at least one [[listener.route]]",
                 });
}

TEST(ConfigErrors, AtLeastOneListenerIsRequired) {
    std::string pools(test::kMinimalPool);
    expectErrors(pools, {"t.toml:1:1: no [[listener]] defined: at least one is required"});
    expectErrors("listener = []\n" + pools,
                 {"t.toml:1:12: no [[listener]] defined: at least one is required"});
    expectErrors("[listener]\nname = \"x\"\n" + pools,
                 {"t.toml:1:1: 'listener' must be an array of tables ([[listener]]), not a "
                  "table"});
    expectErrors("listener = [1]\n" + pools,
                 {"t.toml:1:13: each element of 'listener' must be a table, not an integer"});
}

TEST(ConfigErrors, OutOfRangeAndInvalidChoices) {
    expectErrors(R"([gateway]
workers = 2000
max_connections = 0
[log]
level = "verbose"
format = "xml"
access = ""
[[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "pg"
protocol = "udp"
max_connections = -1
[[pool]]
name = "pg"
affinity = "sticky"
balancing_mode = "fastest"
max_utilization = 1.5
max_connections_per_backend = -2
  [pool.backend]
  protocol = "udp"
  port = 0
  retries = 101
  proxy_protocol = "v3"
  [pool.discovery]
  targets = ["10.0.0.4:1"]
  [pool.probe]
  healthy_threshold = 0
  port = 70000
)",
                 {
                     "t.toml:2:11: 'workers' must be from 0 to 1024, got 2000",
                     "t.toml:3:19: 'max_connections' must be at least 1, got 0",
                     "t.toml:5:9: 'level' must be \"trace\", \"debug\", \"info\", \"warn\" or "
                     "\"error\", not \"verbose\"",
                     "t.toml:6:10: 'format' must be \"logfmt\" or \"json\", not \"xml\"",
                     "t.toml:7:10: 'access' must not be empty (use \"off\" to disable the access "
                     "log)",
                     "t.toml:12:12: 'protocol' must be \"tcp\", \"tls\", \"http\" or \"https\", "
                     "not \"udp\"",
                     "t.toml:13:19: 'max_connections' must be at least 1, got -1",
                     "t.toml:16:12: 'affinity' must be \"none\" or \"client_ip\", not \"sticky\"",
                     "t.toml:17:18: 'balancing_mode' must be \"connection\" or \"utilization\", "
                     "not \"fastest\"",
                     "t.toml:18:19: 'max_utilization' must be greater than 0 and at most 1, got "
                     "1.5",
                     "t.toml:19:31: 'max_connections_per_backend' must be from 0 to 4294967295, "
                     "got -2",
                     "t.toml:21:14: 'protocol' must be \"tcp\" or \"tls\", not \"udp\"",
                     "t.toml:22:10: 'port' must be from 1 to 65535, got 0",
                     "t.toml:23:13: 'retries' must be from 0 to 100, got 101",
                     "t.toml:24:20: 'proxy_protocol' must be \"off\", \"v1\" or \"v2\", not "
                     "\"v3\"",
                     "t.toml:28:23: 'healthy_threshold' must be from 1 to 4294967295, got 0",
                     "t.toml:29:10: 'port' must be from 0 to 65535, got 70000",
                 });
}

TEST(ConfigErrors, NotSupportedYet) {
    expectErrors(R"([gateway]
region = "eu-west"
# 'user' is supported: see gateway_user_test.cpp
[admin]
bind = "127.0.0.1:9901"
[[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "tcp"
pool = "pg"
# PROXY protocol keys are supported: see proxy_protocol_config_test.cpp
request_timeout = "30s"
ws_max_session = "1h"
# TLS listeners are supported: see tls_config_test.cpp
#
[[pool]]
name = "pg"
affinity = "client_ip"
balancing_mode = "connection"
region_order = ["eu-west"]
  [pool.backend]
  # (proxy_protocol: see proxy_protocol_config_test.cpp)
  # TLS to backends is supported: see tls_config_test.cpp
  #
  [pool.discovery]
  targets = ["10.0.0.4:1"]
  [pool.probe]
  # (proxy_protocol: see proxy_protocol_config_test.cpp)
)",
                 {
                     "t.toml:12:19: 'request_timeout' applies to protocol \"http\" and \"https\" "
                     "listeners, not \"tcp\"",
                     "t.toml:13:18: 'ws_max_session' applies to protocol \"http\" and \"https\" "
                     "listeners, not \"tcp\"",
                 });
}

TEST(ConfigErrors, PluginNotFound) {
    expectErrors(
        R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "pg"
[[pool]]
name = "pg"
balancer = "nope"
  [pool.discovery]
  plugin = "nope_discovery"
  [pool.probe]
  plugin = "nope_probe"
)",
        {
            "t.toml:7:12: balancer plugin 'nope' not found (searched: " + kPluginDirAsLoaded + ")",
            "t.toml:9:12: discovery plugin 'nope_discovery' not found (searched: " +
                kPluginDirAsLoaded + ")",
            "t.toml:11:12: probe plugin 'nope_probe' not found (searched: " + kPluginDirAsLoaded +
                ")",
        });
}

TEST(ConfigErrors, PluginReportsItsOwnErrorAtTheValue) {
    LoadResult r = loadText(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "pg"
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:1", 42]
)");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              Lines{"t.toml:8:28: a target must be an address string (\"host:port\") or a table "
                    "{ address = \"host:port\", weight = N, max_connections = N, region = "
                    "\"...\", priority = N }, not an integer"});
}

TEST(ConfigErrors, PluginErrorWithoutANodeGoesToTheTableOrThePluginName) {
    // The static plugin reports a missing 'targets' at its table, or at the pool when there is
    // no [pool.discovery] at all; a balancer has no table, so its errors point at `balancer`.
    const std::string support_dir = std::string(POSTERN_TEST_SUPPORT_DIR) + "/plugins/config_error";
    expectErrors(R"([gateway]
plugin_dirs = [")" + kPluginDir +
                     R"(", ")" + support_dir + R"("]
[[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "a"
[[pool]]
name = "a"
balancer = "config_error"
  [pool.discovery]
  refresh = "5s"
[[pool]]
name = "b"
)",
                 {
                     "t.toml:9:12: needs 'x'",
                     "t.toml:10:3: needs 'targets': the backends' addresses, e.g. targets = "
                     "[\"10.0.0.4\", \"10.0.0.5:5433\"]",
                     "t.toml:12:1: needs 'targets': the backends' addresses, e.g. targets = "
                     "[\"10.0.0.4\", \"10.0.0.5:5433\"]",
                 });
}

TEST(ConfigErrors, KeysNoPluginReadsAreUnknown) {
    LoadResult r = loadText(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "pg"
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:1", { address = "10.0.0.5:1", wieght = 3 }]
  refersh = "10s"
  [pool.probe]
  pth = "/"
)");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              (Lines{
                  "t.toml:8:54: unknown key 'wieght' in [pool.discovery] (not used by discovery "
                  "plugin 'static'); did you mean 'weight'?",
                  "t.toml:9:3: unknown key 'refersh' in [pool.discovery] (not used by discovery "
                  "plugin 'static'); did you mean 'refresh'?",
                  "t.toml:11:3: unknown key 'pth' in [pool.probe] (not used by probe plugin "
                  "'tcp')",
              }));
}

TEST(ConfigErrors, ManyErrorsAreAllReportedSortedByPosition) {
    // Found in another order (sections, then pools, then listeners, then references and plugins)
    // than they appear in the file.
    expectErrors(
        R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
pool = "nowhere"
idle_timeout = "0s"
[[pool]]
name = "pg"
balancer = "nope"
retries = 3
  [pool.discovery]
  targets = ["10.0.0.4:1"]
[gateway]
workers = -1
[log]
level = "loud"
)",
        {
            "t.toml:4:8: listener 'web' refers to unknown pool 'nowhere'",
            "t.toml:5:16: 'idle_timeout' must be greater than 0",
            "t.toml:8:12: balancer plugin 'nope' not found (searched: " + kPluginDirAsLoaded + ")",
            "t.toml:9:1: unknown key 'retries' in [[pool]]",
            "t.toml:13:11: 'workers' must be from 0 to 1024, got -1",
            "t.toml:15:9: 'level' must be \"trace\", \"debug\", \"info\", \"warn\" or "
            "\"error\", not \"loud\"",
        });
}

TEST(ConfigErrors, PluginDirsMustBeUsable) {
    std::string rest = "[[listener]]\nname = \"l\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n";
    rest += test::kMinimalPool;
    // Unusable plugin_dirs are reported once, not as one "not found" per plugin.
    expectErrors("[gateway]\nplugin_dirs = []\n" + rest,
                 {"t.toml:2:15: 'plugin_dirs' must not be empty (leave it out to use the "
                  "built-in plugin directory)"});
    expectErrors("[gateway]\nplugin_dirs = [\"\", \"/x\"]\n" + rest,
                 {"t.toml:2:16: 'plugin_dirs' entries must not be empty"});
    expectErrors("[gateway]\nplugin_dirs = [\"/x\", 3]\n" + rest,
                 {"t.toml:2:22: each element of 'plugin_dirs' must be a string, not an integer"});
}

TEST(ConfigErrors, AdminTableMustBeATable) {
    std::string rest = "[[listener]]\nname = \"l\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n";
    rest += test::kMinimalPool;
    expectErrors("admin = \"on\"\n" + rest, {"t.toml:1:9: 'admin' must be a table, not a string"});
    expectErrors("[admin]\ntoken = \"\"\nport = 1\n" + rest,
                 {"t.toml:3:1: unknown key 'port' in [admin]"});
}

}  // namespace
}  // namespace postern::config

// ---- what `run` would otherwise find only after loading (issue 13) -----------------------------

namespace postern::config {
namespace {

/** A directory of its own under the system's temporary directory, removed afterwards. */
class StartCheckTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("postern_start_checks_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_ / "logs");
        std::ofstream(dir_ / "a-file") << "x";
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    LoadResult loadWithAccess(const std::string& access) {
        std::string text = "[log]\naccess = \"" + access +
                           "\"\n[[listener]]\nname = \"l\"\nbind = [\"127.0.0.1:0\"]\npool = "
                           "\"pg\"\n";
        text += test::kMinimalPool;
        return loadConfigText(text, "t.toml", dir_, test::sharedRegistry(), test::testOptions());
    }
    std::filesystem::path dir_;
};

TEST_F(StartCheckTest, AccessLogInAMissingDirectoryIsAConfigError) {
    // Before: `postern check` passed and `postern run` failed opening the file.
    LoadResult r = loadWithAccess("no-such-dir/access.log");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              (Lines{"t.toml:2:10: 'access': directory \"no-such-dir\" does not exist "
                     "(create it, writable by the user postern runs as)"}));
}

TEST_F(StartCheckTest, AccessLogThatIsADirectoryOrUnderAFileIsAConfigError) {
    EXPECT_EQ(errorLines(loadWithAccess("logs")),
              (Lines{"t.toml:2:10: 'access': \"logs\" is a directory (name a file in it)"}));
    EXPECT_EQ(errorLines(loadWithAccess("a-file/access.log")),
              (Lines{"t.toml:2:10: 'access': \"a-file\" is not a directory"}));
}

TEST_F(StartCheckTest, AccessLogInAnExistingDirectoryLoadsAndCreatesNothing) {
    LoadResult r = loadWithAccess("logs/access.log");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->log.access, (dir_ / "logs" / "access.log").lexically_normal().string());
    EXPECT_FALSE(std::filesystem::exists(dir_ / "logs" / "access.log"));  // `run` creates it
    // An existing file is appended to.
    std::ofstream(dir_ / "logs" / "old.log") << "line\n";
    EXPECT_TRUE(loadWithAccess("logs/old.log").config);
}

#ifdef _WIN32
TEST_F(StartCheckTest, SyslogAccessLogOnWindowsIsAConfigError) {
    EXPECT_EQ(errorLines(loadWithAccess("syslog")),
              (Lines{"t.toml:2:10: access log \"syslog\" is not available on Windows (use a file "
                     "path or \"off\"; postern's own log goes to the Event Log)"}));
}
#endif

}  // namespace
}  // namespace postern::config
