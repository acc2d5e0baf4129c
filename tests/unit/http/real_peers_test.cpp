// The heads real peers send, recorded by tests/fixtures/http/capture.py (curl 7.88, wrk,
// python3-websockets 10.4, nginx 1.22, HAProxy 2.6, Python's http.server): strictness must not
// refuse any of them, and each is read as its peer meant it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "http/parser.h"
#include "http/rewrite.h"
#include "http/websocket.h"
#include "unit/http/parse_helpers.h"

namespace postern::http {
namespace {

std::string fixture(const std::string& rel) {
    const auto path = std::filesystem::path(POSTERN_SOURCE_DIR) / "tests/fixtures/http" / rel;
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << path;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

struct RequestCase {
    const char* file;
    const char* method;
    Version version;
    BodyKind body;
    bool keep_alive;
    UpgradeCheck websocket;
};

class RealClients : public ::testing::TestWithParam<RequestCase> {};

TEST_P(RealClients, AreReadAsMeant) {
    const RequestCase& c = GetParam();
    const std::string in = fixture(std::string("requests/") + c.file);
    RequestHead head;
    const ParseResult r = test::parseRequest(in, head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << c.file << ": " << r.error;
    EXPECT_EQ(in.compare(r.consumed - 4, 4, "\r\n\r\n"), 0);
    EXPECT_EQ(head.method, c.method);
    EXPECT_EQ(head.version, c.version);
    EXPECT_EQ(head.body, c.body);
    EXPECT_EQ(head.keep_alive, c.keep_alive);
    EXPECT_EQ(checkWebSocketUpgrade(head), c.websocket);
    if (head.body == BodyKind::Length) {
        EXPECT_EQ(in.size() - r.consumed, head.content_length);
    }

    std::string buf;
    RequestHead pieces;
    const ParseResult p = test::parseRequestInPieces(in, 1, pieces, buf);
    EXPECT_EQ(p.status, ParseStatus::Complete);
    EXPECT_EQ(p.consumed, r.consumed);

    ForwardContext ctx;
    ctx.client_ip = "127.0.0.1";
    ctx.proto = "http";
    ctx.listener_port = 8080;
    ctx.websocket = c.websocket == UpgradeCheck::Valid;
    std::string out;
    writeBackendRequestHead(head, ctx, out);
    RequestParser again;
    RequestHead reparsed;
    const ParseResult a = again.parse(out, reparsed);
    ASSERT_EQ(a.status, ParseStatus::Complete) << a.error << "\n" << out;
    EXPECT_EQ(reparsed.body, head.body);
    EXPECT_EQ(reparsed.host, head.host);
    EXPECT_EQ(checkWebSocketUpgrade(reparsed), c.websocket) << out;
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, RealClients,
    ::testing::Values(RequestCase{"curl_get", "GET", Version::Http11, BodyKind::None, true,
                                  UpgradeCheck::NotWebSocket},
                      RequestCase{"curl_head", "HEAD", Version::Http11, BodyKind::None, true,
                                  UpgradeCheck::NotWebSocket},
                      RequestCase{"curl_post_form", "POST", Version::Http11, BodyKind::Length, true,
                                  UpgradeCheck::NotWebSocket},
                      RequestCase{"curl_put_chunked", "PUT", Version::Http11, BodyKind::Chunked,
                                  true, UpgradeCheck::NotWebSocket},
                      RequestCase{"curl_http10", "GET", Version::Http10, BodyKind::None, false,
                                  UpgradeCheck::NotWebSocket},
                      RequestCase{"curl_proxy_absolute_form", "GET", Version::Http11,
                                  BodyKind::None, true, UpgradeCheck::NotWebSocket},
                      RequestCase{"wrk_get", "GET", Version::Http11, BodyKind::None, true,
                                  UpgradeCheck::NotWebSocket},
                      RequestCase{"python_websockets_client", "GET", Version::Http11,
                                  BodyKind::None, true, UpgradeCheck::Valid}),
    [](const ::testing::TestParamInfo<RequestCase>& info) { return std::string(info.param.file); });

TEST(RealClients, CurlChunkedUploadAndExpect) {
    const std::string in = fixture("requests/curl_put_chunked");
    RequestHead head;
    const ParseResult r = test::parseRequest(in, head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_TRUE(head.expect_continue);
}

struct ResponseCase {
    const char* file;
    const char* method;
    std::uint16_t status;
    BodyKind body;
};

class RealServers : public ::testing::TestWithParam<ResponseCase> {};

TEST_P(RealServers, AreReadAsMeant) {
    const ResponseCase& c = GetParam();
    const std::string in = fixture(std::string("responses/") + c.file);
    ResponseHead head;
    const ParseResult r = test::parseResponse(in, c.method, head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << c.file << ": " << r.error;
    EXPECT_EQ(head.status, c.status);
    EXPECT_EQ(head.body, c.body);
    const std::string_view body = std::string_view(in).substr(r.consumed);
    switch (head.body) {
        case BodyKind::None:
            EXPECT_TRUE(body.empty());
            break;
        case BodyKind::Length:
            EXPECT_EQ(body.size(), head.content_length);
            break;
        case BodyKind::Chunked: {
            ChunkedDecoder d;
            const auto b = d.feed(body);
            EXPECT_TRUE(b.done) << b.why;
            EXPECT_EQ(b.consumed, body.size());
            break;
        }
        case BodyKind::UntilClose:
            EXPECT_FALSE(head.keep_alive);
            break;
    }
    for (Version client : {Version::Http11, Version::Http10}) {
        const bool dechunk = client == Version::Http10 && head.body == BodyKind::Chunked;
        std::string out;
        writeClientResponseHead(head, client, dechunk || !head.keep_alive, dechunk, out);
        ResponseHead reparsed;
        const ParseResult a = test::parseResponse(out, c.method, reparsed);
        ASSERT_EQ(a.status, ParseStatus::Complete) << a.error << "\n" << out;
        EXPECT_EQ(reparsed.status, head.status);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Recorded, RealServers,
    ::testing::Values(ResponseCase{"nginx_200", "GET", 200, BodyKind::Length},
                      ResponseCase{"nginx_404", "GET", 404, BodyKind::Length},
                      ResponseCase{"nginx_304", "GET", 304, BodyKind::None},
                      ResponseCase{"nginx_head", "HEAD", 200, BodyKind::None},
                      ResponseCase{"nginx_gzip_chunked", "GET", 200, BodyKind::Chunked},
                      ResponseCase{"nginx_400", "GET", 400, BodyKind::Length},
                      ResponseCase{"haproxy_503", "GET", 503, BodyKind::Length},
                      ResponseCase{"python_http_server_200", "GET", 200, BodyKind::Length}),
    [](const ::testing::TestParamInfo<ResponseCase>& info) {
        return std::string(info.param.file);
    });

}  // namespace
}  // namespace postern::http
