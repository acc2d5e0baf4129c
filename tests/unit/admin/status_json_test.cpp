// admin::writeStatusJson: the /status document parsed back (Poco::JSON) has exactly the schema
// of docs/operations.md "Status" — names, types, nulls — with strings escaped so that any byte
// in a name or an error message still gives valid JSON. The Windows cross-build's Poco has no
// JSON library: the parsing tests are Linux-only there (the integration tests parse /status with
// python3 as well).
#include "admin/status_json.h"

#include <gtest/gtest.h>

#if __has_include(<Poco/JSON/Parser.h>)
#define POSTERN_HAVE_POCO_JSON 1
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#endif

#include <set>
#include <string>

#include "snapshot_fixture.h"

namespace postern::admin {
namespace {

TEST(StatusJson, StateNames) {
    BackendSnapshot b;
    EXPECT_STREQ(b.state(), "down");
    b.up = true;
    EXPECT_STREQ(b.state(), "up");
    b.unknown = true;
    b.up = false;
    EXPECT_STREQ(b.state(), "unknown");
    b.draining = true;
    EXPECT_STREQ(b.state(), "draining");
}

TEST(StatusJson, UtcText) {
    using namespace std::chrono_literals;
    EXPECT_EQ(utcText(WallClock::time_point(0ms)), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(utcText(WallClock::time_point(951'782'400'123ms)), "2000-02-29T00:00:00.123Z");
}

TEST(StatusJson, EscapesControlCharactersAndInvalidUtf8) {
    std::string out;
    appendJsonString(out, std::string("a\"b\\c\n\x01\x7f\xC3\xA9\xFF", 11));
    EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u007f\xC3\xA9\\ufffd\"");
}

#ifdef POSTERN_HAVE_POCO_JSON
using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr parse(const std::string& text) {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Object::Ptr>();
}

std::set<std::string> keysOf(const Object::Ptr& o) {
    std::set<std::string> out;
    for (const auto& [k, v] : *o) out.insert(k);
    return out;
}

TEST(StatusJson, HasTheSchema) {
    const std::string text = writeStatusJson(testing::sampleSnapshot());
    Object::Ptr doc;
    ASSERT_NO_THROW(doc = parse(text)) << text;
    EXPECT_EQ(keysOf(doc),
              (std::set<std::string>{"version", "now", "started", "generation", "loaded",
                                     "connections_active", "reloads", "listeners", "pools"}));
    EXPECT_EQ(doc->getValue<std::string>("version"), "0.1.0");
    EXPECT_EQ(doc->getValue<std::string>("started"), "2025-12-06T05:46:40.000Z");
    EXPECT_EQ(doc->getValue<std::string>("loaded"), "2025-12-06T05:47:40.000Z");
    EXPECT_EQ(doc->getValue<std::string>("now"), "2025-12-06T05:47:41.500Z");
    EXPECT_EQ(doc->getValue<int>("generation"), 2);
    EXPECT_EQ(doc->getValue<int>("connections_active"), 4);

    Array::Ptr reloads = doc->getArray("reloads");
    ASSERT_EQ(reloads->size(), 2u);
    Object::Ptr newest = reloads->getObject(0);
    EXPECT_EQ(keysOf(newest), (std::set<std::string>{"time", "result", "generation", "errors"}));
    EXPECT_EQ(newest->getValue<std::string>("result"), "applied");
    EXPECT_EQ(newest->getArray("errors")->size(), 0u);
    Object::Ptr rejected = reloads->getObject(1);
    EXPECT_EQ(rejected->getValue<std::string>("result"), "rejected");
    EXPECT_EQ(rejected->getValue<int>("generation"), 1);
    ASSERT_EQ(rejected->getArray("errors")->size(), 2u);
    EXPECT_EQ(rejected->getArray("errors")->getElement<std::string>(0),
              "/etc/postern/postern.toml:3:9: unknown key \"bnd\"");
    EXPECT_EQ(rejected->getArray("errors")->getElement<std::string>(1), "f:1:2: tab\there");

    Array::Ptr listeners = doc->getArray("listeners");
    ASSERT_EQ(listeners->size(), 2u);
    Object::Ptr pg = listeners->getObject(0);
    EXPECT_EQ(keysOf(pg),
              (std::set<std::string>{"name", "protocol", "bind", "pool", "connections_active",
                                     "connections_total", "bytes_in", "bytes_out", "refused_total",
                                     "tls_handshake_failures", "requests_total"}));
    EXPECT_EQ(pg->getValue<std::string>("protocol"), "tcp");
    EXPECT_EQ(pg->getArray("bind")->getElement<std::string>(1), "[::1]:5432");
    EXPECT_EQ(pg->getValue<std::string>("pool"), "pg");
    EXPECT_EQ(pg->getValue<int>("connections_active"), 3);
    EXPECT_EQ(pg->getValue<int>("connections_total"), 100);
    EXPECT_EQ(pg->getValue<int>("bytes_in"), 1234);
    EXPECT_EQ(pg->getValue<int>("bytes_out"), 5678);
    EXPECT_EQ(pg->getValue<int>("refused_total"), 3);
    Object::Ptr web = listeners->getObject(1);
    EXPECT_EQ(web->getValue<std::string>("name"), "we\"b\\site\n2");
    EXPECT_TRUE(web->isNull("pool"));
    EXPECT_EQ(web->getValue<int>("requests_total"), 10);
    EXPECT_EQ(web->getValue<int>("tls_handshake_failures"), 2);

    Array::Ptr pools = doc->getArray("pools");
    ASSERT_EQ(pools->size(), 2u);
    Object::Ptr pool = pools->getObject(0);
    EXPECT_EQ(keysOf(pool), (std::set<std::string>{"name", "balance", "backends"}));
    EXPECT_EQ(pool->getValue<std::string>("balance"), "least_connections");
    Array::Ptr backends = pool->getArray("backends");
    ASSERT_EQ(backends->size(), 3u);
    Object::Ptr a = backends->getObject(0);
    EXPECT_EQ(keysOf(a),
              (std::set<std::string>{"backend", "host", "state", "up", "draining", "admin_drained",
                                     "active", "connections_total", "connect_failures", "region",
                                     "weight", "priority", "last_probe"}));
    EXPECT_EQ(a->getValue<std::string>("backend"), "127.0.0.1:9001");
    EXPECT_EQ(a->getValue<std::string>("host"), "db1.internal");
    EXPECT_EQ(a->getValue<std::string>("state"), "up");
    EXPECT_TRUE(a->getValue<bool>("up"));
    EXPECT_FALSE(a->getValue<bool>("draining"));
    EXPECT_FALSE(a->getValue<bool>("admin_drained"));
    EXPECT_EQ(a->getValue<int>("active"), 2);
    EXPECT_EQ(a->getValue<int>("connections_total"), 40);
    EXPECT_EQ(a->getValue<std::string>("region"), "eu");
    EXPECT_EQ(a->getValue<int>("weight"), 1);
    Object::Ptr probe = a->getObject("last_probe");
    ASSERT_TRUE(probe);
    EXPECT_EQ(keysOf(probe), (std::set<std::string>{"time", "ok", "latency_ms", "error"}));
    EXPECT_TRUE(probe->getValue<bool>("ok"));
    EXPECT_DOUBLE_EQ(probe->getValue<double>("latency_ms"), 0.412);
    EXPECT_TRUE(probe->isNull("error"));
    EXPECT_EQ(probe->getValue<std::string>("time"), "2025-12-06T05:47:39.500Z");

    Object::Ptr b = backends->getObject(1);
    EXPECT_EQ(b->getValue<std::string>("state"), "down");
    EXPECT_TRUE(b->isNull("region"));
    EXPECT_EQ(b->getObject("last_probe")->getValue<std::string>("error"),
              "connect: Connection refused");
    EXPECT_FALSE(b->getObject("last_probe")->getValue<bool>("ok"));
    Object::Ptr old = backends->getObject(2);
    EXPECT_EQ(old->getValue<std::string>("state"), "draining");
    EXPECT_TRUE(old->isNull("last_probe"));

    Object::Ptr c = pools->getObject(1)->getArray("backends")->getObject(0);
    EXPECT_EQ(c->getValue<int>("weight"), 3);
    EXPECT_EQ(c->getValue<int>("priority"), 1);
}

TEST(StatusJson, EscapesEveryByte) {
    std::string all;
    for (int c = 1; c < 256; ++c) all += static_cast<char>(c);
    all += std::string("\0x", 2);
    all += "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // é € 😀: kept as they are
    all += "\xC3";                                    // truncated sequence
    std::string out;
    appendJsonString(out, all);
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v;
    ASSERT_NO_THROW(v = parser.parse("[" + out + "]")) << out;
    const std::string back = v.extract<Array::Ptr>()->getElement<std::string>(0);
    EXPECT_EQ(back.substr(0, 127), all.substr(0, 127));  // ASCII round-trips exactly
    EXPECT_NE(back.find("\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::string::npos);
    EXPECT_NE(back.find(std::string("\0x", 2)), std::string::npos);
    // Each invalid byte (0x80..0xFF alone, the truncated sequence) is U+FFFD.
    EXPECT_NE(back.find("\xEF\xBF\xBD"), std::string::npos);
    EXPECT_EQ(out.find('\n'), std::string::npos);
}

TEST(StatusJson, EmptyGateway) {
    GatewaySnapshot s;
    s.version = "0.1.0";
    Object::Ptr doc;
    ASSERT_NO_THROW(doc = parse(writeStatusJson(s)));
    EXPECT_EQ(doc->getArray("listeners")->size(), 0u);
    EXPECT_EQ(doc->getArray("pools")->size(), 0u);
    EXPECT_EQ(doc->getArray("reloads")->size(), 0u);
    EXPECT_EQ(doc->getValue<std::string>("now"), "1970-01-01T00:00:00.000Z");
}

#endif  // POSTERN_HAVE_POCO_JSON

}  // namespace
}  // namespace postern::admin
