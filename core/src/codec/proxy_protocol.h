// The PROXY protocol, versions 1 and 2 (HAProxy's doc/proxy-protocol.txt): the header a proxy puts
// in front of a relayed connection so that the next hop learns who the client really is.
//
// Encoders write one complete header into a caller's buffer. ProxyHeaderParser decodes an
// incoming header incrementally, as bytes arrive, and says exactly how many of them belong to the
// header so that everything after it stays client payload. Pure code: no I/O, no allocation, no
// exceptions. Any thread; a parser instance belongs to one connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "net/socket_address.h"

namespace postern::codec {

/** Wire constants of version 2 (type codes as registered in the specification). */
namespace pp2 {
inline constexpr std::array<unsigned char, 12> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                             0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
inline constexpr std::size_t kFixedLength = 16;  ///< signature, ver|cmd, fam|proto, length

inline constexpr std::uint8_t kTypeAlpn = 0x01;
inline constexpr std::uint8_t kTypeAuthority = 0x02;
inline constexpr std::uint8_t kTypeCrc32c = 0x03;
inline constexpr std::uint8_t kTypeNoop = 0x04;
inline constexpr std::uint8_t kTypeUniqueId = 0x05;
inline constexpr std::uint8_t kTypeSsl = 0x20;
inline constexpr std::uint8_t kSubtypeSslVersion = 0x21;
inline constexpr std::uint8_t kSubtypeSslCn = 0x22;
inline constexpr std::uint8_t kSubtypeSslCipher = 0x23;
inline constexpr std::uint8_t kSubtypeSslSigAlg = 0x24;
inline constexpr std::uint8_t kSubtypeSslKeyAlg = 0x25;

inline constexpr std::uint8_t kClientSsl = 0x01;       ///< the client connected over TLS
inline constexpr std::uint8_t kClientCertConn = 0x02;  ///< it sent a certificate on this connection
inline constexpr std::uint8_t kClientCertSess = 0x04;  ///< ... at least once in this TLS session

inline constexpr std::size_t kMaxUniqueId = 128;  ///< the specification's limit
}  // namespace pp2

/** "PROXY UNKNOWN ffff:...:ffff ffff:...:ffff 65535 65535\r\n": the longest valid v1 line. */
inline constexpr std::size_t kV1MaxLength = 107;
/** Largest header the parser accepts. A v2 length field may announce up to 65535 bytes, but both
 * formats are meant to fit one 536-byte segment; 2 KiB leaves room for vendor TLVs (cloud load
 * balancers add a few dozen bytes) while bounding what one unauthenticated peer can make us hold.
 */
inline constexpr std::size_t kMaxHeaderLength = 2048;
/** Room the encoders need at most, with every TLV at its limit (see ProxyV2Tlvs). */
inline constexpr std::size_t kMaxEncodedLength = 1024;

enum class ProxyVersion : std::uint8_t { V1 = 1, V2 = 2 };
/** Local: use the real connection's endpoints (v2 LOCAL, v1 UNKNOWN). Proxy: relayed on behalf of
 * the client the header names. */
enum class ProxyCommand : std::uint8_t { Local, Proxy };

/** The PP2_TYPE_SSL TLV: how the client reached the sending proxy. Views, not copies. */
struct ProxySslInfo {
    std::uint8_t client = 0;       ///< pp2::kClient* bits
    std::uint32_t verify = 0;      ///< 0 = the client certificate was presented and verified
    std::string_view version;      ///< "TLSv1.3"
    std::string_view cipher;       ///< "TLS_AES_128_GCM_SHA256"
    std::string_view common_name;  ///< of the client certificate (decoded; sent when non-empty)
    std::string_view sig_alg;      ///< decoded only
    std::string_view key_alg;      ///< decoded only
};

/** What a decoded header carries. The string views point into the parser that produced it and
 * stay valid as long as that parser lives and is not reset. */
struct ProxyHeaderInfo {
    ProxyVersion version = ProxyVersion::V1;
    ProxyCommand command = ProxyCommand::Local;
    /** The original client and the address it connected to, when the header carries TCP or UDP
     * over IPv4/IPv6 with the PROXY command; otherwise family AF_UNSPEC: use the real endpoints. */
    net::SocketAddress source;
    net::SocketAddress destination;
    std::size_t header_length = 0;  ///< bytes of the stream the header took
    // v2 TLVs (empty when absent).
    std::string_view alpn;
    std::string_view authority;  ///< the SNI the client sent to the previous proxy
    std::string_view unique_id;
    bool has_ssl = false;
    ProxySslInfo ssl;
    bool has_crc32c = false;  ///< a CRC32C TLV was present (and matched: a mismatch is Invalid)

    bool carriesAddresses() const { return source.family() != AF_UNSPEC; }
};

/** Incremental decoder of one incoming header, v1 or v2 (told apart by the first byte). It
 * rejects as early as the bytes allow (a wrong signature is Invalid at its first wrong byte) and
 * never takes a byte past the header. Reasons are static strings. */
class ProxyHeaderParser {
public:
    enum class Status : std::uint8_t { NeedMore, Done, Invalid };
    struct Result {
        Status status = Status::NeedMore;
        /** Bytes of the span just fed that belong to the header: all of them for NeedMore, the
         * header's tail for Done (the rest of the span is payload), 0 for Invalid. */
        std::size_t consumed = 0;
        std::string_view reason;  ///< Invalid only
    };

    /** `max_length` (clamped to kMaxHeaderLength) bounds the whole header; v1 lines are always
     * bounded by kV1MaxLength. */
    explicit ProxyHeaderParser(std::size_t max_length = kMaxHeaderLength);

    /** Feeds the next bytes of the stream. After Done or Invalid the result does not change and
     * no further byte is taken (Done then reports consumed = 0). */
    Result feed(std::span<const std::uint8_t> bytes);
    Result feed(std::string_view bytes) {
        return feed(std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    }

    /** The decoded header; meaningful after Done. */
    const ProxyHeaderInfo& info() const { return info_; }
    /** Bytes held so far (the header's prefix). */
    std::size_t buffered() const { return length_; }
    /** Forgets everything, ready for another stream. */
    void reset();

private:
    Result done(std::size_t consumed);
    Result invalid(std::string_view reason);
    Result feedV1(std::span<const std::uint8_t> bytes);
    Result feedV2(std::span<const std::uint8_t> bytes);
    std::string_view parseV1Line();
    std::string_view parseV2();
    std::string_view parseTlvs(std::size_t begin, std::size_t end);
    std::string_view parseSsl(std::size_t begin, std::size_t end);

    enum class Mode : std::uint8_t { Detect, V1, V2 };
    Mode mode_ = Mode::Detect;
    Status status_ = Status::NeedMore;
    std::string_view reason_;
    std::size_t max_length_;
    std::size_t length_ = 0;
    std::size_t v2_total_ = 0;  ///< whole v2 header length, once the fixed part is in
    ProxyHeaderInfo info_;
    std::array<std::uint8_t, kMaxHeaderLength> buf_;
};

// ---- encoders -----------------------------------------------------------------------------------
// Addresses: a v4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket reports an IPv4
// peer) counts as IPv4. When both ends are IPv4 the header is TCP4 / AF_INET; otherwise it is
// TCP6 / AF_INET6, an IPv4 end written v4-mapped, so an IPv6 client keeps an IPv6 header even
// when the other end is IPv4. Each encoder returns the bytes written, or 0 when `out` is too small
// (kMaxEncodedLength is always enough) or a TLV is over its limit.

/** "PROXY TCP4 <src> <dst> <sport> <dport>\r\n" (TCP6 as above); "PROXY UNKNOWN\r\n" when either
 * address is not IPv4/IPv6. */
std::size_t writeProxyV1(const net::SocketAddress& source, const net::SocketAddress& destination,
                         std::span<char> out);
/** "PROXY UNKNOWN\r\n": health checks and connections with no client to describe. */
std::size_t writeProxyV1Unknown(std::span<char> out);

/** Optional v2 TLVs; empty views are not sent. Limits: alpn and authority 255 bytes each (an ALPN
 * protocol id and a DNS name are never longer), unique_id 128 (the specification's), the SSL
 * strings 64 each (cipher names are under 32; X.520 caps a common name at 64). */
struct ProxyV2Tlvs {
    std::string_view alpn;              ///< PP2_TYPE_ALPN: the negotiated protocol
    std::string_view authority;         ///< PP2_TYPE_AUTHORITY: the client's SNI
    std::string_view unique_id;         ///< PP2_TYPE_UNIQUE_ID
    const ProxySslInfo* ssl = nullptr;  ///< PP2_TYPE_SSL with VERSION / CIPHER / CN sub-TLVs
    bool crc32c = false;                ///< append PP2_TYPE_CRC32C over the whole header
};

/** v2 PROXY command, STREAM over AF_INET / AF_INET6 (AF_UNSPEC with no addresses when either
 * address is not IPv4/IPv6), then the TLVs. */
std::size_t writeProxyV2(const net::SocketAddress& source, const net::SocketAddress& destination,
                         const ProxyV2Tlvs& tlvs, std::span<char> out);
/** v2 LOCAL command, AF_UNSPEC, no addresses: health checks. */
std::size_t writeProxyV2Local(std::span<char> out, bool crc32c = false);

}  // namespace postern::codec
