// Valid configurations: every value arrives in Config exactly as written, defaults where absent,
// plugin instances created from their own tables; files, paths and parse errors.
#include "config/loader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using namespace std::chrono_literals;
using test::errorLines;
using test::loadText;
namespace fs = std::filesystem;

constexpr std::string_view kFull = R"(
[gateway]
workers = 6
max_connections = 5000
region = ""
user = ""
splice = false

[log]
level = "debug"
access = "../../tmp/access.log"
format = "json"

[admin]

[[listener]]
name = "postgres"
bind = ["0.0.0.0:5432", "[::]:5432", "127.0.0.1:0"]
protocol = "tcp"
pool = "pg"
idle_timeout = "90s"
max_connections = 123
accept_proxy = false
trusted_proxies = []
ws_max_session = "0s"

[[listener]]
name = "redis.cache-1"
bind = ["127.0.0.1:6379", "127.0.0.1:0"]
pool = "cache"
idle_timeout = 600

[[pool]]
name = "pg"
balancer = "round_robin"
affinity = "none"
drain_timeout = "unlimited"
balancing_mode = "connection"
max_connections_per_backend = 50
region_order = []
  [pool.backend]
  protocol = "tcp"
  port = 5432
  connect_timeout = "750ms"
  retries = 4
  proxy_protocol = "off"
  proxy_protocol_crc = false
  tls_sni = ""
  tls_ca = ""
  tls_verify = true
  tls_client_cert = ""
  tls_client_key = ""
  [pool.discovery]
  plugin = "static"
  targets = ["10.0.0.4", "10.0.0.5:5433", { address = "db.corp.example:5432", weight = 2, max_connections = 500, region = "eu-north" }]
  refresh = "1m"
  [pool.probe]
  plugin = "tcp"
  interval = "3s"
  timeout = "1500ms"
  healthy_threshold = 1
  unhealthy_threshold = 5
  port = 9999
  proxy_protocol = false

[[pool]]
name = "cache"
drain_timeout = 0
  [pool.discovery]
  targets = ["127.0.0.1:6379"]
)";

struct Target {
    std::string host;
    std::uint16_t port;
    std::uint32_t weight;
    std::uint32_t max_connections;
    std::string region;
    bool operator==(const Target&) const = default;
};

std::vector<Target> discover(const plugin::Discovery& d) {
    std::vector<Target> out;
    postern_discovery_sink sink{
        &out,
        [](void* ctx, const postern_target* t) noexcept {
            static_cast<std::vector<Target>*>(ctx)->push_back(
                Target{std::string(t->host.data, t->host.size), t->port, t->weight,
                       t->max_connections, std::string(t->region.data, t->region.size)});
        },
        [](void*, postern_str) noexcept {}};
    d.discover(sink, 1000);
    return out;
}

TEST(ConfigLoader, FullTcpConfigLoadsEveryValueAsWritten) {
    LoadResult r = loadText(kFull);
    ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
    ASSERT_TRUE(r.config);
    const Config& c = *r.config;
    EXPECT_EQ(c.file, fs::path());  // from text

    EXPECT_EQ(c.gateway.workers, 6u);
    EXPECT_EQ(c.gateway.max_connections, 5000u);
    EXPECT_FALSE(c.gateway.splice);
    EXPECT_EQ(c.gateway.plugin_dirs,
              std::vector<fs::path>{test::asLoaded(POSTERN_TEST_PLUGIN_DIR)});

    EXPECT_EQ(c.log.level, common::LogLevel::Debug);
    EXPECT_EQ(c.log.access, test::asLoaded("/tmp/access.log").string());
    EXPECT_EQ(c.log.format, AccessFormat::Json);

    ASSERT_EQ(c.listeners.size(), 2u);
    const ListenerConfig& pg = c.listeners[0];
    EXPECT_EQ(pg.name, "postgres");
    ASSERT_EQ(pg.binds.size(), 3u);
    EXPECT_EQ(pg.binds[0].host, "0.0.0.0");
    EXPECT_EQ(pg.binds[0].port, 5432);
    EXPECT_EQ(pg.binds[0].text, "0.0.0.0:5432");
    EXPECT_EQ(pg.binds[1].host, "::");
    EXPECT_EQ(pg.binds[1].port, 5432);
    EXPECT_EQ(pg.binds[1].text, "[::]:5432");
    EXPECT_EQ(pg.binds[2].port, 0);
    EXPECT_EQ(pg.protocol, ListenerProtocol::Tcp);
    EXPECT_EQ(pg.pool, "pg");
    EXPECT_EQ(pg.pool_index, 0u);
    EXPECT_EQ(pg.idle_timeout, 90s);
    EXPECT_EQ(pg.max_connections, 123u);
    EXPECT_EQ(pg.pos.line, 16u);
    EXPECT_EQ(pg.pos.column, 1u);

    const ListenerConfig& redis = c.listeners[1];
    EXPECT_EQ(redis.name, "redis.cache-1");
    EXPECT_EQ(redis.pool, "cache");
    EXPECT_EQ(redis.pool_index, 1u);
    EXPECT_EQ(redis.idle_timeout, 600s);
    EXPECT_EQ(redis.max_connections, 10000u);  // default
    EXPECT_EQ(redis.protocol, ListenerProtocol::Tcp);

    ASSERT_EQ(c.pools.size(), 2u);
    const PoolConfig& p = c.pools[0];
    EXPECT_EQ(p.name, "pg");
    EXPECT_EQ(p.pos.line, 33u);
    EXPECT_EQ(p.balancer, "round_robin");
    ASSERT_TRUE(p.balancer_factory);
    EXPECT_EQ(p.balancer_factory->plugin().name, "round_robin");
    EXPECT_EQ(p.drain_timeout, kUnlimited);
    EXPECT_EQ(p.max_connections_per_backend, 50u);
    EXPECT_EQ(p.backend.port, 5432);
    EXPECT_EQ(p.backend.connect_timeout, 750ms);
    EXPECT_EQ(p.backend.retries, 4u);
    EXPECT_EQ(p.discovery.plugin, "static");
    EXPECT_EQ(p.discovery.refresh, 1min);
    ASSERT_TRUE(p.discovery.instance);
    EXPECT_EQ(p.discovery.instance->plugin().name, "static");
    EXPECT_EQ(discover(*p.discovery.instance),
              (std::vector<Target>{{"10.0.0.4", 0, 1, 0, ""},
                                   {"10.0.0.5", 5433, 1, 0, ""},
                                   {"db.corp.example", 5432, 2, 500, "eu-north"}}));
    ASSERT_TRUE(p.probe.has_value());
    EXPECT_EQ(p.probe->plugin, "tcp");
    EXPECT_EQ(p.probe->interval, 3s);
    EXPECT_EQ(p.probe->timeout, 1500ms);
    EXPECT_EQ(p.probe->healthy_threshold, 1u);
    EXPECT_EQ(p.probe->unhealthy_threshold, 5u);
    EXPECT_EQ(p.probe->port, 9999);
    ASSERT_TRUE(p.probe->instance);
    EXPECT_EQ(p.probe->instance->plugin().name, "tcp");

    const PoolConfig& cache = c.pools[1];
    EXPECT_EQ(cache.name, "cache");
    EXPECT_EQ(cache.drain_timeout, 0ms);
    EXPECT_EQ(cache.balancer, "round_robin");  // default
    ASSERT_TRUE(cache.balancer_factory);
    EXPECT_EQ(cache.backend.port, 0);  // defaults
    EXPECT_EQ(cache.backend.connect_timeout, 5s);
    EXPECT_EQ(cache.backend.retries, 2u);
    EXPECT_EQ(cache.discovery.plugin, "static");
    EXPECT_EQ(cache.discovery.refresh, 30s);
    ASSERT_TRUE(cache.discovery.instance);
    EXPECT_EQ(discover(*cache.discovery.instance),
              (std::vector<Target>{{"127.0.0.1", 6379, 1, 0, ""}}));
    EXPECT_FALSE(cache.probe.has_value());  // no [pool.probe] = no health checks
}

TEST(ConfigLoader, DefaultsApplyWhenSectionsAreAbsent) {
    std::string text = R"(
[[listener]]
name = "l"
bind = ["127.0.0.1:0"]
pool = "pg"
)";
    text += test::kMinimalPool;
    LoadResult r = loadText(text);
    ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
    const Config& c = *r.config;
    EXPECT_EQ(c.gateway.workers, 3u);  // options.cpu_count
    EXPECT_EQ(c.gateway.max_connections, 200000u);
    EXPECT_TRUE(c.gateway.splice);
    EXPECT_EQ(c.log.level, common::LogLevel::Info);
    EXPECT_EQ(c.log.access, "stdout");
    EXPECT_EQ(c.log.format, AccessFormat::Logfmt);
    EXPECT_EQ(c.listeners[0].idle_timeout, 4min);
    EXPECT_EQ(c.listeners[0].max_connections, 10000u);
    EXPECT_EQ(c.pools[0].drain_timeout, 30s);
    EXPECT_EQ(c.pools[0].max_connections_per_backend, 0u);
}

TEST(ConfigLoader, WorkersZeroMeansOnePerCpu) {
    std::string text =
        "[gateway]\nworkers = 0\n[[listener]]\nname = \"l\"\n"
        "bind = [\"127.0.0.1:0\"]\npool = \"pg\"\n";
    text += test::kMinimalPool;
    LoadOptions options = test::testOptions();
    options.cpu_count = 5;
    LoadResult r = loadText(text, options);
    ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->gateway.workers, 5u);
}

TEST(ConfigLoader, SpecialAccessTargetsAreKeptAndAbsolutePathsUntouched) {
#ifdef _WIN32
    for (std::string_view access : {"stdout", "stderr", "off", "/tmp/p.log"}) {
#else
    for (std::string_view access : {"stdout", "stderr", "syslog", "off", "/tmp/p.log"}) {
#endif
        std::string text = "[log]\naccess = \"" + std::string(access) +
                           "\"\n[[listener]]\nname = \"l\"\nbind = [\"127.0.0.1:0\"]\npool = "
                           "\"pg\"\n";
        text += test::kMinimalPool;
        LoadResult r = loadText(text);
        ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
        EXPECT_EQ(r.config->log.access,
                  access.front() == '/' ? test::asLoaded(access).string() : std::string(access));
    }
}

class ConfigFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("postern_config_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;  // on Windows, plugin DLLs loaded from here stay locked: best effort
        fs::remove_all(dir_, ec);
    }
    fs::path write(const std::string& name, std::string_view text) {
        fs::path p = dir_ / name;
        std::ofstream(p) << text;
        return p;
    }
    fs::path dir_;
};

TEST_F(ConfigFileTest, RelativePluginDirsAndPathsResolveAgainstTheFile) {
    fs::create_directories(dir_ / "etc");
#ifdef _WIN32
    // wine has no symbolic links (and real Windows needs a privilege for them): a copy serves.
    fs::copy(POSTERN_TEST_PLUGIN_DIR, dir_ / "etc" / "my-plugins", fs::copy_options::recursive);
#else
    fs::create_directory_symlink(POSTERN_TEST_PLUGIN_DIR, dir_ / "etc" / "my-plugins");
#endif
    std::string text = R"([gateway]
plugin_dirs = ["my-plugins", "../elsewhere"]
[log]
access = "access.log"
[[listener]]
name = "l"
bind = ["127.0.0.1:0"]
pool = "pg"
)";
    text += test::kMinimalPool;
    fs::path file = write("etc/postern.toml", text);
    plugin::Registry registry;  // its own: these plugins are found through the relative dir
    LoadResult r = loadConfigFile(file, registry, test::testOptions());
    ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->file, file.lexically_normal());
    EXPECT_EQ(r.config->gateway.plugin_dirs,
              (std::vector<fs::path>{dir_ / "etc" / "my-plugins", dir_ / "elsewhere"}));
    EXPECT_EQ(r.config->log.access, (dir_ / "etc" / "access.log").string());
    // This registry scanned only the resolved directories, so the plugins came from there.
    ASSERT_TRUE(r.config->pools[0].discovery.instance);
    ASSERT_TRUE(r.config->pools[0].balancer_factory);
}

TEST_F(ConfigFileTest, RelativePluginDirsNotFoundNamesTheResolvedDirectory) {
    std::string text =
        "[gateway]\nplugin_dirs = [\"nothing-here\"]\n[[listener]]\nname = \"l\"\n"
        "bind = [\"127.0.0.1:0\"]\npool = \"pg\"\n";
    text += test::kMinimalPool;
    fs::path file = write("p.toml", text);
    plugin::Registry registry;
    LoadResult r = loadConfigFile(file, registry, test::testOptions());
    const std::string searched = (dir_ / "nothing-here").string();
    EXPECT_EQ(errorLines(r),
              (std::vector<std::string>{
                  file.string() +
                      ":8:1: balancer plugin 'round_robin' not found (searched: " + searched + ")",
                  file.string() +
                      ":10:3: discovery plugin 'static' not found (searched: " + searched + ")",
              }));
}

TEST_F(ConfigFileTest, MissingFileIsOneErrorWithTheReason) {
    plugin::Registry registry;
    const fs::path file = dir_ / "absent.toml";
    LoadResult r = loadConfigFile(file, registry, test::testOptions());
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              std::vector<std::string>{file.string() +
                                       ":1:1: cannot read file: No such file or directory"});
}

TEST_F(ConfigFileTest, DirectoryIsNotAConfigFile) {
    plugin::Registry registry;
    LoadResult r = loadConfigFile(dir_, registry, test::testOptions());
    EXPECT_EQ(errorLines(r), std::vector<std::string>{dir_.string() +
                                                      ":1:1: cannot read file: it is a directory"});
}

TEST_F(ConfigFileTest, AnEndlessFileIsRefusedNotReadToTheEnd) {
    plugin::Registry registry;
    LoadResult r = loadConfigFile("/dev/zero", registry, test::testOptions());
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              std::vector<std::string>{"/dev/zero:1:1: cannot read file: larger than 16 MiB"});
}

TEST_F(ConfigFileTest, SyntaxErrorIsOneErrorAtTheParserPosition) {
    fs::path file = write("bad.toml", "[gateway]\nworkers = 2\nworkers = 3\n");
    plugin::Registry registry;
    LoadResult r = loadConfigFile(file, registry, test::testOptions());
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r), std::vector<std::string>{
                                 file.string() + ":3:11: Error while parsing key-value pair: "
                                                 "cannot redefine existing integer 'workers'"});
}

TEST(ConfigLoader, SyntaxErrorInTextUsesTheDisplayName) {
    LoadResult r = loadText("[[listener]]\nname = \"x\nbind = []\n");
    EXPECT_FALSE(r.config);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].file, "t.toml");
    EXPECT_EQ(r.errors[0].line, 2u);
    EXPECT_FALSE(r.errors[0].message.empty());
}

// The fixtures are shared with the `postern check` integration tests.
TEST(ConfigFixtures, ValidFixtureLoads) {
    const fs::path file = fs::path(POSTERN_SOURCE_DIR) / "tests/fixtures/config/valid.toml";
    LoadResult r = loadConfigFile(file, test::sharedRegistry(), test::testOptions());
    ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->file, test::asLoaded(file.string()).lexically_normal());
}

std::vector<std::string> readLines(const fs::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

/** Loads tests/fixtures/config/<name>.toml as "<name>.toml" from that directory (as
 * `postern check -c <name>.toml` run there would: messages name the file exactly as given) and
 * compares with <name>.expected. */
void expectFixtureErrors(const std::string& name) {
    const fs::path dir = fs::path(POSTERN_SOURCE_DIR) / "tests/fixtures/config";
    const fs::path previous = fs::current_path();
    fs::current_path(dir);
    LoadResult r = loadConfigFile(name + ".toml", test::sharedRegistry(), test::testOptions());
    fs::current_path(previous);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r), readLines(dir / (name + ".expected")));
}

// The example configurations shipped in examples/ must stay valid.
TEST(ConfigFixtures, ExamplesLoad) {
    const fs::path dir = fs::path(POSTERN_SOURCE_DIR) / "examples";
    if (!fs::exists(dir)) GTEST_SKIP() << "no examples/ directory";
    std::set<std::string> loaded;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".toml") continue;
        LoadResult r = loadConfigFile(entry.path(), test::sharedRegistry(), test::testOptions());
        EXPECT_TRUE(r.errors.empty()) << entry.path() << testing::PrintToString(errorLines(r));
        EXPECT_TRUE(r.config) << entry.path();
        loaded.insert(entry.path().filename().string());
    }
    // The common jobs the README and docs/install.md promise an example for.
    for (const char* name : {"tcp.toml", "tls-proxy-v1.toml", "http-routing.toml", "websocket.toml",
                             "dns-discovery.toml", "file-discovery.toml", "sni-passthrough.toml"}) {
        EXPECT_TRUE(loaded.count(name)) << "examples/" << name << " is missing";
    }
}

// docs/configuration.md ends with a complete example: keep it valid.
TEST(ConfigFixtures, DocumentationExampleLoads) {
    std::ifstream in(fs::path(POSTERN_SOURCE_DIR) / "docs/configuration.md");
    const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto begin = doc.rfind("```toml\n");
    ASSERT_NE(begin, std::string::npos);
    const auto end = doc.find("```", begin + 8);
    ASSERT_NE(end, std::string::npos);
    LoadResult r = loadText(doc.substr(begin + 8, end - begin - 8));
    EXPECT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
    ASSERT_TRUE(r.config);
    EXPECT_EQ(r.config->pools[0].backend.port, 5432);
}

TEST(ConfigFixtures, InvalidMultiReportsEveryErrorInOrder) { expectFixtureErrors("invalid_multi"); }
TEST(ConfigFixtures, SyntaxErrorFixture) { expectFixtureErrors("syntax_error"); }
TEST(ConfigFixtures, AdminErrorsFixture) { expectFixtureErrors("admin_errors"); }
#ifndef _WIN32
// `run` used to find these only after loading; `check` and a reload now report them too.
TEST(ConfigFixtures, StartChecksFixture) { expectFixtureErrors("start_checks"); }
#endif

}  // namespace
}  // namespace postern::config
