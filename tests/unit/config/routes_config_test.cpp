// [[listener.route]], the http/https listener keys and the keep-alive keys of [pool.backend]:
// what loads (normalised), and every mistake with its exact "file:line:col: message".
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using Lines = std::vector<std::string>;

const std::string kPools = R"(
[[pool]]
name = "site"
  [pool.discovery]
  targets = ["10.0.0.4:80"]
[[pool]]
name = "chat"
  [pool.discovery]
  targets = ["10.0.0.5:80"]
)";

LoadResult load(const std::string& text, const LoadOptions& options = test::testOptions()) {
    return test::loadText(text + kPools, options);
}

void expectErrors(const std::string& text, const Lines& expected,
                  const LoadOptions& options = test::testOptions()) {
    LoadResult r = load(text, options);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r), expected);
}

TEST(RoutesConfig, HttpRoutesLoadNormalisedInOrder) {
    LoadResult r = load(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
request_timeout = "10s"
  [[listener.route]]
  host = "Chat.Example.COM."
  path_prefix = "/ws"
  pool = "chat"
  [[listener.route]]
  host = "*.Example.com"
  pool = "site"
  [[listener.route]]
  pool = "site"
)");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].format());
    const ListenerConfig& l = r.config->listeners[0];
    EXPECT_EQ(l.protocol, ListenerProtocol::Http);
    EXPECT_TRUE(l.pool.empty());
    ASSERT_EQ(l.routes.size(), 3u);
    EXPECT_EQ(l.routes[0].host, "chat.example.com");
    EXPECT_EQ(l.routes[0].path_prefix, "/ws");
    EXPECT_EQ(l.routes[0].pool, "chat");
    EXPECT_EQ(l.routes[0].pool_index, 1u);
    EXPECT_EQ(l.routes[0].pos.line, 6u);
    EXPECT_EQ(l.routes[1].host, "*.example.com");
    EXPECT_EQ(l.routes[1].pool_index, 0u);
    EXPECT_TRUE(l.routes[2].catchAll());
    EXPECT_EQ(l.request_timeout, std::chrono::seconds(10));
    EXPECT_EQ(l.ws_idle_timeout, std::chrono::seconds(10));  // default: request_timeout
    EXPECT_EQ(l.ws_max_session, Millis(0));
    EXPECT_FALSE(l.peeksSni());
}

TEST(RoutesConfig, HttpDefaults) {
    LoadResult r = load(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
pool = "site"
ws_idle_timeout = "2m"
ws_max_session = "1h"
)");
    ASSERT_TRUE(r.config);
    const ListenerConfig& l = r.config->listeners[0];
    EXPECT_EQ(l.request_timeout, std::chrono::seconds(30));
    EXPECT_EQ(l.ws_idle_timeout, std::chrono::minutes(2));
    EXPECT_EQ(l.ws_max_session, std::chrono::hours(1));
    EXPECT_TRUE(l.routes.empty());
    const BackendSettings& b = r.config->pools[0].backend;
    EXPECT_EQ(b.keepalive_idle, std::chrono::seconds(60));
    EXPECT_EQ(b.keepalive_max, 256u);
}

TEST(RoutesConfig, SniRoutesOnTcpListenerPeek) {
    LoadResult r = load(R"([[listener]]
name = "passthrough"
bind = ["127.0.0.1:0"]
pool = "site"
  [[listener.route]]
  sni = "chat.example.com"
  pool = "chat"
  [[listener.route]]
  sni = "*.chat.example.com"
  pool = "chat"
)");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].format());
    const ListenerConfig& l = r.config->listeners[0];
    EXPECT_EQ(l.protocol, ListenerProtocol::Tcp);
    EXPECT_EQ(l.pool, "site");
    ASSERT_EQ(l.routes.size(), 2u);
    EXPECT_EQ(l.routes[1].sni, "*.chat.example.com");
    EXPECT_TRUE(l.peeksSni());
}

TEST(RoutesConfig, HttpListenerRoutesAreCheckedWhenTheRestIsValid) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
  [[listener.route]]
  host = "a.example.com"
  pool = "site"
  [[listener.route]]
  path_prefix = "ws"
  pool = "chat"
)",
                 {
                     "t.toml:9:17: 'path_prefix' must start with '/', not \"ws\"",
                 },
                 test::testOptions());
}

TEST(RoutesConfig, KeysOnTheWrongProtocol) {
    expectErrors(R"([[listener]]
name = "tcp"
bind = ["127.0.0.1:0"]
pool = "site"
request_timeout = "5s"
ws_idle_timeout = "5s"
ws_max_session = "1s"
  [[listener.route]]
  host = "a.example.com"
  path_prefix = "/x"
  pool = "chat"
[[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
  [[listener.route]]
  sni = "a.example.com"
  pool = "chat"
)",
                 {
                     "t.toml:5:19: 'request_timeout' applies to protocol \"http\" and \"https\" "
                     "listeners, not \"tcp\"",
                     "t.toml:6:19: 'ws_idle_timeout' applies to protocol \"http\" and \"https\" "
                     "listeners, not \"tcp\"",
                     "t.toml:7:18: 'ws_max_session' applies to protocol \"http\" and \"https\" "
                     "listeners, not \"tcp\"",
                     "t.toml:9:10: 'host' routes apply to http and https listeners, not \"tcp\" "
                     "(route them by 'sni')",
                     "t.toml:10:17: 'path_prefix' routes apply to http and https listeners, not "
                     "\"tcp\"",
                     "t.toml:17:9: 'sni' routes apply to tls and tcp listeners, not \"http\" "
                     "(route them by 'host'; an https listener still chooses its certificate by "
                     "SNI)",
                 });
}

TEST(RoutesConfig, WsMaxSessionZeroIsTheNoOpEverywhere) {
    // "0s" (no cap) was documented as accepted on any listener before HTTP listeners existed.
    LoadResult r = load(R"([[listener]]
name = "tcp"
bind = ["127.0.0.1:0"]
pool = "site"
ws_max_session = "0s"
)");
    EXPECT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors[0].format());
}

TEST(RoutesConfig, BadPatternsAndPrefixes) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
pool = "site"
  [[listener.route]]
  host = "*"
  pool = "chat"
  [[listener.route]]
  host = "a.*.example.com"
  pool = "chat"
  [[listener.route]]
  host = "a.example.com:8080"
  pool = "chat"
  [[listener.route]]
  host = ""
  pool = "chat"
  [[listener.route]]
  path_prefix = "/a b"
  pool = "chat"
  [[listener.route]]
  path_prefix = ""
  pool = "chat"
[[listener]]
name = "pass"
bind = ["127.0.0.1:0"]
pool = "site"
  [[listener.route]]
  sni = "10.0.0.1"
  pool = "chat"
  [[listener.route]]
  sni = 5
  pool = "chat"
)",
                 {
                     "t.toml:7:10: 'host' a wildcard is \"*.\" followed by a name, as "
                     "\"*.example.com\", not \"*\"",
                     "t.toml:10:10: 'host' a wildcard is \"*.\" followed by a name, as "
                     "\"*.example.com\", not \"a.*.example.com\"",
                     "t.toml:13:10: 'host' must be a host name without a port, not "
                     "\"a.example.com:8080\"",
                     "t.toml:16:10: 'host' must not be empty",
                     "t.toml:19:17: 'path_prefix' must not contain spaces, control or non-ASCII "
                     "characters (a request path carries them percent-encoded)",
                     "t.toml:22:17: 'path_prefix' must start with '/', not \"\"",
                     "t.toml:29:9: 'sni' must be a host name, not an IP address (a client sends "
                     "no SNI for an IP address)",
                     "t.toml:32:9: 'sni' must be a string, not an integer",
                 });
}

TEST(RoutesConfig, PoolsOfRoutes) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
  [[listener.route]]
  host = "a.example.com"
  pool = "chta"
  [[listener.route]]
  host = "b.example.com"
  [[listener.route]]
  host = "c.example.com"
  pool = "site"
  pol = "x"
[[listener]]
name = "nothing"
bind = ["127.0.0.1:0"]
)",
                 {
                     "t.toml:7:10: listener 'web' route refers to unknown pool 'chta'; did you "
                     "mean 'chat'?",
                     "t.toml:8:3: [[listener.route]] is missing required key 'pool'",
                     "t.toml:13:3: unknown key 'pol' in [[listener.route]]; did you mean 'pool'?",
                     "t.toml:14:1: [[listener]] needs 'pool' or at least one [[listener.route]]",
                 });
}

TEST(RoutesConfig, UnreachableRoutes) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
  [[listener.route]]
  host = "*.example.com"
  pool = "site"
  [[listener.route]]
  host = "chat.example.com"
  path_prefix = "/ws"
  pool = "chat"
  [[listener.route]]
  path_prefix = "/static"
  pool = "site"
  [[listener.route]]
  path_prefix = "/static/img"
  pool = "chat"
  [[listener.route]]
  pool = "site"
  [[listener.route]]
  host = "other.test"
  pool = "chat"
[[listener]]
name = "pass"
bind = ["127.0.0.1:0"]
pool = "site"
  [[listener.route]]
  sni = "a.example.com"
  pool = "chat"
  [[listener.route]]
  sni = "A.example.com."
  pool = "site"
  [[listener.route]]
  pool = "chat"
)",
                 {
                     "t.toml:8:3: this route is never used: the route at 5:3 matches everything "
                     "it matches, and the first match wins (put the more specific route first)",
                     "t.toml:15:3: this route is never used: the route at 12:3 matches "
                     "everything it matches, and the first match wins (put the more specific "
                     "route first)",
                     "t.toml:20:3: this route is never used: the catch-all route at 18:3 (no "
                     "'host', 'path_prefix' or 'sni') takes everything first; the first match "
                     "wins, so put the catch-all last",
                     "t.toml:30:3: this route is never used: the route at 27:3 matches "
                     "everything it matches, and the first match wins (put the more specific "
                     "route first)",
                     "t.toml:33:3: a catch-all route (no 'host', 'path_prefix' or 'sni') and the "
                     "listener's 'pool' at 26:8 both take what no other route matches: keep one "
                     "of them",
                 });
}

TEST(RoutesConfig, RouteTableShape) {
    expectErrors(R"([[listener]]
name = "a"
bind = ["127.0.0.1:0"]
route = []
[[listener]]
name = "b"
bind = ["127.0.0.1:0"]
route = "x"
)",
                 {
                     "t.toml:4:9: 'route' must list at least one route (leave it out to send "
                     "everything to 'pool')",
                     "t.toml:8:9: 'route' must be an array of tables ([[route]]), not a string",
                 });
}

TEST(RoutesConfig, HttpTimeoutValues) {
    expectErrors(R"([[listener]]
name = "web"
bind = ["127.0.0.1:0"]
protocol = "http"
pool = "site"
request_timeout = "0s"
ws_idle_timeout = 0
ws_max_session = "-1s"
)",
                 {
                     "t.toml:6:19: 'request_timeout' must be greater than 0",
                     "t.toml:7:19: 'ws_idle_timeout' must be greater than 0",
                     "t.toml:8:18: 'ws_max_session': invalid duration \"-1s\": expected a number "
                     "followed by a unit (ms, s, m, h)",
                 });
}

TEST(RoutesConfig, KeepaliveKeys) {
    LoadResult ok = test::loadText(R"([[listener]]
name = "a"
bind = ["127.0.0.1:0"]
pool = "p"
[[pool]]
name = "p"
  [pool.backend]
  keepalive_idle = "5s"
  keepalive_max = 0
  [pool.discovery]
  targets = ["10.0.0.4:80"]
)");
    ASSERT_TRUE(ok.config);
    EXPECT_EQ(ok.config->pools[0].backend.keepalive_idle, std::chrono::seconds(5));
    EXPECT_EQ(ok.config->pools[0].backend.keepalive_max, 0u);
    LoadResult bad = test::loadText(R"([[listener]]
name = "a"
bind = ["127.0.0.1:0"]
pool = "p"
[[pool]]
name = "p"
  [pool.backend]
  keepalive_idle = "0s"
  keepalive_max = -1
  [pool.discovery]
  targets = ["10.0.0.4:80"]
)");
    EXPECT_EQ(errorLines(bad), (Lines{
                                   "t.toml:8:20: 'keepalive_idle' must be greater than 0",
                                   "t.toml:9:19: 'keepalive_max' must be from 0 to 1000000, got -1",
                               }));
}

}  // namespace
}  // namespace postern::config
