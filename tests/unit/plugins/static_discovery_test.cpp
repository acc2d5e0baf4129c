// The built-in `static` discovery plugin: address parsing compiled in directly, and the whole
// plugin loaded from its shared library and driven through the C ABI with a fake config.
#include "discovery_static/static_targets.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugin/registry.h"
#include "support/plugins/fake_config.h"

using postern::plugins::static_discovery::parseAddress;
using postern::testing::FakeConfig;
using postern::testing::FakeSink;
using postern::testing::Value;

namespace {

struct Parsed {
    bool ok;
    std::string host;
    int port;
    std::string error;
};

Parsed parse(std::string_view text) {
    std::string error;
    auto t = parseAddress(text, error);
    if (!t) return {false, "", -1, error};
    return {true, t->host, t->port, ""};
}

struct Run {
    std::vector<std::string> errors;   // "position: message", unknown keys included
    std::vector<FakeSink::Target> targets;
    bool created = false;
};

// Creates the plugin from `table`, lets the fake host report unknown keys, and runs one round.
Run run(Value table) {
    Run r;
    postern::plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* p = registry.find(POSTERN_KIND_DISCOVERY, "static");
    EXPECT_NE(p, nullptr);
    if (!p) return r;
    FakeConfig config(std::move(table));
    void* raw = p->descriptor->discovery->create(config.raw(), registry.host(*p));
    config.reportUnknownKeys();
    r.errors = config.lines();
    r.created = raw != nullptr;
    if (!raw) return r;
    postern::plugin::Discovery discovery(p, raw);
    FakeSink sink;
    discovery.discover(sink.sink, 1000);
    EXPECT_TRUE(sink.failures.empty());
    EXPECT_EQ(discovery.nextRefreshMs(), 0);
    r.targets = sink.targets;
    return r;
}

Value targets(std::vector<Value> elements) { return Value::table({{"targets", Value::array(std::move(elements))}}); }

}  // namespace

TEST(StaticDiscoveryAddress, AcceptsEveryForm) {
    auto a = parse("10.0.0.4");
    EXPECT_TRUE(a.ok);
    EXPECT_EQ(a.host, "10.0.0.4");
    EXPECT_EQ(a.port, 0);
    auto b = parse("db.corp.example:5432");
    EXPECT_EQ(b.host, "db.corp.example");
    EXPECT_EQ(b.port, 5432);
    auto c = parse("[2001:db8::1]:443");
    EXPECT_EQ(c.host, "2001:db8::1");
    EXPECT_EQ(c.port, 443);
    auto d = parse("2001:db8::2");
    EXPECT_EQ(d.host, "2001:db8::2");
    EXPECT_EQ(d.port, 0);
    auto e = parse("[::1]");
    EXPECT_EQ(e.host, "::1");
    EXPECT_EQ(e.port, 0);
    EXPECT_EQ(parse("h:65535").port, 65535);
    EXPECT_EQ(parse("h:1").port, 1);
}

TEST(StaticDiscoveryAddress, RejectsWithReasons) {
    EXPECT_EQ(parse("").error, "invalid address \"\": empty");
    EXPECT_EQ(parse("h:0").error, "invalid address \"h:0\": port must be from 1 to 65535");
    EXPECT_EQ(parse("h:65536").error, "invalid address \"h:65536\": port must be from 1 to 65535");
    EXPECT_EQ(parse("h:").error, "invalid address \"h:\": port must be a number from 1 to 65535");
    EXPECT_EQ(parse("h:http").error, "invalid address \"h:http\": port must be a number from 1 to 65535");
    EXPECT_EQ(parse("h:-1").error, "invalid address \"h:-1\": port must be a number from 1 to 65535");
    EXPECT_EQ(parse(":80").error, "invalid address \":80\": not a valid host name or IP address");
    EXPECT_EQ(parse("a b").error, "invalid address \"a b\": not a valid host name or IP address");
    EXPECT_EQ(parse("[::1").error, "invalid address \"[::1\": missing ']'");
    EXPECT_EQ(parse("[db]:80").error, "invalid address \"[db]:80\": not an IPv6 address between brackets");
    EXPECT_EQ(parse("[::1]80").error, "invalid address \"[::1]80\": expected ':' after ']'");
    EXPECT_FALSE(parse("db:x:80").ok);
    EXPECT_FALSE(parse("*.example.com").ok);
}

TEST(StaticDiscovery, ReportsEveryTargetEachRound) {
    auto r = run(targets({Value::string("10.0.0.4"), Value::string("10.0.0.5:5433"),
                          Value::string("[2001:db8::7]:80"),
                          Value::table({{"address", Value::string("db.corp.example:5432")},
                                        {"weight", Value::integer(2)},
                                        {"max_connections", Value::integer(500)},
                                        {"region", Value::string("eu-north")},
                                        {"priority", Value::integer(3)}})}));
    ASSERT_TRUE(r.created) << (r.errors.empty() ? "" : r.errors.front());
    EXPECT_TRUE(r.errors.empty());
    ASSERT_EQ(r.targets.size(), 4u);
    EXPECT_EQ(r.targets[0].host, "10.0.0.4");
    EXPECT_EQ(r.targets[0].port, 0);
    EXPECT_EQ(r.targets[0].weight, 1u);
    EXPECT_EQ(r.targets[1].port, 5433);
    EXPECT_EQ(r.targets[2].host, "2001:db8::7");
    EXPECT_EQ(r.targets[3].host, "db.corp.example");
    EXPECT_EQ(r.targets[3].port, 5432);
    EXPECT_EQ(r.targets[3].weight, 2u);
    EXPECT_EQ(r.targets[3].max_connections, 500u);
    EXPECT_EQ(r.targets[3].region, "eu-north");
    EXPECT_EQ(r.targets[3].priority, 3u);
    EXPECT_EQ(r.targets[0].priority, 0u);
}

TEST(StaticDiscovery, TableWithOnlyAnAddressTakesDefaults) {
    auto r = run(targets({Value::table({{"address", Value::string("h")}})}));
    ASSERT_TRUE(r.created);
    ASSERT_EQ(r.targets.size(), 1u);
    EXPECT_EQ(r.targets[0].weight, 1u);
    EXPECT_EQ(r.targets[0].max_connections, 0u);
    EXPECT_EQ(r.targets[0].region, "");
}

TEST(StaticDiscovery, TargetsAreRequired) {
    auto r = run(Value::table({}));
    EXPECT_FALSE(r.created);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].rfind("<root>: needs 'targets'", 0), 0u) << r.errors[0];
}

TEST(StaticDiscovery, TargetsMustBeANonEmptyArray) {
    auto empty = run(targets({}));
    EXPECT_FALSE(empty.created);
    EXPECT_EQ(empty.errors, (std::vector<std::string>{"targets: targets must not be empty"}));
    auto scalar = run(Value::table({{"targets", Value::string("10.0.0.1")}}));
    EXPECT_FALSE(scalar.created);
    EXPECT_EQ(scalar.errors,
              (std::vector<std::string>{"targets: targets must be an array of addresses, not a string"}));
}

TEST(StaticDiscovery, EachBadElementIsReportedAtItsOwnPosition) {
    auto r = run(targets({
        Value::string("ok.example:80"),
        Value::string("bad:0"),
        Value::integer(7),
        Value::table({{"address", Value::string("w:1")}, {"weight", Value::integer(0)}}),
        Value::table({{"address", Value::string("w:2")}, {"weight", Value::integer(1000001)}}),
        Value::table({{"address", Value::string("w:3")}, {"weight", Value::string("2")}}),
        Value::table({{"address", Value::string("m:1")}, {"max_connections", Value::integer(-1)}}),
        Value::table({{"address", Value::integer(5)}}),
        Value::table({{"weight", Value::integer(3)}}),
        Value::table({{"address", Value::string("r:1")}, {"region", Value::boolean(true)}}),
        Value::table({{"address", Value::string("u:1")}, {"wieght", Value::integer(3)}}),
        Value::string("OK.example:80"),
        Value::table({{"address", Value::string("p:1")}, {"priority", Value::integer(-1)}}),
        Value::table({{"address", Value::string("p:2")}, {"priority", Value::integer(65536)}}),
        Value::table({{"address", Value::string("p:3")}, {"priority", Value::string("1")}}),
    }));
    EXPECT_FALSE(r.created);
    EXPECT_EQ(r.errors,
              (std::vector<std::string>{
                  "targets[1]: invalid address \"bad:0\": port must be from 1 to 65535",
                  "targets[2]: a target must be an address string (\"host:port\") or a table { address = "
                  "\"host:port\", weight = N, max_connections = N, region = \"...\", priority = N }, not an "
                  "integer",
                  "targets[3].weight: weight must be from 1 to 1000000, got 0",
                  "targets[4].weight: weight must be from 1 to 1000000, got 1000001",
                  "targets[5].weight: weight must be an integer, not a string",
                  "targets[6].max_connections: max_connections must be 0 (unlimited) to 4294967295, got -1",
                  "targets[7].address: address must be a string (\"host:port\"), not an integer",
                  "targets[8]: a target table needs 'address' (\"host:port\")",
                  "targets[9].region: region must be a string, not a boolean",
                  "targets[11]: duplicate target OK.example:80 (already element 1 of targets)",
                  "targets[12].priority: priority must be from 0 (best) to 65535, got -1",
                  "targets[13].priority: priority must be from 0 (best) to 65535, got 65536",
                  "targets[14].priority: priority must be an integer, not a string",
                  // reported by the host, because the plugin never looked the key up:
                  "targets[10].wieght: unknown key 'wieght'",
              }));
}

TEST(StaticDiscovery, WeightBoundsAreInclusive) {
    auto r = run(targets({Value::table({{"address", Value::string("a")}, {"weight", Value::integer(1)}}),
                          Value::table({{"address", Value::string("b")}, {"weight", Value::integer(1000000)}}),
                          Value::table({{"address", Value::string("c")}, {"max_connections", Value::integer(0)}})}));
    ASSERT_TRUE(r.created) << (r.errors.empty() ? "" : r.errors.front());
    ASSERT_EQ(r.targets.size(), 3u);
    EXPECT_EQ(r.targets[1].weight, 1000000u);
}
