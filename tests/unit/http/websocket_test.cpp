#include "http/websocket.h"

#include <gtest/gtest.h>

#include <string>

#include "http/parser.h"

namespace postern::http {
namespace {

const std::string kValid =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

/** kValid with `from` replaced by `to` (the field must be there). */
std::string with(std::string_view from, std::string_view to) {
    std::string s = kValid;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
}

UpgradeCheck check(const std::string& in) {
    RequestParser p;
    RequestHead head;
    const ParseResult r = p.parse(in, head);
    EXPECT_EQ(r.status, ParseStatus::Complete) << r.error << "\n" << in;
    return checkWebSocketUpgrade(head);
}

TEST(WebSocket, ValidHandshake) {
    EXPECT_EQ(check(kValid), UpgradeCheck::Valid);
    // Token case and list forms.
    EXPECT_EQ(check(with("Upgrade: websocket", "upgrade: WebSocket")), UpgradeCheck::Valid);
    EXPECT_EQ(check(with("Connection: Upgrade", "Connection: keep-alive, upgrade")),
              UpgradeCheck::Valid);
    EXPECT_EQ(check(with("dGhlIHNhbXBsZSBub25jZQ==", "AAAAAAAAAAAAAAAAAAAAAA==")),
              UpgradeCheck::Valid);
    EXPECT_EQ(check(with("dGhlIHNhbXBsZSBub25jZQ==", "/+/+/+/+/+/+/+/+/+/+/w==")),
              UpgradeCheck::Valid);
}

TEST(WebSocket, NotWebSocket) {
    EXPECT_EQ(check("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), UpgradeCheck::NotWebSocket);
    EXPECT_EQ(check(with("Upgrade: websocket", "Upgrade: h2c")), UpgradeCheck::NotWebSocket);
    EXPECT_EQ(check(with("Upgrade: websocket\r\n", "")), UpgradeCheck::NotWebSocket);
}

TEST(WebSocket, EachBrokenRuleIsInvalid) {
    EXPECT_EQ(check(with("GET /chat", "POST /chat")), UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("HTTP/1.1\r\n", "HTTP/1.0\r\n")), UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Connection: Upgrade", "Connection: keep-alive")), UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Connection: Upgrade\r\n", "")), UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")),
              UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13\r\n", "")), UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13\r\n",
                         "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n")),
              UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")),
              UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13\r\n",
                         "Sec-WebSocket-Version: 13\r\nContent-Length: 4\r\n")),
              UpgradeCheck::Invalid);
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13\r\n",
                         "Sec-WebSocket-Version: 13\r\nTransfer-Encoding: chunked\r\n")),
              UpgradeCheck::Invalid);
    // A zero-length body is no body.
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13\r\n",
                         "Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n")),
              UpgradeCheck::Valid);
}

TEST(WebSocket, KeyMustBeSixteenBytesOfBase64) {
    for (const char* key : {
             "dGhlIHNhbXBsZSBub25jZQ",     // no padding
             "dGhlIHNhbXBsZSBub25jZQ=",    // one pad
             "dGhlIHNhbXBsZSBub25jZQ===",  // three pads
             "dGhlIHNhbXBsZSBub25jZR==",   // stray low bits: not a canonical 16-byte encoding
             "dGhlIHNhbXBsZSBub25j",       // 15 bytes
             "dGhlIHNhbXBsZSBub25jZWVl",   // 18 bytes, no padding
             "dGhlIHNhbXBsZS*ub25jZQ==",   // not base64
             "dGhlIHNhbXBsZSBub25jZQ-_",   // base64url
             "",                           // empty
             "dGhlIHNhbXBsZSBub25jZQ==dGhl",
         }) {
        EXPECT_EQ(check(with("dGhlIHNhbXBsZSBub25jZQ==", key)), UpgradeCheck::Invalid) << key;
    }
}

TEST(WebSocket, OtherVersionsAskFor13) {
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8")),
              UpgradeCheck::WrongVersion);
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 14")),
              UpgradeCheck::WrongVersion);
    EXPECT_EQ(check(with("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13, 8")),
              UpgradeCheck::WrongVersion);
}

}  // namespace
}  // namespace postern::http
