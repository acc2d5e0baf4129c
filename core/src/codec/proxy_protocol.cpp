#include "codec/proxy_protocol.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

#include "common/crc32c.h"

namespace postern::codec {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";

std::uint16_t readU16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t readU32(const std::uint8_t* p) {
    return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
           (static_cast<std::uint32_t>(p[2]) << 8) | static_cast<std::uint32_t>(p[3]);
}

// ---- addresses as the wire formats see them ----------------------------------------------------

struct Endpoint {
    bool v6 = false;
    std::uint8_t addr[16] = {};  ///< network order; the first 4 bytes when !v6
    std::uint16_t port = 0;      ///< host order
};

constexpr std::uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

bool toEndpoint(const net::SocketAddress& a, Endpoint* out) {
    if (a.family() == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(a.sockaddrPtr());
        std::memcpy(out->addr, &in->sin_addr, 4);
        out->v6 = false;
        out->port = ntohs(in->sin_port);
        return true;
    }
    if (a.family() == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.sockaddrPtr());
        std::memcpy(out->addr, &in6->sin6_addr, 16);
        out->port = ntohs(in6->sin6_port);
        out->v6 = std::memcmp(out->addr, kV4MappedPrefix, sizeof kV4MappedPrefix) != 0;
        // An IPv4 peer of a dual-stack socket: it is an IPv4 client.
        if (!out->v6) std::memmove(out->addr, out->addr + 12, 4);
        return true;
    }
    return false;
}

void mapToV6(Endpoint& e) {
    if (e.v6) return;
    std::memmove(e.addr + 12, e.addr, 4);
    std::memcpy(e.addr, kV4MappedPrefix, sizeof kV4MappedPrefix);
    e.v6 = true;
}

/** Both IPv4, or both IPv6 (an IPv6 end makes the pair IPv6). False unless both are IP. */
bool endpointPair(const net::SocketAddress& source, const net::SocketAddress& destination,
                  Endpoint* src, Endpoint* dst) {
    if (!toEndpoint(source, src) || !toEndpoint(destination, dst)) return false;
    if (src->v6 || dst->v6) {
        mapToV6(*src);
        mapToV6(*dst);
    }
    return true;
}

net::SocketAddress makeAddress(bool v6, const std::uint8_t* addr, std::uint16_t port) {
    if (v6) {
        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        std::memcpy(&in6.sin6_addr, addr, 16);
        in6.sin6_port = htons(port);
        return net::SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&in6),
                                                sizeof in6);
    }
    sockaddr_in in{};
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, addr, 4);
    in.sin_port = htons(port);
    return net::SocketAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&in), sizeof in);
}

// ---- text forms (v1) ---------------------------------------------------------------------------

/** Appends a decimal number; returns the new end. */
char* putDecimal(char* p, char* end, unsigned value) {
    auto r = std::to_chars(p, end, value);
    return r.ec == std::errc() ? r.ptr : end;
}

/** IPv4 dotted quad, or IPv6 per RFC 5952 (lower case, the longest run of two or more zero groups
 * as "::") but always in hexadecimal groups, never with a dotted IPv4 tail: the v1 grammar only
 * promises receivers "sets of 4 hexadecimal digits". Returns the length. `out` holds 40 bytes. */
std::size_t formatIp(const Endpoint& e, char* out) {
    char* p = out;
    char* end = out + 40;
    if (!e.v6) {
        for (int i = 0; i < 4; ++i) {
            if (i) *p++ = '.';
            p = putDecimal(p, end, e.addr[i]);
        }
        return static_cast<std::size_t>(p - out);
    }
    std::uint16_t groups[8];
    for (int i = 0; i < 8; ++i) groups[i] = readU16(e.addr + 2 * i);
    int best_start = -1;
    int best_len = 0;
    for (int i = 0; i < 8;) {
        if (groups[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && groups[j] == 0) ++j;
        if (j - i > best_len) {
            best_start = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2) best_start = -1;
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 8;) {
        if (i == best_start) {
            *p++ = ':';
            if (i == 0) *p++ = ':';
            i += best_len;
            continue;
        }
        std::uint16_t g = groups[i];
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned nibble = (g >> shift) & 0xFu;
            if (nibble || started || shift == 0) {
                *p++ = kHex[nibble];
                started = true;
            }
        }
        if (++i < 8) *p++ = ':';
    }
    return static_cast<std::size_t>(p - out);
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

/** Exactly four decimal numbers 0..255 separated by single dots, no leading zeros. */
bool parseIpv4(std::string_view s, std::uint8_t out[4]) {
    for (int part = 0; part < 4; ++part) {
        if (part) {
            if (s.empty() || s.front() != '.') return false;
            s.remove_prefix(1);
        }
        std::size_t n = 0;
        unsigned value = 0;
        while (n < s.size() && n < 4 && isDigit(s[n])) value = value * 10 + unsigned(s[n++] - '0');
        if (n == 0 || n > 3 || value > 255 || (n > 1 && s[0] == '0')) return false;
        out[part] = static_cast<std::uint8_t>(value);
        s.remove_prefix(n);
    }
    return s.empty();
}

bool parseIpv6(std::string_view s, std::uint8_t out[16]) {
    // inet_pton needs a terminated string; the longest textual IPv6 address is 45 characters.
    char text[46];
    if (s.empty() || s.size() >= sizeof text || s.find(':') == std::string_view::npos) return false;
    for (char c : s) {
        bool hex = isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!hex && c != ':' && c != '.') return false;  // no zone ids, no brackets
    }
    std::memcpy(text, s.data(), s.size());
    text[s.size()] = '\0';
    return inet_pton(AF_INET6, text, out) == 1;
}

enum class PortParse { Ok, Invalid, OutOfRange };

/** A decimal 0..65535 without leading zeros. */
PortParse parsePort(std::string_view s, std::uint16_t* out) {
    if (s.empty() || (s.size() > 1 && s[0] == '0')) return PortParse::Invalid;
    unsigned long value = 0;
    for (char c : s) {
        if (!isDigit(c)) return PortParse::Invalid;
        if (value <= 65535) value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value > 65535) return PortParse::OutOfRange;
    *out = static_cast<std::uint16_t>(value);
    return PortParse::Ok;
}

// ---- a bounded writer over the caller's buffer -------------------------------------------------

class Writer {
public:
    explicit Writer(std::span<char> out) : out_(out) {}
    void bytes(const void* data, std::size_t n) {
        if (!ok_ || n > out_.size() - pos_) {
            ok_ = false;
            return;
        }
        std::memcpy(out_.data() + pos_, data, n);
        pos_ += n;
    }
    void text(std::string_view s) { bytes(s.data(), s.size()); }
    void u8(std::uint8_t v) { bytes(&v, 1); }
    void u16(std::uint16_t v) {
        const std::uint8_t b[2] = {static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
        bytes(b, 2);
    }
    void u32(std::uint32_t v) {
        const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24),
                                   static_cast<std::uint8_t>(v >> 16),
                                   static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
        bytes(b, 4);
    }
    void tlv(std::uint8_t type, std::string_view value) {
        u8(type);
        u16(static_cast<std::uint16_t>(value.size()));
        text(value);
    }
    void patchU16(std::size_t at, std::uint16_t v) {
        out_[at] = static_cast<char>(v >> 8);
        out_[at + 1] = static_cast<char>(v & 0xFF);
    }
    void patchU32(std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
    }
    std::size_t pos() const { return pos_; }
    bool ok() const { return ok_; }
    std::span<const unsigned char> written() const {
        return {reinterpret_cast<const unsigned char*>(out_.data()), pos_};
    }

private:
    std::span<char> out_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

/** Appends an empty CRC32C TLV when asked, fixes the length field, then fills the CRC over the
 * whole header (its own field still zero, as the specification asks). */
std::size_t finishV2(Writer& w, bool crc32c) {
    std::size_t crc_at = 0;
    if (crc32c) {
        w.u8(pp2::kTypeCrc32c);
        w.u16(4);
        crc_at = w.pos();
        w.u32(0);
    }
    if (!w.ok() || w.pos() - pp2::kFixedLength > 0xFFFF) return 0;
    w.patchU16(14, static_cast<std::uint16_t>(w.pos() - pp2::kFixedLength));
    if (crc32c) w.patchU32(crc_at, common::crc32c(w.written()));
    return w.pos();
}

}  // namespace

// ---- encoders -----------------------------------------------------------------------------------

std::size_t writeProxyV1Unknown(std::span<char> out) {
    Writer w(out);
    w.text("PROXY UNKNOWN\r\n");
    return w.ok() ? w.pos() : 0;
}

std::size_t writeProxyV1(const net::SocketAddress& source, const net::SocketAddress& destination,
                         std::span<char> out) {
    Endpoint src, dst;
    if (!endpointPair(source, destination, &src, &dst)) return writeProxyV1Unknown(out);
    char text[40];
    char port[8];
    Writer w(out);
    w.text(src.v6 ? "PROXY TCP6 " : "PROXY TCP4 ");
    w.bytes(text, formatIp(src, text));
    w.u8(' ');
    w.bytes(text, formatIp(dst, text));
    w.u8(' ');
    w.bytes(port, static_cast<std::size_t>(putDecimal(port, port + sizeof port, src.port) - port));
    w.u8(' ');
    w.bytes(port, static_cast<std::size_t>(putDecimal(port, port + sizeof port, dst.port) - port));
    w.text("\r\n");
    return w.ok() ? w.pos() : 0;
}

std::size_t writeProxyV2(const net::SocketAddress& source, const net::SocketAddress& destination,
                         const ProxyV2Tlvs& tlvs, std::span<char> out) {
    if (tlvs.alpn.size() > 255 || tlvs.authority.size() > 255 ||
        tlvs.unique_id.size() > pp2::kMaxUniqueId)
        return 0;
    if (tlvs.ssl && (tlvs.ssl->version.size() > 64 || tlvs.ssl->cipher.size() > 64 ||
                     tlvs.ssl->common_name.size() > 64))
        return 0;
    Writer w(out);
    w.bytes(pp2::kSignature.data(), pp2::kSignature.size());
    w.u8(0x21);  // version 2, PROXY
    Endpoint src, dst;
    if (endpointPair(source, destination, &src, &dst)) {
        w.u8(src.v6 ? 0x21 : 0x11);  // AF_INET6 or AF_INET, STREAM
        w.u16(0);                    // length, fixed below
        const std::size_t n = src.v6 ? 16 : 4;
        w.bytes(src.addr, n);
        w.bytes(dst.addr, n);
        w.u16(src.port);
        w.u16(dst.port);
    } else {
        w.u8(0x00);  // AF_UNSPEC, UNSPEC: the receiver keeps the real endpoints
        w.u16(0);
    }
    if (!tlvs.alpn.empty()) w.tlv(pp2::kTypeAlpn, tlvs.alpn);
    if (!tlvs.authority.empty()) w.tlv(pp2::kTypeAuthority, tlvs.authority);
    if (!tlvs.unique_id.empty()) w.tlv(pp2::kTypeUniqueId, tlvs.unique_id);
    if (const ProxySslInfo* ssl = tlvs.ssl) {
        std::size_t length = 5;
        for (std::string_view s : {ssl->version, ssl->cipher, ssl->common_name})
            if (!s.empty()) length += 3 + s.size();
        w.u8(pp2::kTypeSsl);
        w.u16(static_cast<std::uint16_t>(length));
        w.u8(ssl->client);
        w.u32(ssl->verify);
        if (!ssl->version.empty()) w.tlv(pp2::kSubtypeSslVersion, ssl->version);
        if (!ssl->common_name.empty()) w.tlv(pp2::kSubtypeSslCn, ssl->common_name);
        if (!ssl->cipher.empty()) w.tlv(pp2::kSubtypeSslCipher, ssl->cipher);
    }
    return finishV2(w, tlvs.crc32c);
}

std::size_t writeProxyV2Local(std::span<char> out, bool crc32c) {
    Writer w(out);
    w.bytes(pp2::kSignature.data(), pp2::kSignature.size());
    w.u8(0x20);  // version 2, LOCAL
    w.u8(0x00);  // AF_UNSPEC, UNSPEC
    w.u16(0);
    return finishV2(w, crc32c);
}

// ---- parser -------------------------------------------------------------------------------------

ProxyHeaderParser::ProxyHeaderParser(std::size_t max_length)
    : max_length_(std::min(max_length, kMaxHeaderLength)) {}

void ProxyHeaderParser::reset() {
    mode_ = Mode::Detect;
    status_ = Status::NeedMore;
    reason_ = {};
    length_ = 0;
    v2_total_ = 0;
    info_ = ProxyHeaderInfo{};
}

ProxyHeaderParser::Result ProxyHeaderParser::done(std::size_t consumed) {
    status_ = Status::Done;
    return {Status::Done, consumed, {}};
}

ProxyHeaderParser::Result ProxyHeaderParser::invalid(std::string_view reason) {
    status_ = Status::Invalid;
    reason_ = reason;
    return {Status::Invalid, 0, reason};
}

ProxyHeaderParser::Result ProxyHeaderParser::feed(std::span<const std::uint8_t> bytes) {
    if (status_ == Status::Done) return {Status::Done, 0, {}};
    if (status_ == Status::Invalid) return {Status::Invalid, 0, reason_};
    if (bytes.empty()) return {Status::NeedMore, 0, {}};
    if (mode_ == Mode::Detect) {
        if (bytes[0] == static_cast<std::uint8_t>(kV1Prefix[0]))
            mode_ = Mode::V1;
        else if (bytes[0] == pp2::kSignature[0])
            mode_ = Mode::V2;
        else
            return invalid("not a PROXY protocol header");
    }
    return mode_ == Mode::V1 ? feedV1(bytes) : feedV2(bytes);
}

ProxyHeaderParser::Result ProxyHeaderParser::feedV1(std::span<const std::uint8_t> bytes) {
    const std::size_t limit = std::min(kV1MaxLength, max_length_);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const std::uint8_t c = bytes[i];
        if (length_ < kV1Prefix.size()) {
            if (c != static_cast<std::uint8_t>(kV1Prefix[length_]))
                return invalid("v1 header: does not start with \"PROXY \"");
        } else if (buf_[length_ - 1] == '\r') {
            if (c != '\n') return invalid("v1 header: CR not followed by LF");
        } else if (c == '\n') {
            return invalid("v1 header: line ends with a bare LF instead of CRLF");
        } else if (c != '\r' && (c < 0x20 || c > 0x7E)) {
            return invalid("v1 header: non-printable byte");
        }
        buf_[length_++] = c;
        if (c == '\n') {
            std::string_view why = parseV1Line();
            if (!why.empty()) return invalid(why);
            return done(i + 1);
        }
        if (length_ >= limit) return invalid("v1 header: no CRLF within 107 bytes");
    }
    return {Status::NeedMore, bytes.size(), {}};
}

std::string_view ProxyHeaderParser::parseV1Line() {
    // buf_ holds "PROXY " ... "\r\n", printable in between.
    std::string_view rest(reinterpret_cast<const char*>(buf_.data()) + kV1Prefix.size(),
                          length_ - kV1Prefix.size() - 2);
    info_ = ProxyHeaderInfo{};
    info_.version = ProxyVersion::V1;
    info_.header_length = length_;
    if (rest == "UNKNOWN" || rest.starts_with("UNKNOWN ")) {
        info_.command = ProxyCommand::Local;  // the rest of the line is ignored, as specified
        return {};
    }
    bool v6 = false;
    if (rest.starts_with("TCP6 ") || rest == "TCP6") {
        v6 = true;
    } else if (!rest.starts_with("TCP4 ") && rest != "TCP4") {
        return "v1 header: unknown protocol (expected TCP4, TCP6 or UNKNOWN)";
    }
    if (rest.size() == 4) return "v1 header: too few fields";
    rest.remove_prefix(5);

    std::string_view fields[4];
    std::size_t count = 0;
    for (;;) {
        const std::size_t space = rest.find(' ');
        const std::string_view field = rest.substr(0, space);
        if (field.empty()) return "v1 header: empty field (fields are separated by one space)";
        if (count == 4) return "v1 header: too many fields";
        fields[count++] = field;
        if (space == std::string_view::npos) break;
        rest.remove_prefix(space + 1);
    }
    if (count < 4) return "v1 header: too few fields";

    std::uint8_t addr[2][16] = {};
    for (int which = 0; which < 2; ++which) {
        const std::string_view text = fields[which];
        bool ok = v6 ? parseIpv6(text, addr[which]) : parseIpv4(text, addr[which]);
        if (ok) continue;
        std::uint8_t other[16];
        if (!v6 && parseIpv6(text, other))
            return "v1 header: address family mismatch (TCP4 with an IPv6 address)";
        if (v6 && parseIpv4(text, other))
            return "v1 header: address family mismatch (TCP6 with an IPv4 address)";
        return which == 0 ? "v1 header: invalid source address"
                          : "v1 header: invalid destination address";
    }
    std::uint16_t port[2] = {0, 0};
    for (int which = 0; which < 2; ++which) {
        switch (parsePort(fields[2 + which], &port[which])) {
            case PortParse::Ok:
                break;
            case PortParse::Invalid:
                return which == 0 ? "v1 header: invalid source port"
                                  : "v1 header: invalid destination port";
            case PortParse::OutOfRange:
                return which == 0 ? "v1 header: source port out of range"
                                  : "v1 header: destination port out of range";
        }
    }
    info_.command = ProxyCommand::Proxy;
    info_.source = makeAddress(v6, addr[0], port[0]);
    info_.destination = makeAddress(v6, addr[1], port[1]);
    return {};
}

ProxyHeaderParser::Result ProxyHeaderParser::feedV2(std::span<const std::uint8_t> bytes) {
    std::size_t i = 0;
    auto complete = [this] { return length_ >= pp2::kFixedLength && length_ == v2_total_; };
    while (i < bytes.size() && !complete()) {
        if (length_ < pp2::kFixedLength) {
            const std::uint8_t c = bytes[i];
            if (length_ < pp2::kSignature.size()) {
                if (c != pp2::kSignature[length_]) return invalid("v2 header: bad signature");
            } else if (length_ == 12) {
                if ((c >> 4) != 2) return invalid("v2 header: unsupported version (not 2)");
                if ((c & 0x0F) > 1) return invalid("v2 header: unknown command");
            } else if (length_ == 13) {
                if ((c >> 4) > 3) return invalid("v2 header: unknown address family");
                if ((c & 0x0F) > 2) return invalid("v2 header: unknown transport protocol");
            }
            buf_[length_++] = c;
            ++i;
            if (length_ == pp2::kFixedLength) {
                v2_total_ = pp2::kFixedLength + readU16(buf_.data() + 14);
                if (v2_total_ > max_length_) return invalid("v2 header: longer than the limit");
            }
            continue;
        }
        const std::size_t take = std::min(bytes.size() - i, v2_total_ - length_);
        std::memcpy(buf_.data() + length_, bytes.data() + i, take);
        length_ += take;
        i += take;
    }
    if (!complete()) return {Status::NeedMore, bytes.size(), {}};
    std::string_view why = parseV2();
    if (!why.empty()) return invalid(why);
    return done(i);
}

std::string_view ProxyHeaderParser::parseV2() {
    info_ = ProxyHeaderInfo{};
    info_.version = ProxyVersion::V2;
    info_.header_length = v2_total_;
    const bool proxy = (buf_[12] & 0x0F) == 1;
    const unsigned family = buf_[13] >> 4;
    const unsigned transport = buf_[13] & 0x0F;
    info_.command = proxy ? ProxyCommand::Proxy : ProxyCommand::Local;
    const std::size_t block = v2_total_ - pp2::kFixedLength;
    const std::size_t needed = family == 1 ? 12 : family == 2 ? 36 : family == 3 ? 216 : 0;
    std::size_t tlv_begin = pp2::kFixedLength + needed;
    if (block < needed) {
        if (proxy) return "v2 header: address block shorter than its family needs";
        tlv_begin = v2_total_;  // LOCAL: the block is ignored whatever it holds
    }
    // Only TCP/UDP over IPv4/IPv6 carry addresses we can use; anything else (UNSPEC, AF_UNIX)
    // leaves the real endpoints in place, as the specification allows.
    if (proxy && transport != 0 && (family == 1 || family == 2)) {
        const bool v6 = family == 2;
        const std::size_t n = v6 ? 16 : 4;
        const std::uint8_t* a = buf_.data() + pp2::kFixedLength;
        info_.source = makeAddress(v6, a, readU16(a + 2 * n));
        info_.destination = makeAddress(v6, a + n, readU16(a + 2 * n + 2));
    }
    return parseTlvs(tlv_begin, v2_total_);
}

std::string_view ProxyHeaderParser::parseTlvs(std::size_t begin, std::size_t end) {
    std::size_t crc_at = 0;
    for (std::size_t p = begin; p < end;) {
        if (end - p < 3) return "v2 header: truncated TLV";
        const std::uint8_t type = buf_[p];
        const std::size_t length = readU16(buf_.data() + p + 1);
        const std::size_t value = p + 3;
        if (length > end - value) return "v2 header: TLV runs past the header";
        const std::string_view text(reinterpret_cast<const char*>(buf_.data()) + value, length);
        switch (type) {
            case pp2::kTypeAlpn:
                info_.alpn = text;
                break;
            case pp2::kTypeAuthority:
                info_.authority = text;
                break;
            case pp2::kTypeCrc32c:
                if (length != 4) return "v2 header: CRC32C TLV is not 4 bytes";
                if (info_.has_crc32c) return "v2 header: more than one CRC32C TLV";
                info_.has_crc32c = true;
                crc_at = value;
                break;
            case pp2::kTypeUniqueId:
                if (length > pp2::kMaxUniqueId) return "v2 header: UNIQUE_ID longer than 128 bytes";
                info_.unique_id = text;
                break;
            case pp2::kTypeSsl:
                if (auto why = parseSsl(value, value + length); !why.empty()) return why;
                break;
            default:
                break;  // NOOP, NETNS, vendor and future types: skipped, as allowed
        }
        p = value + length;
    }
    if (info_.has_crc32c) {
        static constexpr unsigned char kZero[4] = {0, 0, 0, 0};
        std::uint32_t state = common::crc32cUpdate(common::kCrc32cInit, {buf_.data(), crc_at});
        state = common::crc32cUpdate(state, kZero);
        state = common::crc32cUpdate(state, {buf_.data() + crc_at + 4, end - crc_at - 4});
        if (common::crc32cFinish(state) != readU32(buf_.data() + crc_at))
            return "v2 header: CRC32C mismatch";
    }
    return {};
}

std::string_view ProxyHeaderParser::parseSsl(std::size_t begin, std::size_t end) {
    if (end - begin < 5) return "v2 header: SSL TLV shorter than 5 bytes";
    info_.has_ssl = true;
    info_.ssl.client = buf_[begin];
    info_.ssl.verify = readU32(buf_.data() + begin + 1);
    for (std::size_t p = begin + 5; p < end;) {
        if (end - p < 3) return "v2 header: truncated SSL sub-TLV";
        const std::uint8_t type = buf_[p];
        const std::size_t length = readU16(buf_.data() + p + 1);
        const std::size_t value = p + 3;
        if (length > end - value) return "v2 header: SSL sub-TLV runs past its TLV";
        const std::string_view text(reinterpret_cast<const char*>(buf_.data()) + value, length);
        switch (type) {
            case pp2::kSubtypeSslVersion:
                info_.ssl.version = text;
                break;
            case pp2::kSubtypeSslCn:
                info_.ssl.common_name = text;
                break;
            case pp2::kSubtypeSslCipher:
                info_.ssl.cipher = text;
                break;
            case pp2::kSubtypeSslSigAlg:
                info_.ssl.sig_alg = text;
                break;
            case pp2::kSubtypeSslKeyAlg:
                info_.ssl.key_alg = text;
                break;
            default:
                break;
        }
        p = value + length;
    }
    return {};
}

}  // namespace postern::codec
