// Health keys of a pool: `[pool.backend] passive_failures` (default, off, bad values at their
// position) and the default of `[pool.probe] proxy_protocol` (PROXY on probes to the backends' own
// port when the backends get PROXY; explicit values win).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::loadText;

/** A listener and one pool with `backend` and `probe` as the bodies of their sections (an empty
 * `probe` leaves the section out). The [pool.backend] keys start on line 9. */
std::string poolWith(std::string_view backend, std::string_view probe = {}) {
    std::string s = R"([[listener]]
name = "in"
bind = ["127.0.0.1:0"]
pool = "pg"
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:5432", "10.0.0.5:6000"]
  [pool.backend]
)";
    s += std::string(backend) + "\n";
    if (!probe.empty()) s += "  [pool.probe]\n" + std::string(probe) + "\n";
    return s;
}

TEST(HealthConfig, PassiveFailuresDefaultsToThree) {
    LoadResult r = loadText(poolWith(""));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->pools[0].backend.passive_failures, 3u);
}

TEST(HealthConfig, PassiveFailuresReadAndZeroTurnsItOff) {
    LoadResult r = loadText(poolWith("  passive_failures = 5"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->pools[0].backend.passive_failures, 5u);
    LoadResult off = loadText(poolWith("  passive_failures = 0"));
    ASSERT_TRUE(off.config) << testing::PrintToString(errorLines(off));
    EXPECT_EQ(off.config->pools[0].backend.passive_failures, 0u);
}

TEST(HealthConfig, BadPassiveFailuresReportedAtTheValue) {
    LoadResult negative = loadText(poolWith("  passive_failures = -1"));
    EXPECT_FALSE(negative.config);
    EXPECT_EQ(errorLines(negative),
              (std::vector<std::string>{
                  "t.toml:10:22: 'passive_failures' must be from 0 to 4294967295, got -1"}));
    LoadResult text = loadText(poolWith("  passive_failures = \"3\""));
    EXPECT_FALSE(text.config);
    ASSERT_EQ(errorLines(text).size(), 1u);
    EXPECT_EQ(errorLines(text)[0].rfind("t.toml:10:22: 'passive_failures' must be an integer", 0),
              0u)
        << errorLines(text)[0];
}

TEST(HealthConfig, ProbeProxyProtocolDefaultsOffWhenBackendsGetNoProxy) {
    LoadResult r = loadText(poolWith("", "  plugin = \"tcp\""));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const PoolConfig& pool = r.config->pools[0];
    ASSERT_TRUE(pool.probe);
    EXPECT_EQ(pool.probe->proxy_protocol_explicit, std::nullopt);
    EXPECT_FALSE(pool.probe->sendsProxy(pool.backend, 5432));
}

TEST(HealthConfig, ProbeProxyProtocolDefaultsOnForTheBackendsOwnPort) {
    for (const char* version : {"v1", "v2"}) {
        LoadResult r = loadText(
            poolWith(std::string("  proxy_protocol = \"") + version + "\"", "  plugin = \"http\""));
        ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
        const PoolConfig& pool = r.config->pools[0];
        ASSERT_TRUE(pool.probe);
        EXPECT_EQ(pool.probe->proxy_protocol_explicit, std::nullopt) << version;
        // port = 0: every backend is probed on its own port, whatever it is.
        EXPECT_TRUE(pool.probe->sendsProxy(pool.backend, 5432)) << version;
        EXPECT_TRUE(pool.probe->sendsProxy(pool.backend, 6000)) << version;
    }
}

TEST(HealthConfig, ProbeOnTheBackendPortSendsProxyOnAnotherPortNot) {
    LoadResult r =
        loadText(poolWith("  proxy_protocol = \"v1\"", "  plugin = \"agent\"\n  port = 5432"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const PoolConfig& pool = r.config->pools[0];
    ASSERT_TRUE(pool.probe);
    EXPECT_TRUE(pool.probe->sendsProxy(pool.backend, 5432)) << "probe port = the backend's port";
    EXPECT_FALSE(pool.probe->sendsProxy(pool.backend, 6000)) << "an agent port: no PROXY";
}

TEST(HealthConfig, ExplicitProbeProxyProtocolWins) {
    LoadResult off = loadText(
        poolWith("  proxy_protocol = \"v1\"", "  plugin = \"http\"\n  proxy_protocol = false"));
    ASSERT_TRUE(off.config) << testing::PrintToString(errorLines(off));
    const PoolConfig& p1 = off.config->pools[0];
    EXPECT_EQ(p1.probe->proxy_protocol_explicit, std::optional<bool>(false));
    EXPECT_FALSE(p1.probe->sendsProxy(p1.backend, 5432));

    LoadResult on =
        loadText(poolWith("", "  plugin = \"agent\"\n  port = 7000\n  proxy_protocol = true"));
    ASSERT_TRUE(on.config) << testing::PrintToString(errorLines(on));
    const PoolConfig& p2 = on.config->pools[0];
    EXPECT_EQ(p2.probe->proxy_protocol_explicit, std::optional<bool>(true));
    EXPECT_TRUE(p2.probe->sendsProxy(p2.backend, 5432));
}

}  // namespace
}  // namespace postern::config
