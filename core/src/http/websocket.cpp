#include "http/websocket.h"

#include <string_view>

namespace postern::http {

namespace {

bool isBase64(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/** A base64 text of exactly 16 bytes: 22 alphabet characters then "==", the last one carrying
 * no stray low bits (so one key has exactly one spelling). */
bool isKey16(std::string_view v) {
    if (v.size() != 24 || v[22] != '=' || v[23] != '=') return false;
    for (std::size_t i = 0; i < 22; ++i) {
        if (!isBase64(v[i])) return false;
    }
    const char last = v[21];  // 16 bytes = 128 bits: 21 × 6 + 2, so its low 4 bits are zero
    return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

}  // namespace

UpgradeCheck checkWebSocketUpgrade(const RequestHead& request) {
    bool websocket = false;
    std::string_view key;
    std::string_view version;
    int keys = 0;
    int versions = 0;
    for (const Header& h : request.headers) {
        if (h.name.size() == 7 && equalsIgnoreCase(h.name, "upgrade")) {
            if (listContains(h.value, "websocket")) websocket = true;
        } else if (h.name.size() == 17 && equalsIgnoreCase(h.name, "sec-websocket-key")) {
            key = h.value;
            ++keys;
        } else if (h.name.size() == 21 && equalsIgnoreCase(h.name, "sec-websocket-version")) {
            version = h.value;
            ++versions;
        }
    }
    if (!websocket) return UpgradeCheck::NotWebSocket;
    // RFC 6455 §4.2.1: GET, HTTP/1.1 or higher, "upgrade" in Connection, one key.
    if (request.method != "GET" || request.version != Version::Http11 || !request.upgrade)
        return UpgradeCheck::Invalid;
    // A body before the relay would be read as frames by one side and as a body by the other.
    if (request.body == BodyKind::Chunked ||
        (request.body == BodyKind::Length && request.content_length > 0))
        return UpgradeCheck::Invalid;
    if (keys != 1 || !isKey16(key)) return UpgradeCheck::Invalid;
    if (versions != 1) return UpgradeCheck::Invalid;
    if (version != "13") return UpgradeCheck::WrongVersion;
    return UpgradeCheck::Valid;
}

}  // namespace postern::http
