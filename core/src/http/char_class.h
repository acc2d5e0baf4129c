// Byte classes of the HTTP grammar (RFC 9110 §5.6, RFC 9112, RFC 3986) as one 256-entry table, so
// the parser checks a byte with one load and a mask. Internal to core/src/http.
#pragma once

#include <array>
#include <cstdint>

namespace postern::http::chars {

inline constexpr std::uint8_t kToken = 0x01;   ///< tchar: field names, methods, codings
inline constexpr std::uint8_t kValue = 0x02;   ///< field-vchar / SP / HTAB (obs-text included)
inline constexpr std::uint8_t kTarget = 0x04;  ///< request-target: visible ASCII except '#'
inline constexpr std::uint8_t kHost = 0x08;    ///< uri-host [":" port], IP-literal brackets
inline constexpr std::uint8_t kHex = 0x10;

constexpr std::array<std::uint8_t, 256> makeTable() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        std::uint8_t f = 0;
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        if (alpha || digit) f |= kToken | kHost;
        switch (c) {
            case '!':
            case '#':
            case '$':
            case '%':
            case '&':
            case '\'':
            case '*':
            case '+':
            case '-':
            case '.':
            case '^':
            case '_':
            case '`':
            case '|':
            case '~':
                f |= kToken;
                break;
            default:
                break;
        }
        switch (c) {
            case '-':
            case '.':
            case '_':
            case '~':
            case '!':
            case '$':
            case '&':
            case '\'':
            case '(':
            case ')':
            case '*':
            case '+':
            case ',':
            case ';':
            case '=':
            case '%':
            case ':':
            case '[':
            case ']':
                f |= kHost;
                break;
            default:
                break;
        }
        if (c == '\t' || (c >= 0x20 && c != 0x7F)) f |= kValue;
        if (c >= 0x21 && c <= 0x7E && c != '#') f |= kTarget;
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHex;
        t[static_cast<std::size_t>(c)] = f;
    }
    return t;
}

inline constexpr std::array<std::uint8_t, 256> kTable = makeTable();

inline bool is(char c, std::uint8_t cls) {
    return (kTable[static_cast<unsigned char>(c)] & cls) != 0;
}
inline bool isOws(char c) { return c == ' ' || c == '\t'; }
inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace postern::http::chars
