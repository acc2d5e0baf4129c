// The balancing keys (SPEC §2/§3): gateway.region, affinity, balancing_mode, max_utilization,
// region_order, and the balancer and probe plugins they come with — loaded as written, and every
// misuse reported at its position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::loadText;
using Lines = std::vector<std::string>;

constexpr std::string_view kListener = R"(
[[listener]]
name = "front"
bind = ["127.0.0.1:0"]
pool = "pg"
)";

TEST(BalancingConfig, EveryKeyLoadsAsWritten) {
    const std::string text = std::string(R"([gateway]
region = "eu-west"
)") + std::string(kListener) +
                             R"(
[[pool]]
name = "pg"
balancer = "maglev"
affinity = "client_ip"
balancing_mode = "utilization"
max_utilization = 0.65
max_connections_per_backend = 7
region_order = ["eu-west", "eu-north", "us-east"]
  [pool.discovery]
  targets = [{ address = "10.0.0.4:5432", region = "eu-west", max_connections = 3 }]
  [pool.probe]
  plugin = "http"
  path = "/healthz"
  host = "db.internal"
  expect_status = "200,204"

[[pool]]
name = "agent"
balancer = "least_connections"
  [pool.discovery]
  targets = ["10.0.0.5:1"]
  [pool.probe]
  plugin = "agent"
  port = 9999
  send = "status\n"

[[pool]]
name = "p2c"
balancer = "random_two"
  [pool.discovery]
  targets = ["10.0.0.6:1"]
)";
    LoadResult r = loadText(text);
    ASSERT_TRUE(r.errors.empty()) << testing::PrintToString(errorLines(r));
    ASSERT_TRUE(r.config);
    const Config& c = *r.config;
    EXPECT_EQ(c.gateway.region, "eu-west");
    ASSERT_EQ(c.pools.size(), 3u);
    const PoolConfig& p = c.pools[0];
    EXPECT_EQ(p.balancer_factory->plugin().name, "maglev");
    EXPECT_EQ(p.affinity, Affinity::ClientIp);
    EXPECT_EQ(p.balancing_mode, BalancingMode::Utilization);
    EXPECT_DOUBLE_EQ(p.max_utilization, 0.65);
    EXPECT_EQ(p.max_connections_per_backend, 7u);
    EXPECT_EQ(p.region_order, (std::vector<std::string>{"eu-west", "eu-north", "us-east"}));
    EXPECT_EQ(p.local_region, "eu-west");
    ASSERT_TRUE(p.probe);
    EXPECT_EQ(p.probe->instance->plugin().name, "http");

    const PoolConfig& agent = c.pools[1];
    EXPECT_EQ(agent.balancer_factory->plugin().name, "least_connections");
    EXPECT_EQ(agent.affinity, Affinity::None);
    EXPECT_EQ(agent.balancing_mode, BalancingMode::Connection);
    EXPECT_DOUBLE_EQ(agent.max_utilization, 0.8);  // the default, unused in connection mode
    EXPECT_TRUE(agent.region_order.empty());
    EXPECT_EQ(agent.local_region, "eu-west");
    EXPECT_EQ(agent.probe->instance->plugin().name, "agent");
    EXPECT_EQ(agent.probe->port, 9999);
    EXPECT_EQ(c.pools[2].balancer_factory->plugin().name, "random_two");
}

TEST(BalancingConfig, MisusesAreReportedAtTheirValues) {
    const std::string text = std::string(kListener) + R"(
[[pool]]
name = "pg"
max_utilization = 0.5
region_order = ["eu-west", "", "eu-west"]
  [pool.discovery]
  targets = ["10.0.0.4:5432"]

[[pool]]
name = "util"
balancing_mode = "utilization"
  [pool.discovery]
  targets = ["10.0.0.4:5432"]

[[pool]]
name = "probe"
  [pool.discovery]
  targets = ["10.0.0.4:5432"]
  [pool.probe]
  plugin = "http"
  path = "health"
  expect_status = "2xx"
  send = "x"
)";
    LoadResult r = loadText(text);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(
        errorLines(r),
        (Lines{
            "t.toml:9:19: 'max_utilization' only applies with balancing_mode = \"utilization\"",
            "t.toml:10:28: 'region_order' entries must not be empty",
            "t.toml:10:32: 'region_order' lists \"eu-west\" twice",
            "t.toml:16:18: balancing_mode = \"utilization\" needs a [pool.probe] whose plugin "
            "reports utilization (e.g. \"http\" or \"agent\")",
            "t.toml:26:10: 'path' must start with '/' and contain no spaces or control characters, "
            "got \"health\"",
            "t.toml:27:19: 'expect_status' is not a list of status codes: \"2xx\" (write codes and "
            "ranges of codes from 100 to 599, e.g. \"200-399\" or \"200,204,301-302\")",
            "t.toml:28:3: unknown key 'send' in [pool.probe] (not used by probe plugin 'http')",
        }));
}

TEST(BalancingConfig, WrongTypes) {
    const std::string text = std::string(R"([gateway]
region = 5
)") + std::string(kListener) +
                             R"(
[[pool]]
name = "pg"
affinity = true
region_order = "eu-west"
  [pool.discovery]
  targets = ["10.0.0.4:5432"]
)";
    LoadResult r = loadText(text);
    EXPECT_FALSE(r.config);
    const Lines lines = errorLines(r);
    ASSERT_EQ(lines.size(), 3u) << testing::PrintToString(lines);
    EXPECT_EQ(lines[0], "t.toml:2:10: 'region' must be a string, not an integer");
    EXPECT_NE(lines[1].find("t.toml:11:12: 'affinity' must be a string"), std::string::npos)
        << lines[1];
    EXPECT_NE(lines[2].find("t.toml:12:16: 'region_order' must be an array"), std::string::npos)
        << lines[2];
}

}  // namespace
}  // namespace postern::config
