#include "http/error_response.h"

#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"

namespace postern::http {
namespace {

TEST(ErrorResponse, ReasonPhrases) {
    EXPECT_EQ(reasonPhrase(400), "Bad Request");
    EXPECT_EQ(reasonPhrase(404), "Not Found");
    EXPECT_EQ(reasonPhrase(401), "Unauthorized");  // the admin endpoint's
    EXPECT_EQ(reasonPhrase(409), "Conflict");
    EXPECT_EQ(reasonPhrase(422), "Unprocessable Content");
    EXPECT_EQ(reasonPhrase(414), "URI Too Long");
    EXPECT_EQ(reasonPhrase(426), "Upgrade Required");
    EXPECT_EQ(reasonPhrase(431), "Request Header Fields Too Large");
    EXPECT_EQ(reasonPhrase(501), "Not Implemented");
    EXPECT_EQ(reasonPhrase(502), "Bad Gateway");
    EXPECT_EQ(reasonPhrase(503), "Service Unavailable");
    EXPECT_EQ(reasonPhrase(504), "Gateway Timeout");
    EXPECT_EQ(reasonPhrase(505), "HTTP Version Not Supported");
    EXPECT_EQ(reasonPhrase(799), "Unknown");
}

TEST(ErrorResponse, ExactBytes) {
    std::string out;
    writeErrorResponse(404, false, out);
    EXPECT_EQ(out,
              "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
              "Connection: keep-alive\r\n\r\n404 Not Found\n");
    out = "prefix";
    writeErrorResponse(400, true, out);
    EXPECT_EQ(out,
              "prefixHTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 16\r\n"
              "Connection: close\r\n\r\n400 Bad Request\n");
}

TEST(ErrorResponse, EveryStatusWeSendParsesBackWithItsLength) {
    for (std::uint16_t status : {400, 404, 414, 426, 431, 501, 502, 503, 504, 505}) {
        for (bool close : {false, true}) {
            std::string out;
            writeErrorResponse(status, close, out);
            ResponseParser p;
            ResponseHead head;
            const ParseResult r = p.parse(out, "GET", head);
            ASSERT_EQ(r.status, ParseStatus::Complete) << status << ": " << r.error;
            EXPECT_EQ(head.status, status);
            EXPECT_EQ(head.reason, reasonPhrase(status));
            EXPECT_EQ(head.body, BodyKind::Length);
            EXPECT_EQ(r.consumed + head.content_length, out.size());
            EXPECT_EQ(head.keep_alive, !close);
            bool has_version = false;
            for (const Header& h : head.headers) {
                if (equalsIgnoreCase(h.name, "sec-websocket-version")) {
                    has_version = true;
                    EXPECT_EQ(h.value, "13");
                }
            }
            EXPECT_EQ(has_version, status == 426);
        }
    }
}

}  // namespace
}  // namespace postern::http
