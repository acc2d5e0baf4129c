// The route a connection (SNI) or a request (host, path) gets: first match wins, wildcards,
// catch-all, no match.
#include "proxy/router.h"

#include <gtest/gtest.h>

#include "proxy/worker_context.h"

namespace postern::proxy {
namespace {

config::RouteConfig route(std::string host, std::string path, std::string sni) {
    config::RouteConfig r;
    r.host = std::move(host);
    r.path_prefix = std::move(path);
    r.sni = std::move(sni);
    r.pool = "p";
    return r;
}

TEST(Router, SniFirstMatchWinsExactOrWildcard) {
    // A wildcard listed before an exact name takes it: the file's order decides.
    const Router router({route("", "", "*.example.com"), route("", "", "api.example.com"),
                         route("", "", "api.example.org"), route("", "", "*.example.org")});
    EXPECT_TRUE(router.usesSni());
    EXPECT_EQ(router.matchSni("api.example.com"), 0u);
    EXPECT_EQ(router.matchSni("a.b.example.com"), 0u);
    EXPECT_EQ(router.matchSni("api.example.org"), 2u);
    EXPECT_EQ(router.matchSni("www.example.org"), 3u);
    EXPECT_EQ(router.matchSni("API.EXAMPLE.ORG."), 2u);  // case and trailing dot ignored
    EXPECT_EQ(router.matchSni("example.org"), Router::kNoRoute);
    EXPECT_EQ(router.matchSni(""), Router::kNoRoute);  // no SNI: only a catch-all matches
    EXPECT_EQ(router.matchSni(std::string(300, 'a') + ".example.com"), Router::kNoRoute);
}

TEST(Router, SniCatchAllTakesTheRest) {
    const Router router({route("", "", "mqtt.example.com"), route("", "", "")});
    EXPECT_EQ(router.matchSni("mqtt.example.com"), 0u);
    EXPECT_EQ(router.matchSni("other.example.com"), 1u);
    EXPECT_EQ(router.matchSni(""), 1u);
}

TEST(Router, HttpHostAndPathPrefix) {
    const Router router({route("chat.example.com", "/ws", ""), route("chat.example.com", "", ""),
                         route("*.example.com", "/api/", ""), route("", "/static/", "")});
    EXPECT_FALSE(router.usesSni());
    EXPECT_EQ(router.matchHttp("chat.example.com", "/ws"), 0u);
    EXPECT_EQ(router.matchHttp("chat.example.com", "/ws/room?x=1"), 0u);
    EXPECT_EQ(router.matchHttp("chat.example.com", "/wsx"), 0u);      // a plain prefix
    EXPECT_EQ(router.matchHttp("Chat.Example.Com:8080", "/ws"), 0u);  // port, case ignored
    EXPECT_EQ(router.matchHttp("chat.example.com.", "/"), 1u);
    EXPECT_EQ(router.matchHttp("chat.example.com", "/WS"), 1u);  // paths are case-sensitive
    EXPECT_EQ(router.matchHttp("a.example.com", "/api/v1"), 2u);
    EXPECT_EQ(router.matchHttp("a.example.com", "/api"), Router::kNoRoute);
    EXPECT_EQ(router.matchHttp("example.com", "/api/v1"), Router::kNoRoute);
    EXPECT_EQ(router.matchHttp("anything", "/static/x.css"), 3u);
    EXPECT_EQ(router.matchHttp("", "/static/x.css"), 3u);  // no Host: only host-less routes
    EXPECT_EQ(router.matchHttp("", "/"), Router::kNoRoute);
    EXPECT_EQ(router.matchHttp("[::1]:8080", "/static/"), 3u);
}

TEST(Router, HttpCatchAll) {
    const Router router({route("a.example.com", "", ""), route("", "", "")});
    EXPECT_EQ(router.matchHttp("a.example.com", "/"), 0u);
    EXPECT_EQ(router.matchHttp("b.example.com", "/"), 1u);
}

TEST(Router, NoRoutes) {
    const Router router;
    EXPECT_TRUE(router.empty());
    EXPECT_EQ(router.matchSni("a.example.com"), Router::kNoRoute);
    EXPECT_EQ(router.matchHttp("a.example.com", "/"), Router::kNoRoute);
}

TEST(Router, StripPort) {
    EXPECT_EQ(Router::stripPort("a.example.com:8080"), "a.example.com");
    EXPECT_EQ(Router::stripPort("a.example.com"), "a.example.com");
    EXPECT_EQ(Router::stripPort("[::1]:80"), "::1");
    EXPECT_EQ(Router::stripPort("[::1]"), "::1");
    EXPECT_EQ(Router::stripPort("[::1"), "[::1");
    EXPECT_EQ(Router::stripPort(""), "");
}

}  // namespace
}  // namespace postern::proxy

// ListenerContext: the route's pool, else the listener's, else none.

namespace postern::proxy {
namespace {

struct Pools {
    config::PoolConfig a_config, b_config, own_config;
    std::shared_ptr<upstream::Pool> a, b, own;
    Pools() {
        a_config.name = "a";
        b_config.name = "b";
        own_config.name = "own";
        a = std::make_shared<upstream::Pool>(a_config, nullptr);
        b = std::make_shared<upstream::Pool>(b_config, nullptr);
        own = std::make_shared<upstream::Pool>(own_config, nullptr);
    }
};

TEST(ListenerContextRoutes, RoutePoolThenListenerPoolThenNone) {
    Pools pools;
    ListenerContext ctx;
    ctx.router = Router({route("", "", "a.example.com"), route("", "", "*.b.example.com")});
    ctx.route_pools = {pools.a, pools.b};
    EXPECT_EQ(ctx.poolForSni("a.example.com"), pools.a.get());
    EXPECT_EQ(ctx.poolForSni("x.b.example.com"), pools.b.get());
    EXPECT_EQ(ctx.poolForSni("c.example.com"), nullptr);  // no route, no listener pool
    EXPECT_EQ(ctx.poolForSni(""), nullptr);
    ctx.pool = pools.own;
    EXPECT_EQ(ctx.poolForSni("c.example.com"), pools.own.get());
    EXPECT_EQ(ctx.poolForSni(""), pools.own.get());
}

TEST(ListenerContextRoutes, RequestsByHostAndPath) {
    Pools pools;
    ListenerContext ctx;
    ctx.router = Router({route("chat.example.com", "/ws/", ""), route("", "", "")});
    ctx.route_pools = {pools.a, pools.b};
    EXPECT_EQ(ctx.poolForRequest("chat.example.com", "/ws/room"), pools.a.get());
    EXPECT_EQ(ctx.poolForRequest("chat.example.com", "/"), pools.b.get());  // the catch-all
    ListenerContext no_catch_all;
    no_catch_all.router = Router({route("chat.example.com", "", "")});
    no_catch_all.route_pools = {pools.a};
    EXPECT_EQ(no_catch_all.poolForRequest("other.example.com", "/"), nullptr);  // 404
}

}  // namespace
}  // namespace postern::proxy
