// The access-control keys of a listener (SPEC §2): allow / deny CIDR lists and the per-client
// limits, with their defaults and every bad value reported at its own position.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "net/socket_address.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::ip;
using test::kMinimalPool;
using test::loadText;
using test::withListenerKeys;


TEST(AccessControlConfig, DefaultsAreOpen) {
    LoadResult r = loadText(withListenerKeys(""));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const auto& l = r.config->listeners[0];
    EXPECT_TRUE(l.allow.empty());
    EXPECT_TRUE(l.deny.empty());
    EXPECT_EQ(l.max_connections_per_client, 0u);
    EXPECT_EQ(l.new_connections_per_client, 0u);
}

TEST(AccessControlConfig, EveryKeyRead) {
    LoadResult r = loadText(withListenerKeys(R"(allow = ["10.0.0.0/8", "2001:db8::/32"]
deny = ["10.1.2.3", "::ffff:10.9.0.0/120"]
max_connections_per_client = 20
new_connections_per_client = 5)"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const auto& l = r.config->listeners[0];
    ASSERT_EQ(l.allow.size(), 2u);
    EXPECT_EQ(l.allow.ranges()[0].toString(), "10.0.0.0/8");
    EXPECT_EQ(l.allow.ranges()[1].toString(), "2001:db8::/32");
    ASSERT_EQ(l.deny.size(), 2u);
    EXPECT_EQ(l.deny.ranges()[0].toString(), "10.1.2.3/32");
    EXPECT_TRUE(l.allow.contains(ip("10.1.2.3")));
    EXPECT_TRUE(l.deny.contains(ip("10.1.2.3")));
    // IPv4-mapped IPv6 is the IPv4 address, both ways.
    EXPECT_TRUE(l.deny.contains(ip("::ffff:10.1.2.3")));
    EXPECT_TRUE(l.deny.contains(ip("10.9.0.77")));
    EXPECT_FALSE(l.deny.contains(ip("10.9.1.77")));
    EXPECT_EQ(l.max_connections_per_client, 20u);
    EXPECT_EQ(l.new_connections_per_client, 5u);
}

TEST(AccessControlConfig, LimitsAtTheirBounds) {
    LoadResult r = loadText(withListenerKeys(
        "max_connections_per_client = 1048575\nnew_connections_per_client = 1000000"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->listeners[0].max_connections_per_client, kMaxConnectionsPerClient);
    EXPECT_EQ(r.config->listeners[0].new_connections_per_client, kMaxNewConnectionsPerClient);
}

TEST(AccessControlConfig, BadValuesReportedAtEachPosition) {
    LoadResult r = loadText(withListenerKeys(R"(allow = ["10.0.0.0/8", "10.0.0.1/8", "host"]
deny = ["::1/129", 7]
max_connections_per_client = -1
new_connections_per_client = 1000001)"));
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              (std::vector<std::string>{
                  "t.toml:5:24: invalid 'allow' entry \"10.0.0.1/8\": \"10.0.0.1/8\" has bits set "
                  "after the prefix; did you mean \"10.0.0.0/8\"?",
                  "t.toml:5:38: invalid 'allow' entry \"host\": \"host\" is not an IP address",
                  "t.toml:6:20: each element of 'deny' must be a string, not an integer",
                  "t.toml:7:30: 'max_connections_per_client' must be from 0 to 1048575, got -1",
                  "t.toml:8:30: 'new_connections_per_client' must be from 0 to 1000000, got "
                  "1000001",
              }));
}

TEST(AccessControlConfig, WrongTypes) {
    LoadResult r = loadText(withListenerKeys(R"(allow = "10.0.0.0/8"
deny = ["::1/129"]
max_connections_per_client = "2"
new_connections_per_client = 2.5)"));
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              (std::vector<std::string>{
                  "t.toml:5:9: 'allow' must be an array of strings, not a string",
                  "t.toml:6:9: invalid 'deny' entry \"::1/129\": prefix length 129 is larger than "
                  "128",
                  "t.toml:7:30: 'max_connections_per_client' must be an integer, not a string",
                  "t.toml:8:30: 'new_connections_per_client' must be an integer, not a float",
              }));
}

}  // namespace
}  // namespace postern::config
