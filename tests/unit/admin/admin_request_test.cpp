// The admin endpoint's routing and token rules (admin/admin_request.h).
#include "admin/admin_request.h"

#include <gtest/gtest.h>

namespace postern::admin {
namespace {

using Kind = Route::Kind;

TEST(AdminRoute, Reads) {
    for (const char* method : {"GET", "HEAD"}) {
        EXPECT_EQ(route(method, "/metrics", true).kind, Kind::Metrics);
        EXPECT_EQ(route(method, "/status", true).kind, Kind::Status);
        EXPECT_EQ(route(method, "/", true).kind, Kind::Dashboard);
    }
    // Without a dashboard in the build, / is unknown.
    EXPECT_EQ(route("GET", "/", false).kind, Kind::NotFound);
}

TEST(AdminRoute, WrongMethodNamesTheAllowedOnes) {
    Route r = route("POST", "/metrics", true);
    EXPECT_EQ(r.kind, Kind::MethodNotAllowed);
    EXPECT_EQ(r.allow, "GET, HEAD");
    r = route("GET", "/reload", true);
    EXPECT_EQ(r.kind, Kind::MethodNotAllowed);
    EXPECT_EQ(r.allow, "POST");
    r = route("DELETE", "/pools/web/backends/127.0.0.1:80/drain", true);
    EXPECT_EQ(r.kind, Kind::MethodNotAllowed);
    EXPECT_EQ(r.allow, "POST");
    EXPECT_TRUE(r.pool.empty());
}

TEST(AdminRoute, BackendActions) {
    Route r = route("POST", "/pools/web/backends/127.0.0.1:9001/drain", true);
    EXPECT_EQ(r.kind, Kind::Drain);
    EXPECT_EQ(r.pool, "web");
    EXPECT_EQ(r.backend, "127.0.0.1:9001");
    EXPECT_TRUE(r.isAction());

    r = route("POST", "/pools/web/backends/127.0.0.1%3A9001/enable", true);
    EXPECT_EQ(r.kind, Kind::Enable);
    EXPECT_EQ(r.backend, "127.0.0.1:9001");

    r = route("POST", "/pools/a.b-c_d/backends/%5B%3A%3A1%5D%3a9001/drain", true);
    EXPECT_EQ(r.kind, Kind::Drain);
    EXPECT_EQ(r.pool, "a.b-c_d");
    EXPECT_EQ(r.backend, "[::1]:9001");

    r = route("POST", "/pools/web/backends/[::1]:9001/drain", true);
    EXPECT_EQ(r.backend, "[::1]:9001");

    EXPECT_EQ(route("POST", "/reload", true).kind, Kind::Reload);
}

TEST(AdminRoute, UnknownPaths) {
    for (const char* path :
         {"/metrics/", "/status.json", "/pools", "/pools/web", "/pools/web/backends/1.2.3.4:5",
          "/pools/web/backends/1.2.3.4:5/stop", "/pools/web/servers/1.2.3.4:5/drain",
          "/pools/web/backends/1.2.3.4:5/drain/x", "/reload/", "//metrics", "/METRICS"}) {
        EXPECT_EQ(route("POST", path, true).kind, Kind::NotFound) << path;
        EXPECT_EQ(route("GET", path, true).kind, Kind::NotFound) << path;
    }
}

TEST(AdminRoute, MalformedSegmentsAreBadRequests) {
    for (const char* path :
         {"/pools/web/backends/1.2.3.4%3/drain", "/pools/web/backends/1.2.3.4%zz80/drain",
          "/pools/web/backends/1.2.3.4%/drain", "/pools/we%2Fb/backends/x/drain",
          "/pools/web/backends/%00/drain", "/pools//backends/x/drain",
          "/pools/web/backends//drain"}) {
        Route r = route("POST", path, true);
        EXPECT_EQ(r.kind, Kind::BadRequest) << path;
        EXPECT_FALSE(r.why.empty());
        EXPECT_FALSE(r.isAction());
    }
}

TEST(AdminPercentDecode, Segments) {
    EXPECT_EQ(percentDecodeSegment("a%20b"), "a b");
    EXPECT_EQ(percentDecodeSegment("%41%4a%4A"), "AJJ");
    EXPECT_EQ(percentDecodeSegment(""), "");
    EXPECT_FALSE(percentDecodeSegment("%"));
    EXPECT_FALSE(percentDecodeSegment("%4"));
    EXPECT_FALSE(percentDecodeSegment("%G0"));
    EXPECT_FALSE(percentDecodeSegment("%2f"));
    EXPECT_FALSE(percentDecodeSegment("%0a"));
    EXPECT_FALSE(percentDecodeSegment("%7F"));
}

TEST(AdminAccess, NoTokenAllowsEverything) {
    Access a;
    EXPECT_FALSE(a.hasToken());
    EXPECT_EQ(a.check(route("POST", "/reload", true), std::nullopt), Access::Verdict::Allowed);
    EXPECT_EQ(a.check(route("GET", "/metrics", true), "Bearer x"), Access::Verdict::Allowed);
}

TEST(AdminAccess, TokenProtectsActions) {
    Access a("s3cret", false);
    const Route reload = route("POST", "/reload", true);
    const Route drain = route("POST", "/pools/p/backends/1.2.3.4:5/drain", true);
    for (const Route& r : {reload, drain}) {
        EXPECT_EQ(a.check(r, std::nullopt), Access::Verdict::Missing);
        EXPECT_EQ(a.check(r, "Basic czNjcmV0"), Access::Verdict::Missing);
        EXPECT_EQ(a.check(r, "Bearer"), Access::Verdict::Missing);
        EXPECT_EQ(a.check(r, "Bearers3cret"), Access::Verdict::Missing);
        EXPECT_EQ(a.check(r, "Bearer s3cre"), Access::Verdict::Wrong);
        EXPECT_EQ(a.check(r, "Bearer s3cret2"), Access::Verdict::Wrong);
        EXPECT_EQ(a.check(r, "Bearer S3CRET"), Access::Verdict::Wrong);
        EXPECT_EQ(a.check(r, "Bearer s3cret"), Access::Verdict::Allowed);
        EXPECT_EQ(a.check(r, "bearer  s3cret"), Access::Verdict::Allowed);
        EXPECT_EQ(a.check(r, "BEARER s3cret"), Access::Verdict::Allowed);
    }
    // Reads stay open without protect_reads; unknown paths reveal nothing either way.
    EXPECT_EQ(a.check(route("GET", "/metrics", true), std::nullopt), Access::Verdict::Allowed);
    EXPECT_EQ(a.check(route("GET", "/status", true), "Bearer wrong"), Access::Verdict::Allowed);
    EXPECT_EQ(a.check(route("GET", "/nope", true), std::nullopt), Access::Verdict::Allowed);
}

TEST(AdminAccess, ProtectReads) {
    Access a("s3cret", true);
    for (const char* path : {"/metrics", "/status"}) {
        const Route r = route("GET", path, true);
        EXPECT_EQ(a.check(r, std::nullopt), Access::Verdict::Missing) << path;
        EXPECT_EQ(a.check(r, "Bearer nope"), Access::Verdict::Wrong) << path;
        EXPECT_EQ(a.check(r, "Bearer s3cret"), Access::Verdict::Allowed) << path;
    }
    // The dashboard page holds no data: a browser loads it, then it asks for the token.
    EXPECT_EQ(a.check(route("GET", "/", true), std::nullopt), Access::Verdict::Allowed);
    EXPECT_EQ(a.check(route("POST", "/reload", true), std::nullopt), Access::Verdict::Missing);
}

TEST(AdminResponse, Shape) {
    EXPECT_EQ(response(200, "application/json", "{}", false),
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
              "Cache-Control: no-store\r\n\r\n{}");
    EXPECT_EQ(response(401, "application/json", "{}", true, true,
                       "WWW-Authenticate: Bearer realm=\"postern admin\"\r\n"),
              "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: "
              "2\r\nCache-Control: no-store\r\nWWW-Authenticate: Bearer realm=\"postern "
              "admin\"\r\nConnection: close\r\n\r\n");
}

TEST(AdminResponse, Json) {
    EXPECT_EQ(jsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
    EXPECT_EQ(errorJson("no"), "{\"error\":\"no\"}");
    server::ControlReply applied;
    applied.status = server::ControlReply::Status::Applied;
    applied.generation = 3;
    applied.warnings.push_back("[gateway] workers changed: it needs a restart");
    ReloadAnswer a = reloadAnswer(applied);
    EXPECT_EQ(a.status, 200);
    EXPECT_EQ(a.json,
              "{\"result\":\"applied\",\"generation\":3,\"warnings\":[\"[gateway] workers "
              "changed: it needs a restart\"],\"errors\":[]}");
    server::ControlReply rejected;
    rejected.status = server::ControlReply::Status::Rejected;
    rejected.generation = 2;
    rejected.errors = {"/etc/p.toml:3:9: bad", "/etc/p.toml:4:1: worse"};
    a = reloadAnswer(rejected);
    EXPECT_EQ(a.status, 422);
    EXPECT_EQ(a.json,
              "{\"result\":\"rejected\",\"generation\":2,\"warnings\":[],\"errors\":[\"/etc/"
              "p.toml:3:9: bad\",\"/etc/p.toml:4:1: worse\"]}");
    server::ControlReply failed;
    failed.errors = {"stopping"};
    EXPECT_EQ(reloadAnswer(failed).status, 503);
}

}  // namespace
}  // namespace postern::admin
