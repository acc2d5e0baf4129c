// Byte classes of the HTTP grammar (RFC 9110 §5.6, RFC 9112, RFC 3986) as one 256-entry table, so
// the parser checks a byte with one load and a mask. Internal to core/src/http.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

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

// Eight bytes at a time (SWAR, "Bit Twiddling Hacks"): whether a word holds a byte below n
// (n <= 128), or a byte equal to b. Exact as booleans; the byte loop then finds which one.
inline constexpr std::uint64_t kOnes = 0x0101010101010101ull;
inline constexpr std::uint64_t kHighs = 0x8080808080808080ull;
inline std::uint64_t hasLess(std::uint64_t x, std::uint8_t n) {
    return (x - kOnes * n) & ~x & kHighs;
}
inline std::uint64_t hasByte(std::uint64_t x, std::uint8_t b) {
    return hasLess(x ^ (kOnes * b), 1);
}

/** The first byte in [p, end) that is not a field-value byte (kValue), or end. */
inline const char* skipValue(const char* p, const char* end) {
    for (;;) {
        while (end - p >= 8) {
            std::uint64_t x;
            std::memcpy(&x, p, 8);
            if ((hasLess(x, 0x20) | hasByte(x, 0x7F)) != 0) break;  // a CTL (HTAB too) or DEL
            p += 8;
        }
        const char* stop = end - p >= 8 ? p + 8 : end;
        for (; p < stop; ++p) {
            if (!is(*p, kValue)) return p;
        }
        if (p == end) return end;
    }
}

/** The first byte in [p, end) that is not a request-target byte (kTarget), or end. */
inline const char* skipTarget(const char* p, const char* end) {
    for (;;) {
        while (end - p >= 8) {
            std::uint64_t x;
            std::memcpy(&x, p, 8);
            if ((hasLess(x, 0x21) | (x & kHighs) | hasByte(x, 0x7F) | hasByte(x, '#')) != 0) break;
            p += 8;
        }
        const char* stop = end - p >= 8 ? p + 8 : end;
        for (; p < stop; ++p) {
            if (!is(*p, kTarget)) return p;
        }
        if (p == end) return end;
    }
}

}  // namespace postern::http::chars
