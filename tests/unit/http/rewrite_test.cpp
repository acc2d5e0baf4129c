#include "http/rewrite.h"

#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"

namespace postern::http {
namespace {

/** Parses `in` and returns the head Postern would send to the backend. */
std::string backendHead(const std::string& in, const ForwardContext& ctx) {
    RequestParser p;
    RequestHead head;
    const ParseResult r = p.parse(in, head);
    EXPECT_EQ(r.status, ParseStatus::Complete) << r.error;
    std::string out;
    writeBackendRequestHead(head, ctx, out);
    // What we send must itself be a valid request with the same framing.
    RequestParser again;
    RequestHead reparsed;
    const ParseResult r2 = again.parse(out, reparsed);
    EXPECT_EQ(r2.status, ParseStatus::Complete) << r2.error << "\n" << out;
    EXPECT_EQ(r2.consumed, out.size());
    EXPECT_EQ(reparsed.body, head.body);
    EXPECT_EQ(reparsed.content_length, head.content_length);
    return out;
}

ForwardContext v4() {
    ForwardContext ctx;
    ctx.client_ip = "192.0.2.7";
    ctx.client_port = 40000;
    ctx.proto = "http";
    ctx.listener_port = 8080;
    return ctx;
}

TEST(Rewrite, TypicalRequest) {
    const std::string out =
        backendHead("GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n", v4());
    EXPECT_EQ(out,
              "GET /a?b HTTP/1.1\r\n"
              "Host: example.com\r\n"
              "User-Agent: t\r\n"
              "X-Forwarded-For: 192.0.2.7\r\n"
              "X-Forwarded-Proto: http\r\n"
              "X-Forwarded-Port: 8080\r\n"
              "Forwarded: for=192.0.2.7;proto=http;host=example.com\r\n"
              "Connection: keep-alive\r\n"
              "\r\n");
}

TEST(Rewrite, HopByHopFieldsAndThoseNamedInConnectionGo) {
    const std::string out = backendHead(
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\nKeep-Alive: timeout=5\r\n"
        "Proxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\n"
        "X-Secret: 1\r\nx-secret: 2\r\nX-Kept: 3\r\n\r\n",
        v4());
    EXPECT_EQ(out.find("X-Secret"), std::string::npos) << out;
    EXPECT_EQ(out.find("x-secret"), std::string::npos) << out;
    EXPECT_EQ(out.find("Keep-Alive:"), std::string::npos) << out;
    EXPECT_EQ(out.find("Proxy-Connection"), std::string::npos) << out;
    EXPECT_EQ(out.find("TE:"), std::string::npos) << out;
    EXPECT_EQ(out.find("Trailer"), std::string::npos) << out;
    EXPECT_EQ(out.find("Upgrade"), std::string::npos) << out;
    EXPECT_EQ(out.find("close"), std::string::npos) << out;
    EXPECT_NE(out.find("X-Kept: 3\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Connection: keep-alive\r\n"), std::string::npos) << out;
}

TEST(Rewrite, ConnectionCannotStripFramingOrHost) {
    const std::string out = backendHead(
        "POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host, Transfer-Encoding\r\n"
        "Content-Length: 3\r\n\r\n",
        v4());
    EXPECT_NE(out.find("Content-Length: 3\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Host: a\r\n"), std::string::npos) << out;
}

TEST(Rewrite, DuplicateContentLengthBecomesOneAndTransferEncodingLinesJoin) {
    std::string out = backendHead(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\ncontent-length: 7, 7\r\n\r\n", v4());
    EXPECT_NE(out.find("Content-Length: 7\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("007"), std::string::npos) << out;
    EXPECT_EQ(out.find("ontent-length"), std::string::npos) << out;
    out = backendHead(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nX: 1\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
        v4());
    EXPECT_NE(out.find("Transfer-Encoding: gzip, chunked\r\nX: 1\r\n"), std::string::npos) << out;
}

TEST(Rewrite, ForwardedForIsAppendedAndProtoPortReplaced) {
    ForwardContext ctx = v4();
    ctx.proto = "https";
    ctx.listener_port = 443;
    const std::string out = backendHead(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n"
        "X-Forwarded-Proto: gopher\r\nX-Forwarded-Port: 1\r\nForwarded: for=10.0.0.1\r\n\r\n",
        ctx);
    EXPECT_NE(out.find("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 192.0.2.7\r\n"), std::string::npos)
        << out;
    EXPECT_NE(out.find("X-Forwarded-Proto: https\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("gopher"), std::string::npos) << out;
    EXPECT_NE(out.find("X-Forwarded-Port: 443\r\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("X-Forwarded-Port: 1\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Forwarded: for=10.0.0.1, for=192.0.2.7;proto=https;host=a\r\n"),
              std::string::npos)
        << out;
}

TEST(Rewrite, ForwardedQuotesIpv6AndHostsWithPorts) {
    ForwardContext ctx = v4();
    ctx.client_ip = "2001:db8::1";
    const std::string out = backendHead("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", ctx);
    EXPECT_NE(out.find("X-Forwarded-For: 2001:db8::1\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Forwarded: for=\"[2001:db8::1]\";proto=http;host=\"[::1]:8080\"\r\n"),
              std::string::npos)
        << out;
}

TEST(Rewrite, Http10RequestGoesOutAsHttp11WithAnEmptyHost) {
    const std::string out = backendHead("GET / HTTP/1.0\r\n\r\n", v4());
    EXPECT_EQ(out.rfind("GET / HTTP/1.1\r\nHost:\r\n", 0), 0u) << out;
    EXPECT_NE(out.find("Forwarded: for=192.0.2.7;proto=http\r\n"), std::string::npos) << out;
}

TEST(Rewrite, WebSocketUpgradeFieldsKept) {
    ForwardContext ctx = v4();
    ctx.websocket = true;
    const std::string out = backendHead(
        "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: chat\r\n\r\n",
        ctx);
    EXPECT_NE(out.find("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), std::string::npos);
    EXPECT_NE(out.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
    EXPECT_NE(out.find("Sec-WebSocket-Protocol: chat\r\n"), std::string::npos);
    EXPECT_NE(out.find("Connection: upgrade\r\nUpgrade: websocket\r\n\r\n"), std::string::npos)
        << out;
    EXPECT_EQ(out.find("keep-alive"), std::string::npos) << out;
}

std::string clientHead(const std::string& in, std::string_view method, Version client, bool close,
                       bool dechunk) {
    ResponseParser p;
    ResponseHead head;
    const ParseResult r = p.parse(in, method, head);
    EXPECT_EQ(r.status, ParseStatus::Complete) << r.error;
    std::string out;
    writeClientResponseHead(head, client, close, dechunk, out);
    return out;
}

TEST(Rewrite, ResponseHopByHopRemoved) {
    const std::string out = clientHead(
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5\r\n"
        "X-Internal: 1\r\nContent-Length: 2\r\nContent-Length: 2\r\nServer: s\r\n\r\n",
        "GET", Version::Http11, false, false);
    EXPECT_EQ(out, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: s\r\n\r\n");
}

TEST(Rewrite, ResponseToHttp10Clients) {
    std::string out = clientHead("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", "GET",
                                 Version::Http10, false, false);
    EXPECT_EQ(out, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n");
    out = clientHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n", "GET",
                     Version::Http10, true, true);
    EXPECT_EQ(out, "HTTP/1.0 200 OK\r\nX: y\r\nConnection: close\r\n\r\n");
    out = clientHead("HTTP/1.1 204 No Content\r\n\r\n", "GET", Version::Http11, true, false);
    EXPECT_EQ(out, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
}

TEST(Rewrite, SwitchingProtocolsKeepsUpgradeAndConnection) {
    const std::string out = clientHead(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        "GET", Version::Http11, false, false);
    EXPECT_EQ(out,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

}  // namespace
}  // namespace postern::http

namespace postern::http {
namespace {

TEST(Rewrite, Http10RequestWithHostKeepsIt) {
    const std::string out = backendHead("GET / HTTP/1.0\r\nHost: a\r\n\r\n", v4());
    EXPECT_EQ(out.rfind("GET / HTTP/1.1\r\nHost: a\r\n", 0), 0u) << out;
}

}  // namespace
}  // namespace postern::http

namespace postern::http {
namespace {

// Found by the fuzzer: the added Host must agree with an absolute-form target.
TEST(Rewrite, Http10AbsoluteFormWithoutHostGetsTheAuthority) {
    const std::string out = backendHead("GET http://example.com:81/a HTTP/1.0\r\n\r\n", v4());
    EXPECT_EQ(out.rfind("GET http://example.com:81/a HTTP/1.1\r\nHost: example.com:81\r\n", 0), 0u)
        << out;
}

}  // namespace
}  // namespace postern::http
