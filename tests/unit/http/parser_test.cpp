#include "http/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "unit/http/parse_helpers.h"

namespace postern::http {
namespace {

std::string_view field(const std::vector<Header>& headers, std::string_view name) {
    for (const Header& h : headers) {
        if (equalsIgnoreCase(h.name, name)) return h.value;
    }
    return "<none>";
}

TEST(RequestParser, ParsesATypicalGet) {
    const std::string in =
        "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/7.88\r\n"
        "Accept:  */*  \r\nX-Empty:\r\n\r\n";
    RequestHead head;
    const ParseResult r = test::parseRequest(in, head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(r.consumed, in.size());
    EXPECT_EQ(head.method, "GET");
    EXPECT_EQ(head.target, "/index.html?q=1");
    EXPECT_EQ(head.path, "/index.html");
    EXPECT_EQ(head.version, Version::Http11);
    EXPECT_EQ(head.host, "example.com:8080");
    ASSERT_EQ(head.headers.size(), 4u);
    EXPECT_EQ(head.headers[0].name, "Host");
    EXPECT_EQ(field(head.headers, "accept"), "*/*");
    EXPECT_EQ(field(head.headers, "x-empty"), "");
    EXPECT_EQ(head.body, BodyKind::None);
    EXPECT_TRUE(head.keep_alive);
    EXPECT_FALSE(head.upgrade);
    EXPECT_FALSE(head.expect_continue);
}

TEST(RequestParser, BodyFramingAndTheBodyStartsAtConsumed) {
    RequestHead head;
    const std::string post = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    ParseResult r = test::parseRequest(post, head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(head.body, BodyKind::Length);
    EXPECT_EQ(head.content_length, 5u);
    EXPECT_EQ(post.substr(r.consumed), "hello");

    const std::string chunked =
        "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    r = test::parseRequest(chunked, head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(head.body, BodyKind::Chunked);
    EXPECT_EQ(chunked.substr(r.consumed), "5\r\nhello\r\n0\r\n\r\n");

    r = test::parseRequest("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::Length);
    EXPECT_EQ(head.content_length, 0u);
}

TEST(RequestParser, KeepAliveUpgradeAndExpect) {
    RequestHead head;
    ASSERT_EQ(
        test::parseRequest("GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", head).status,
        ParseStatus::Complete);
    EXPECT_FALSE(head.keep_alive);
    ASSERT_EQ(test::parseRequest("GET / HTTP/1.0\r\n\r\n", head).status, ParseStatus::Complete);
    EXPECT_EQ(head.version, Version::Http10);
    EXPECT_FALSE(head.keep_alive);
    EXPECT_EQ(head.host, "");
    ASSERT_EQ(
        test::parseRequest("GET / HTTP/1.0\r\nConnection: keep-alive\r\nHost: a\r\n\r\n", head)
            .status,
        ParseStatus::Complete);
    EXPECT_TRUE(head.keep_alive);
    ASSERT_EQ(test::parseRequest("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade"
                                 "\r\nUpgrade: websocket\r\n\r\n",
                                 head)
                  .status,
              ParseStatus::Complete);
    EXPECT_TRUE(head.upgrade);
    EXPECT_TRUE(head.keep_alive);
    // Upgrade without the connection option is not an upgrade; nor is one in HTTP/1.0.
    ASSERT_EQ(
        test::parseRequest("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", head).status,
        ParseStatus::Complete);
    EXPECT_FALSE(head.upgrade);
    ASSERT_EQ(test::parseRequest(
                  "GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", head)
                  .status,
              ParseStatus::Complete);
    EXPECT_FALSE(head.upgrade);
    ASSERT_EQ(test::parseRequest("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
                                 "Content-Length: 3\r\n\r\n",
                                 head)
                  .status,
              ParseStatus::Complete);
    EXPECT_TRUE(head.expect_continue);
}

TEST(RequestParser, TargetForms) {
    RequestHead head;
    ASSERT_EQ(test::parseRequest("GET HTTP://Example.com:81/a/b?x HTTP/1.1\r\nHost: example.COM:81"
                                 "\r\n\r\n",
                                 head)
                  .status,
              ParseStatus::Complete);
    EXPECT_EQ(head.path, "/a/b");
    EXPECT_EQ(head.host, "Example.com:81");
    EXPECT_EQ(head.target, "HTTP://Example.com:81/a/b?x");
    ASSERT_EQ(test::parseRequest("GET https://a?x HTTP/1.1\r\nHost: a\r\n\r\n", head).status,
              ParseStatus::Complete);
    EXPECT_EQ(head.path, "/");
    ASSERT_EQ(test::parseRequest("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", head).status,
              ParseStatus::Complete);
    EXPECT_EQ(head.path, "*");
    ASSERT_EQ(
        test::parseRequest("GET /[v6]:{|}^`\"<> HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", head).status,
        ParseStatus::Complete);
    EXPECT_EQ(head.host, "[::1]:8080");
    // HTTP/1.2 is read as the highest 1.x we implement (RFC 9112 §2.3).
    ASSERT_EQ(test::parseRequest("GET / HTTP/1.2\r\nHost: a\r\n\r\n", head).status,
              ParseStatus::Complete);
    EXPECT_EQ(head.version, Version::Http11);
}

TEST(RequestParser, EmptyLinesBeforeTheRequestAreSkippedAndCounted) {
    RequestHead head;
    const std::string in = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const ParseResult r = test::parseRequest(in, head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(r.consumed, in.size());
    EXPECT_EQ(head.method, "GET");
}

TEST(RequestParser, FieldValuesKeepObsTextAndInnerWhitespace) {
    RequestHead head;
    const std::string in = "GET / HTTP/1.1\r\nHost: a\r\nX-A: \t caf\xc3\xa9  au\tlait \t\r\n\r\n";
    ASSERT_EQ(test::parseRequest(in, head).status, ParseStatus::Complete);
    EXPECT_EQ(field(head.headers, "x-a"), "caf\xc3\xa9  au\tlait");
}

TEST(RequestParser, PipelinedRequestsConsumeExactly) {
    const std::string first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string second = "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok";
    const std::string third = "GET /3 HTTP/1.1\r\nHost: a\r\n\r\n";
    const std::string all = first + second + third;
    RequestParser p;
    RequestHead head;
    std::string_view rest = all;
    ParseResult r = p.parse(rest, head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(r.consumed, first.size());
    EXPECT_EQ(head.path, "/1");
    rest.remove_prefix(r.consumed);
    p.reset();
    r = p.parse(rest, head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.path, "/2");
    EXPECT_EQ(r.consumed + 2, second.size());
    rest.remove_prefix(r.consumed + head.content_length);
    p.reset();
    r = p.parse(rest, head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.path, "/3");
    EXPECT_EQ(r.consumed, rest.size());
}

TEST(RequestParser, CompleteIsIdempotent) {
    const std::string in = "GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /y HTTP/1.1\r\n";
    RequestParser p;
    RequestHead head;
    std::string buf;
    for (char c : in) {
        buf.push_back(c);
        if (p.parse(buf, head).status == ParseStatus::Complete) break;
    }
    const ParseResult again = p.parse(in, head);
    ASSERT_EQ(again.status, ParseStatus::Complete);
    EXPECT_EQ(head.path, "/x");
    EXPECT_EQ(again.consumed, in.find("GET /y"));
}

/** Every way of cutting the input gives the verdict, the length and the head of the whole. */
void expectSameInPieces(const std::string& in) {
    RequestHead whole_head;
    const ParseResult whole = test::parseRequest(in, whole_head);
    for (std::size_t step = 1; step <= in.size(); ++step) {
        RequestHead head;
        std::string buf;
        const ParseResult r = test::parseRequestInPieces(in, step, head, buf);
        ASSERT_EQ(r.status, whole.status) << "step " << step;
        ASSERT_EQ(r.error_status, whole.error_status) << "step " << step;
        ASSERT_EQ(r.error, whole.error) << "step " << step;
        if (whole.status != ParseStatus::Complete) continue;
        ASSERT_EQ(r.consumed, whole.consumed) << "step " << step;
        EXPECT_EQ(head.method, whole_head.method);
        EXPECT_EQ(head.target, whole_head.target);
        EXPECT_EQ(head.host, whole_head.host);
        EXPECT_EQ(head.body, whole_head.body);
        EXPECT_EQ(head.content_length, whole_head.content_length);
        EXPECT_EQ(head.keep_alive, whole_head.keep_alive);
        ASSERT_EQ(head.headers.size(), whole_head.headers.size());
        for (std::size_t i = 0; i < head.headers.size(); ++i) {
            EXPECT_EQ(head.headers[i].name, whole_head.headers[i].name);
            EXPECT_EQ(head.headers[i].value, whole_head.headers[i].value);
        }
    }
}

TEST(RequestParser, PiecesGiveTheSameResultAsTheWhole) {
    expectSameInPieces(
        "\r\nPOST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
    expectSameInPieces(
        "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nX: 2\r\nTransfer-Encoding: chunked"
        "\r\n\r\n0\r\n\r\n");
    // Two errors: the first bad byte decides, however the bytes arrive.
    expectSameInPieces("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX : y\r\n\r\n");
    expectSameInPieces("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\nX\r\n\r\n");
    expectSameInPieces("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n");
}

TEST(ResponseParser, Framing) {
    ResponseHead head;
    ParseResult r = test::parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world!",
                                        "GET", head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.reason, "OK");
    EXPECT_EQ(head.body, BodyKind::Length);
    EXPECT_EQ(head.content_length, 12u);
    EXPECT_TRUE(head.keep_alive);

    r = test::parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::Chunked);

    r = test::parseResponse("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "GET", head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::UntilClose);
    EXPECT_FALSE(head.keep_alive);

    r = test::parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::UntilClose);

    for (const char* status :
         {"100 Continue", "101 Switching Protocols", "204 No Content", "304 Not Modified"}) {
        r = test::parseResponse(std::string("HTTP/1.1 ") + status + "\r\nContent-Length: 5\r\n\r\n",
                                "GET", head);
        ASSERT_EQ(r.status, ParseStatus::Complete) << status;
        EXPECT_EQ(head.body, BodyKind::None) << status;
    }
    EXPECT_TRUE(head.keep_alive);  // the 304, last
    r = test::parseResponse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "GET",
                            head);
    EXPECT_FALSE(head.keep_alive);

    r = test::parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", "HEAD", head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::None);
    EXPECT_TRUE(head.keep_alive);
}

TEST(ResponseParser, KeepAliveByVersion) {
    ResponseHead head;
    ASSERT_EQ(
        test::parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", head).status,
        ParseStatus::Complete);
    EXPECT_FALSE(head.keep_alive);
    ASSERT_EQ(
        test::parseResponse(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", "GET", head)
            .status,
        ParseStatus::Complete);
    EXPECT_TRUE(head.keep_alive);
    ASSERT_EQ(test::parseResponse(
                  "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "GET", head)
                  .status,
              ParseStatus::Complete);
    EXPECT_FALSE(head.keep_alive);
}

TEST(ResponseParser, StatusLineWithoutReason) {
    ResponseHead head;
    ParseResult r = test::parseResponse("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", "GET", head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(head.status, 404);
    EXPECT_EQ(head.reason, "");
    r = test::parseResponse("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", "GET", head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
}

TEST(ResponseParser, ErrorsAre502) {
    const std::vector<std::string> bad = {
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 600 Nope\r\n\r\n",
        "HTTP/1.1 099 Nope\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n",
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: " + std::string(40000, 'x') + "\r\n\r\n",
    };
    for (const std::string& in : bad) {
        ResponseHead head;
        const ParseResult r = test::parseResponse(in, "GET", head);
        EXPECT_EQ(r.status, ParseStatus::Error) << in.substr(0, 60);
        EXPECT_EQ(r.error_status, 502) << in.substr(0, 60);
        std::string buf;
        const ParseResult p = test::parseResponseInPieces(in, 1, "GET", head, buf);
        EXPECT_EQ(p.status, ParseStatus::Error) << in.substr(0, 60);
        EXPECT_EQ(p.error, r.error) << in.substr(0, 60);
    }
}

TEST(ResponseParser, PiecesGiveTheSameResultAsTheWhole) {
    const std::string in =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nokHTTP/1.1";
    ResponseHead whole;
    const ParseResult w = test::parseResponse(in, "GET", whole);
    ASSERT_EQ(w.status, ParseStatus::Complete);
    for (std::size_t step = 1; step < in.size(); ++step) {
        ResponseHead head;
        std::string buf;
        const ParseResult r = test::parseResponseInPieces(in, step, "GET", head, buf);
        ASSERT_EQ(r.status, ParseStatus::Complete) << step;
        EXPECT_EQ(r.consumed, w.consumed) << step;
        EXPECT_EQ(head.content_length, 2u);
        EXPECT_EQ(head.headers.size(), 2u);
    }
}

}  // namespace
}  // namespace postern::http

namespace postern::http {
namespace {

bool valueByteAllowed(unsigned c) { return c == '\t' || (c >= 0x20 && c != 0x7F); }
bool targetByteAllowed(unsigned c) { return c >= 0x21 && c <= 0x7E && c != '#'; }

// The word-at-a-time scans agree with the grammar for every byte at every offset of a word.
TEST(RequestParser, EveryByteAtEveryOffsetOfValuesAndTargets) {
    for (unsigned c = 0; c < 256; ++c) {
        if (c == '\r' || c == '\n') continue;  // line ends: their own tests
        for (std::size_t at = 0; at < 20; ++at) {
            std::string value(20, 'v');
            value[at] = static_cast<char>(c);
            RequestHead head;
            const ParseResult r =
                test::parseRequest("GET / HTTP/1.1\r\nHost: a\r\nX: v" + value + "v\r\n\r\n", head);
            EXPECT_EQ(r.status == ParseStatus::Complete, valueByteAllowed(c))
                << "value byte " << c << " at " << at;

            std::string target = "/" + std::string(20, 't');
            target[at + 1] = static_cast<char>(c);
            const ParseResult t =
                test::parseRequest("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n", head);
            EXPECT_EQ(t.status == ParseStatus::Complete, targetByteAllowed(c))
                << "target byte " << c << " at " << at;
        }
    }
}

}  // namespace
}  // namespace postern::http

namespace postern::http {
namespace {

// A 100 Continue is a complete head of its own; the final response follows it on the same bytes.
TEST(ResponseParser, InterimThenFinalResponse) {
    const std::string in =
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    ResponseParser p;
    ResponseHead head;
    std::string_view rest = in;
    ParseResult r = p.parse(rest, "PUT", head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.status, 100);
    EXPECT_EQ(head.body, BodyKind::None);
    EXPECT_TRUE(head.keep_alive);
    rest.remove_prefix(r.consumed);
    p.reset();
    r = p.parse(rest, "PUT", head);
    ASSERT_EQ(r.status, ParseStatus::Complete);
    EXPECT_EQ(head.status, 201);
    EXPECT_EQ(head.body, BodyKind::Length);
    EXPECT_EQ(rest.substr(r.consumed), "ok");
}

TEST(ResponseParser, ConnectAndHeadHaveNoBody) {
    ResponseHead head;
    ASSERT_EQ(
        test::parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", head)
            .status,
        ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::None);
    ASSERT_EQ(
        test::parseResponse("HTTP/1.1 200 Connection established\r\n\r\n", "CONNECT", head).status,
        ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::None);
    ASSERT_EQ(test::parseResponse("HTTP/1.1 407 Proxy Auth\r\n\r\n", "CONNECT", head).status,
              ParseStatus::Complete);
    EXPECT_EQ(head.body, BodyKind::UntilClose);
}

}  // namespace
}  // namespace postern::http

namespace postern::http {
namespace {

TEST(ResponseParser, NonHttpBytesAreRefusedAtOnce) {
    ResponseHead head;
    ResponseParser p;
    EXPECT_EQ(p.parse("HTT", "GET", head).status, ParseStatus::Incomplete);
    ResponseParser q;
    const ParseResult r = q.parse("SSH-2.0", "GET", head);
    EXPECT_EQ(r.status, ParseStatus::Error);
    EXPECT_EQ(r.error_status, 502);
}

}  // namespace
}  // namespace postern::http
