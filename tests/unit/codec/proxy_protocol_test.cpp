#include "codec/proxy_protocol.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "common/crc32c.h"

using postern::net::SocketAddress;
using postern::codec::kMaxEncodedLength;
using postern::codec::ProxyCommand;
using postern::codec::ProxyHeaderParser;
using postern::codec::ProxySslInfo;
using postern::codec::ProxyV2Tlvs;
using postern::codec::ProxyVersion;
using postern::codec::writeProxyV1;
using postern::codec::writeProxyV1Unknown;
using postern::codec::writeProxyV2;
using postern::codec::writeProxyV2Local;
namespace pp2 = postern::codec::pp2;
using Status = ProxyHeaderParser::Status;

namespace {

SocketAddress addr(const char* ip, std::uint16_t port) {
    auto a = SocketAddress::fromIp(ip, port);
    EXPECT_TRUE(a) << ip;
    return a ? *a : SocketAddress{};
}

std::string v1(const SocketAddress& src, const SocketAddress& dst) {
    std::array<char, kMaxEncodedLength> out;
    std::size_t n = writeProxyV1(src, dst, out);
    EXPECT_GT(n, 0u);
    return std::string(out.data(), n);
}

std::string v2(const SocketAddress& src, const SocketAddress& dst, const ProxyV2Tlvs& tlvs = {}) {
    std::array<char, kMaxEncodedLength> out;
    std::size_t n = writeProxyV2(src, dst, tlvs, out);
    EXPECT_GT(n, 0u);
    return std::string(out.data(), n);
}

std::string v2Local(bool crc = false) {
    std::array<char, kMaxEncodedLength> out;
    std::size_t n = writeProxyV2Local(out, crc);
    EXPECT_GT(n, 0u);
    return std::string(out.data(), n);
}

std::string signature() {
    return std::string(reinterpret_cast<const char*>(pp2::kSignature.data()),
                       pp2::kSignature.size());
}

/** A v2 header assembled by hand, independently of the encoder. */
std::string rawV2(std::uint8_t ver_cmd, std::uint8_t fam, const std::string& body) {
    std::string h = signature();
    h += static_cast<char>(ver_cmd);
    h += static_cast<char>(fam);
    h += static_cast<char>(body.size() >> 8);
    h += static_cast<char>(body.size() & 0xFF);
    return h + body;
}

std::string tlv(std::uint8_t type, const std::string& value) {
    std::string t;
    t += static_cast<char>(type);
    t += static_cast<char>(value.size() >> 8);
    t += static_cast<char>(value.size() & 0xFF);
    return t + value;
}

std::string bytes(std::initializer_list<unsigned> list) {
    std::string s;
    for (unsigned b : list) s += static_cast<char>(b);
    return s;
}

std::uint16_t u16At(const std::string& s, std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                      static_cast<unsigned char>(s[at + 1]));
}

/** Feeds everything at once and expects Invalid with `reason`. */
void expectInvalid(const std::string& input, std::string_view reason,
                   std::size_t max_length = postern::codec::kMaxHeaderLength) {
    ProxyHeaderParser p(max_length);
    auto r = p.feed(input);
    EXPECT_EQ(r.status, Status::Invalid) << "input: " << testing::PrintToString(input);
    EXPECT_EQ(r.reason, reason) << "input: " << testing::PrintToString(input);
    EXPECT_EQ(r.consumed, 0u);
    // Also when the same bytes arrive one at a time.
    ProxyHeaderParser q(max_length);
    ProxyHeaderParser::Result last;
    for (std::size_t i = 0; i < input.size() && last.status == Status::NeedMore; ++i)
        last = q.feed(std::string_view(input).substr(i, 1));
    EXPECT_EQ(last.status, Status::Invalid) << "byte by byte: " << testing::PrintToString(input);
    EXPECT_EQ(last.reason, reason) << "byte by byte: " << testing::PrintToString(input);
}

/** Feeds `header + payload`, expects Done with exactly the header consumed. */
const postern::codec::ProxyHeaderInfo& expectDone(ProxyHeaderParser& p, const std::string& header,
                                                  const std::string& payload = "payload") {
    const std::string stream = header + payload;
    auto r = p.feed(stream);
    EXPECT_EQ(r.status, Status::Done) << r.reason;
    EXPECT_EQ(r.consumed, header.size());
    EXPECT_EQ(p.info().header_length, header.size());
    return p.info();
}

}  // namespace

// ---- v1 encoder -------------------------------------------------------------------------------

TEST(ProxyV1Encode, ExactIpv4Line) {
    EXPECT_EQ(v1(addr("127.0.0.4", 50123), addr("127.0.0.1", 8080)),
              "PROXY TCP4 127.0.0.4 127.0.0.1 50123 8080\r\n");
    EXPECT_EQ(v1(addr("255.255.255.255", 65535), addr("0.0.0.0", 0)),
              "PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n");
}

TEST(ProxyV1Encode, ExactIpv6Line) {
    EXPECT_EQ(v1(addr("::1", 40000), addr("::1", 443)), "PROXY TCP6 ::1 ::1 40000 443\r\n");
    EXPECT_EQ(v1(addr("2001:db8::a", 1), addr("2001:DB8:0:0:1:0:0:1", 2)),
              "PROXY TCP6 2001:db8::a 2001:db8::1:0:0:1 1 2\r\n");
}

TEST(ProxyV1Encode, Ipv6ClientToIpv4DestinationStaysTcp6) {
    EXPECT_EQ(v1(addr("::1", 40000), addr("127.0.0.1", 80)),
              "PROXY TCP6 ::1 ::ffff:7f00:1 40000 80\r\n");
    EXPECT_EQ(v1(addr("10.0.0.1", 40000), addr("2001:db8::1", 80)),
              "PROXY TCP6 ::ffff:a00:1 2001:db8::1 40000 80\r\n");
}

TEST(ProxyV1Encode, DualStackIpv4PeerIsTcp4) {
    // What an IPv4 client of a [::] listener looks like to accept()/getsockname().
    EXPECT_EQ(v1(addr("::ffff:192.0.2.7", 5000), addr("::ffff:192.0.2.1", 80)),
              "PROXY TCP4 192.0.2.7 192.0.2.1 5000 80\r\n");
}

TEST(ProxyV1Encode, Rfc5952Formatting) {
    const SocketAddress lo = addr("127.0.0.1", 1);
    auto text = [&](const char* ip) {
        std::string line = v1(addr(ip, 1), lo);
        return line.substr(11, line.find(' ', 11) - 11);
    };
    EXPECT_EQ(text("::"), "::");
    EXPECT_EQ(text("1::"), "1::");
    EXPECT_EQ(text("1:0:0:2:0:0:0:3"), "1:0:0:2::3");                 // the longest run
    EXPECT_EQ(text("1:0:0:2:3:0:0:4"), "1::2:3:0:0:4");               // the first of equal runs
    EXPECT_EQ(text("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");  // one zero: kept
    EXPECT_EQ(text("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    EXPECT_EQ(text("0:0:0:0:0:0:0:1"), "::1");
    EXPECT_EQ(text("fe80::0123:4567"), "fe80::123:4567");
}

TEST(ProxyV1Encode, LongestLineFits) {
    std::string line = v1(addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
                          addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535));
    EXPECT_EQ(line.size(), 104u);
}

TEST(ProxyV1Encode, UnknownWhenNoAddress) {
    EXPECT_EQ(v1(SocketAddress{}, addr("127.0.0.1", 80)), "PROXY UNKNOWN\r\n");
    std::array<char, 32> out;
    ASSERT_EQ(writeProxyV1Unknown(out), 15u);
    EXPECT_EQ(std::string(out.data(), 15), "PROXY UNKNOWN\r\n");
}

TEST(ProxyV1Encode, TooSmallBufferWritesNothing) {
    std::array<char, 20> small;
    EXPECT_EQ(writeProxyV1(addr("127.0.0.4", 1), addr("127.0.0.1", 2), small), 0u);
    EXPECT_EQ(writeProxyV1Unknown(std::span<char>(small.data(), 14)), 0u);
}

// ---- v2 encoder -------------------------------------------------------------------------------

TEST(ProxyV2Encode, Ipv4FieldByField) {
    const std::string h = v2(addr("192.0.2.7", 0x1234), addr("198.51.100.1", 443));
    ASSERT_EQ(h.size(), 28u);
    EXPECT_EQ(h.substr(0, 12), signature());
    EXPECT_EQ(static_cast<unsigned char>(h[12]), 0x21);  // version 2, PROXY
    EXPECT_EQ(static_cast<unsigned char>(h[13]), 0x11);  // AF_INET, STREAM
    EXPECT_EQ(u16At(h, 14), 12);
    EXPECT_EQ(h.substr(16, 4), bytes({192, 0, 2, 7}));
    EXPECT_EQ(h.substr(20, 4), bytes({198, 51, 100, 1}));
    EXPECT_EQ(u16At(h, 24), 0x1234);
    EXPECT_EQ(u16At(h, 26), 443);
}

TEST(ProxyV2Encode, Ipv6FieldByField) {
    const std::string h = v2(addr("2001:db8::7", 50000), addr("127.0.0.1", 80));
    ASSERT_EQ(h.size(), 52u);
    EXPECT_EQ(static_cast<unsigned char>(h[13]), 0x21);  // AF_INET6, STREAM
    EXPECT_EQ(u16At(h, 14), 36);
    EXPECT_EQ(h.substr(16, 16),
              bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}));
    // An IPv4 end of an IPv6 pair is v4-mapped.
    EXPECT_EQ(h.substr(32, 16), bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1}));
    EXPECT_EQ(u16At(h, 48), 50000);
    EXPECT_EQ(u16At(h, 50), 80);
}

TEST(ProxyV2Encode, TlvsFieldByField) {
    ProxySslInfo ssl;
    ssl.client = pp2::kClientSsl | pp2::kClientCertConn;
    ssl.verify = 0;
    ssl.version = "TLSv1.3";
    ssl.cipher = "TLS_AES_128_GCM_SHA256";
    ProxyV2Tlvs tlvs;
    tlvs.alpn = "h2";
    tlvs.authority = "mqtt.example.com";
    tlvs.unique_id = "0123456789abcdef";
    tlvs.ssl = &ssl;
    const std::string h = v2(addr("10.0.0.1", 1), addr("10.0.0.2", 2), tlvs);
    std::size_t p = 28;
    EXPECT_EQ(h.substr(p, 5), tlv(pp2::kTypeAlpn, "h2"));
    p += 5;
    EXPECT_EQ(h.substr(p, 19), tlv(pp2::kTypeAuthority, "mqtt.example.com"));
    p += 19;
    EXPECT_EQ(h.substr(p, 19), tlv(pp2::kTypeUniqueId, "0123456789abcdef"));
    p += 19;
    const std::string ssl_value = bytes({0x03, 0, 0, 0, 0}) +
                                  tlv(pp2::kSubtypeSslVersion, "TLSv1.3") +
                                  tlv(pp2::kSubtypeSslCipher, "TLS_AES_128_GCM_SHA256");
    EXPECT_EQ(h.substr(p), tlv(pp2::kTypeSsl, ssl_value));
    EXPECT_EQ(u16At(h, 14), h.size() - 16);
}

TEST(ProxyV2Encode, Crc32cCoversWholeHeader) {
    ProxyV2Tlvs tlvs;
    tlvs.authority = "example.com";
    tlvs.crc32c = true;
    std::string h = v2(addr("10.0.0.1", 1), addr("10.0.0.2", 2), tlvs);
    // The CRC TLV is last: type 3, length 4, value.
    const std::size_t at = h.size() - 7;
    ASSERT_EQ(h.substr(at, 3), bytes({0x03, 0x00, 0x04}));
    const std::uint32_t stored = (std::uint32_t(static_cast<unsigned char>(h[at + 3])) << 24) |
                                 (std::uint32_t(static_cast<unsigned char>(h[at + 4])) << 16) |
                                 (std::uint32_t(static_cast<unsigned char>(h[at + 5])) << 8) |
                                 std::uint32_t(static_cast<unsigned char>(h[at + 6]));
    std::string zeroed = h;
    std::memset(zeroed.data() + at + 3, 0, 4);
    EXPECT_EQ(stored, postern::common::crc32c(std::span<const unsigned char>(
                          reinterpret_cast<const unsigned char*>(zeroed.data()), zeroed.size())));
    EXPECT_NE(stored, 0u);
}

TEST(ProxyV2Encode, LocalHeader) {
    EXPECT_EQ(v2Local(), signature() + bytes({0x20, 0x00, 0x00, 0x00}));
    const std::string with_crc = v2Local(true);
    ASSERT_EQ(with_crc.size(), 23u);
    EXPECT_EQ(u16At(with_crc, 14), 7);
    ProxyHeaderParser p;
    const auto& info = expectDone(p, with_crc);
    EXPECT_EQ(info.command, ProxyCommand::Local);
    EXPECT_TRUE(info.has_crc32c);
}

TEST(ProxyV2Encode, UnspecWhenNoAddress) {
    const std::string h = v2(SocketAddress{}, addr("127.0.0.1", 80));
    EXPECT_EQ(h, signature() + bytes({0x21, 0x00, 0x00, 0x00}));
}

TEST(ProxyV2Encode, RejectsOversizedTlvsAndSmallBuffers) {
    std::array<char, kMaxEncodedLength> out;
    const SocketAddress a = addr("10.0.0.1", 1);
    ProxyV2Tlvs tlvs;
    std::string long_id(129, 'x');
    tlvs.unique_id = long_id;
    EXPECT_EQ(writeProxyV2(a, a, tlvs, out), 0u);
    tlvs.unique_id = std::string_view(long_id).substr(0, 128);
    EXPECT_GT(writeProxyV2(a, a, tlvs, out), 0u);
    std::string long_name(256, 'n');
    tlvs.authority = long_name;
    EXPECT_EQ(writeProxyV2(a, a, tlvs, out), 0u);
    tlvs.authority = {};
    EXPECT_EQ(writeProxyV2(a, a, tlvs, std::span<char>(out.data(), 27)), 0u);
    EXPECT_EQ(writeProxyV2Local(std::span<char>(out.data(), 15)), 0u);
}

TEST(ProxyV2Encode, EverythingAtItsLimitFits) {
    const std::string max255(255, 'a');
    const std::string max128(128, 'u');
    const std::string max64(64, 's');
    ProxySslInfo ssl{pp2::kClientSsl, 1, max64, max64, max64, {}, {}};
    ProxyV2Tlvs tlvs{max255, max255, max128, &ssl, true};
    std::array<char, kMaxEncodedLength> out;
    const std::size_t n = writeProxyV2(addr("::1", 1), addr("::1", 2), tlvs, out);
    ASSERT_GT(n, 0u);
    ProxyHeaderParser p;
    const auto& info = expectDone(p, std::string(out.data(), n));
    EXPECT_EQ(info.alpn, max255);
    EXPECT_EQ(info.ssl.common_name, max64);
}

// ---- decoder: valid headers ---------------------------------------------------------------------

TEST(ProxyDecode, V1Ipv4) {
    ProxyHeaderParser p;
    const auto& info = expectDone(p, "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n");
    EXPECT_EQ(info.version, ProxyVersion::V1);
    EXPECT_EQ(info.command, ProxyCommand::Proxy);
    ASSERT_TRUE(info.carriesAddresses());
    EXPECT_EQ(info.source.toString(), "192.0.2.7:56324");
    EXPECT_EQ(info.destination.toString(), "198.51.100.1:443");
    EXPECT_EQ(info.source.family(), AF_INET);
}

TEST(ProxyDecode, V1Ipv6) {
    ProxyHeaderParser p;
    const auto& info = expectDone(p, "PROXY TCP6 2001:DB8::7 ::1 0 65535\r\n");
    EXPECT_EQ(info.source.toString(), "[2001:db8::7]:0");
    EXPECT_EQ(info.destination.toString(), "[::1]:65535");
    EXPECT_EQ(info.source.family(), AF_INET6);
}

TEST(ProxyDecode, V1Unknown) {
    ProxyHeaderParser p;
    const auto& info = expectDone(p, "PROXY UNKNOWN\r\n");
    EXPECT_EQ(info.command, ProxyCommand::Local);
    EXPECT_FALSE(info.carriesAddresses());
    // The long form: everything after UNKNOWN is ignored, up to the 107-byte maximum.
    const std::string longest =
        "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    ASSERT_EQ(longest.size(), 107u);
    ProxyHeaderParser q;
    EXPECT_EQ(expectDone(q, longest).command, ProxyCommand::Local);
}

TEST(ProxyDecode, V2Ipv4HandBuilt) {
    const std::string body = bytes({192, 0, 2, 7, 198, 51, 100, 1, 0xDC, 0x04, 0x01, 0xBB}) +
                             tlv(pp2::kTypeNoop, "pad") + tlv(0xE0, "vendor") +
                             tlv(pp2::kTypeAuthority, "db.example");
    ProxyHeaderParser p;
    const auto& info = expectDone(p, rawV2(0x21, 0x11, body));
    EXPECT_EQ(info.version, ProxyVersion::V2);
    EXPECT_EQ(info.command, ProxyCommand::Proxy);
    EXPECT_EQ(info.source.toString(), "192.0.2.7:56324");
    EXPECT_EQ(info.destination.toString(), "198.51.100.1:443");
    EXPECT_EQ(info.authority, "db.example");
    EXPECT_TRUE(info.alpn.empty());
    EXPECT_FALSE(info.has_ssl);
    EXPECT_FALSE(info.has_crc32c);
}

TEST(ProxyDecode, V2RoundTripWithEveryTlv) {
    ProxySslInfo ssl;
    ssl.client = pp2::kClientSsl | pp2::kClientCertConn | pp2::kClientCertSess;
    ssl.verify = 0;
    ssl.version = "TLSv1.2";
    ssl.cipher = "ECDHE-RSA-AES128-GCM-SHA256";
    ssl.common_name = "client.example";
    ProxyV2Tlvs tlvs{"http/1.1", "www.example.com", "conn-42", &ssl, true};
    const std::string h = v2(addr("2001:db8::1", 40000), addr("2001:db8::2", 443), tlvs);
    ProxyHeaderParser p;
    const auto& info = expectDone(p, h);
    EXPECT_EQ(info.source.toString(), "[2001:db8::1]:40000");
    EXPECT_EQ(info.destination.toString(), "[2001:db8::2]:443");
    EXPECT_EQ(info.alpn, "http/1.1");
    EXPECT_EQ(info.authority, "www.example.com");
    EXPECT_EQ(info.unique_id, "conn-42");
    ASSERT_TRUE(info.has_ssl);
    EXPECT_EQ(info.ssl.client, 0x07);
    EXPECT_EQ(info.ssl.verify, 0u);
    EXPECT_EQ(info.ssl.version, "TLSv1.2");
    EXPECT_EQ(info.ssl.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
    EXPECT_EQ(info.ssl.common_name, "client.example");
    EXPECT_TRUE(info.has_crc32c);
}

TEST(ProxyDecode, V1RoundTrip) {
    for (auto [src, dst] : {std::pair{"127.0.0.4", "127.0.0.1"}, std::pair{"::1", "::1"},
                            std::pair{"::1", "127.0.0.1"}, std::pair{"fe80::1:2", "2001:db8::"}}) {
        const SocketAddress s = addr(src, 1111);
        const SocketAddress d = addr(dst, 2222);
        ProxyHeaderParser p;
        const auto& info = expectDone(p, v1(s, d));
        EXPECT_EQ(info.source.port(), 1111);
        EXPECT_EQ(info.destination.port(), 2222);
        if (s.isIpv6() || d.isIpv6()) {
            EXPECT_EQ(info.source.family(), AF_INET6);
        } else {
            EXPECT_EQ(info.source.toString(), s.toString());
            EXPECT_EQ(info.destination.toString(), d.toString());
        }
    }
}

TEST(ProxyDecode, V2LocalIgnoresAddresses) {
    // LOCAL: the receiver must skip whatever address block the length announces.
    const std::string body = bytes({1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2});
    ProxyHeaderParser p;
    const auto& info = expectDone(p, rawV2(0x20, 0x11, body));
    EXPECT_EQ(info.command, ProxyCommand::Local);
    EXPECT_FALSE(info.carriesAddresses());
    // And a LOCAL block shorter than its family needs is skipped too.
    ProxyHeaderParser q;
    EXPECT_EQ(expectDone(q, rawV2(0x20, 0x21, bytes({1, 2, 3}))).command, ProxyCommand::Local);
}

TEST(ProxyDecode, V2UnsupportedFamiliesFallBackToRealEndpoints) {
    ProxyHeaderParser unspec;
    EXPECT_FALSE(expectDone(unspec, rawV2(0x21, 0x00, "")).carriesAddresses());
    ProxyHeaderParser unix_stream;
    EXPECT_FALSE(
        expectDone(unix_stream, rawV2(0x21, 0x31, std::string(216, 'u'))).carriesAddresses());
    ProxyHeaderParser udp;
    const auto& info =
        expectDone(udp, rawV2(0x21, 0x12, bytes({1, 2, 3, 4, 5, 6, 7, 8, 0, 9, 0, 10})));
    EXPECT_EQ(info.source.toString(), "1.2.3.4:9");
}

TEST(ProxyDecode, ByteByByteNeverOverReads) {
    const std::string headers[] = {
        "PROXY TCP4 127.0.0.4 127.0.0.1 50000 80\r\n",
        v2(addr("::1", 5), addr("::1", 6), ProxyV2Tlvs{"h2", "a.example", "id", nullptr, true}),
        v2Local(),
    };
    for (const std::string& header : headers) {
        const std::string stream = header + "\r\nPROXY payload that looks like a header\r\n";
        ProxyHeaderParser p;
        std::size_t pos = 0;
        ProxyHeaderParser::Result r;
        for (; pos < stream.size(); ++pos) {
            r = p.feed(std::string_view(stream).substr(pos, 1));
            if (r.status != Status::NeedMore) break;
            EXPECT_EQ(r.consumed, 1u);
            EXPECT_EQ(p.buffered(), pos + 1);
        }
        ASSERT_EQ(r.status, Status::Done) << r.reason;
        EXPECT_EQ(r.consumed, 1u);
        EXPECT_EQ(pos + 1, header.size());
        // Done is final: later bytes are payload.
        auto again = p.feed(std::string_view(stream).substr(pos + 1));
        EXPECT_EQ(again.status, Status::Done);
        EXPECT_EQ(again.consumed, 0u);
    }
}

TEST(ProxyDecode, SplitAnywhereGivesTheSameResult) {
    const std::string header =
        v2(addr("10.1.2.3", 7), addr("10.3.2.1", 8), ProxyV2Tlvs{"x", "y", "z", nullptr, true});
    const std::string stream = header + "tail";
    for (std::size_t split = 1; split < stream.size(); ++split) {
        ProxyHeaderParser p;
        auto first = p.feed(std::string_view(stream).substr(0, split));
        std::size_t consumed = first.consumed;
        if (first.status == Status::NeedMore) {
            auto second = p.feed(std::string_view(stream).substr(split));
            ASSERT_EQ(second.status, Status::Done) << split;
            consumed += second.consumed;
        } else {
            ASSERT_EQ(first.status, Status::Done);
        }
        EXPECT_EQ(consumed, header.size()) << split;
        EXPECT_EQ(p.info().source.toString(), "10.1.2.3:7");
    }
}

TEST(ProxyDecode, TruncatedHeadersWaitForMore) {
    const std::string v1_line = "PROXY TCP4 127.0.0.4 127.0.0.1 50000 80\r\n";
    const std::string v2_header = v2(addr("10.0.0.1", 1), addr("10.0.0.2", 2));
    for (const std::string* h : {&v1_line, &v2_header}) {
        for (std::size_t cut = 1; cut < h->size(); ++cut) {
            ProxyHeaderParser p;
            auto r = p.feed(std::string_view(*h).substr(0, cut));
            EXPECT_EQ(r.status, Status::NeedMore) << cut;
            EXPECT_EQ(r.consumed, cut);
        }
    }
    ProxyHeaderParser empty;
    EXPECT_EQ(empty.feed(std::string_view()).status, Status::NeedMore);
}

TEST(ProxyDecode, ResetStartsOver) {
    ProxyHeaderParser p;
    EXPECT_EQ(p.feed("GET /").status, Status::Invalid);
    p.reset();
    EXPECT_EQ(expectDone(p, "PROXY UNKNOWN\r\n").command, ProxyCommand::Local);
    p.reset();
    EXPECT_EQ(expectDone(p, "PROXY TCP4 1.2.3.4 5.6.7.8 9 10\r\n").source.toString(), "1.2.3.4:9");
}

TEST(ProxyDecode, InvalidIsFinal) {
    ProxyHeaderParser p;
    auto r = p.feed("SSH-2.0-OpenSSH\r\n");
    ASSERT_EQ(r.status, Status::Invalid);
    auto again = p.feed("PROXY UNKNOWN\r\n");
    EXPECT_EQ(again.status, Status::Invalid);
    EXPECT_EQ(again.reason, "not a PROXY protocol header");
    EXPECT_EQ(again.consumed, 0u);
}

// ---- decoder: invalid headers -------------------------------------------------------------------

TEST(ProxyDecodeInvalid, NotAHeader) {
    expectInvalid("GET / HTTP/1.1\r\n\r\n", "not a PROXY protocol header");
    expectInvalid(bytes({0x16, 0x03, 0x01, 0x00}), "not a PROXY protocol header");  // TLS hello
    expectInvalid(std::string(1, '\0'), "not a PROXY protocol header");
}

TEST(ProxyDecodeInvalid, BadV1Signature) {
    expectInvalid("PROXZ TCP4", "v1 header: does not start with \"PROXY \"");
    expectInvalid("proxy TCP4", "not a PROXY protocol header");
    expectInvalid("PROXY\tTCP4", "v1 header: does not start with \"PROXY \"");
}

TEST(ProxyDecodeInvalid, BadV2Signature) {
    expectInvalid("\r\n\r\nX", "v2 header: bad signature");
    std::string sig = signature();
    sig[11] = 'X';
    expectInvalid(sig + bytes({0x21, 0x11, 0, 0}), "v2 header: bad signature");
}

TEST(ProxyDecodeInvalid, BadV2VersionAndCommand) {
    expectInvalid(rawV2(0x11, 0x11, std::string(12, '\0')),
                  "v2 header: unsupported version (not 2)");
    expectInvalid(rawV2(0x31, 0x11, std::string(12, '\0')),
                  "v2 header: unsupported version (not 2)");
    expectInvalid(rawV2(0x22, 0x11, std::string(12, '\0')), "v2 header: unknown command");
    expectInvalid(rawV2(0x2F, 0x11, std::string(12, '\0')), "v2 header: unknown command");
    expectInvalid(rawV2(0x21, 0x41, std::string(12, '\0')), "v2 header: unknown address family");
    expectInvalid(rawV2(0x21, 0x13, std::string(12, '\0')),
                  "v2 header: unknown transport protocol");
}

TEST(ProxyDecodeInvalid, OversizedV2) {
    // Rejected as soon as the length field arrives, without waiting for (or holding) the body.
    expectInvalid(signature() + bytes({0x21, 0x11, 0xFF, 0xFF}),
                  "v2 header: longer than the limit");
    const std::string h = v2(addr("10.0.0.1", 1), addr("10.0.0.2", 2));  // 28 bytes
    expectInvalid(h, "v2 header: longer than the limit", 27);
    ProxyHeaderParser fits(28);
    EXPECT_EQ(fits.feed(h).status, Status::Done);
}

TEST(ProxyDecodeInvalid, V2AddressFamilyMismatch) {
    // AF_INET6 announced, only an IPv4-sized block sent.
    expectInvalid(rawV2(0x21, 0x21, std::string(12, '\1')),
                  "v2 header: address block shorter than its family needs");
    expectInvalid(rawV2(0x21, 0x11, std::string(11, '\1')),
                  "v2 header: address block shorter than its family needs");
    expectInvalid(rawV2(0x21, 0x31, std::string(215, '\1')),
                  "v2 header: address block shorter than its family needs");
}

TEST(ProxyDecodeInvalid, V2BadTlvs) {
    const std::string a4(12, '\1');
    expectInvalid(rawV2(0x21, 0x11, a4 + bytes({0x01, 0x00})), "v2 header: truncated TLV");
    expectInvalid(rawV2(0x21, 0x11, a4 + bytes({0x02, 0x00, 0x05, 'a', 'b'})),
                  "v2 header: TLV runs past the header");
    expectInvalid(rawV2(0x21, 0x11, a4 + tlv(pp2::kTypeCrc32c, "abc")),
                  "v2 header: CRC32C TLV is not 4 bytes");
    expectInvalid(rawV2(0x21, 0x11, a4 + tlv(pp2::kTypeUniqueId, std::string(129, 'i'))),
                  "v2 header: UNIQUE_ID longer than 128 bytes");
    expectInvalid(rawV2(0x21, 0x11, a4 + tlv(pp2::kTypeSsl, "abcd")),
                  "v2 header: SSL TLV shorter than 5 bytes");
    expectInvalid(rawV2(0x21, 0x11, a4 + tlv(pp2::kTypeSsl, bytes({1, 0, 0, 0, 0, 0x21, 0}))),
                  "v2 header: truncated SSL sub-TLV");
    expectInvalid(
        rawV2(0x21, 0x11, a4 + tlv(pp2::kTypeSsl, bytes({1, 0, 0, 0, 0, 0x21, 0, 9, 'T'}))),
        "v2 header: SSL sub-TLV runs past its TLV");
}

TEST(ProxyDecodeInvalid, V2CrcMismatch) {
    ProxyV2Tlvs tlvs;
    tlvs.crc32c = true;
    std::string h = v2(addr("10.0.0.1", 1), addr("10.0.0.2", 2), tlvs);
    {
        ProxyHeaderParser ok;
        EXPECT_TRUE(expectDone(ok, h).has_crc32c);
    }
    std::string tampered = h;
    tampered[19] ^= 0x01;  // the last byte of the source address
    expectInvalid(tampered, "v2 header: CRC32C mismatch");
    std::string bad_crc = h;
    bad_crc.back() ^= 0x80;
    expectInvalid(bad_crc, "v2 header: CRC32C mismatch");
    // Two CRC TLVs: ambiguous.
    expectInvalid(rawV2(0x21, 0x11, std::string(12, '\1') + tlv(3, "abcd") + tlv(3, "abcd")),
                  "v2 header: more than one CRC32C TLV");
}

TEST(ProxyDecodeInvalid, V1TooLong) {
    // 107 bytes without CRLF: rejected at the 107th, no need to wait for more.
    std::string line = "PROXY UNKNOWN " + std::string(93, 'x');
    ASSERT_EQ(line.size(), 107u);
    expectInvalid(line, "v1 header: no CRLF within 107 bytes");
    // 106 bytes + CRLF = 108.
    expectInvalid("PROXY UNKNOWN " + std::string(92, 'x') + "\r\n",
                  "v1 header: no CRLF within 107 bytes");
    ProxyHeaderParser p;
    EXPECT_EQ(p.feed("PROXY UNKNOWN " + std::string(92, 'x')).status, Status::NeedMore);
}

TEST(ProxyDecodeInvalid, V1LineEndings) {
    expectInvalid("PROXY UNKNOWN\n", "v1 header: line ends with a bare LF instead of CRLF");
    expectInvalid("PROXY UNKNOWN\rX", "v1 header: CR not followed by LF");
    expectInvalid("PROXY UNKNOWN\r\r\n", "v1 header: CR not followed by LF");
    expectInvalid(std::string("PROXY TCP4 1.2.3.4\0", 19), "v1 header: non-printable byte");
    expectInvalid("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "v1 header: non-printable byte");
    expectInvalid("PROXY TCP4 \xC3\xA9", "v1 header: non-printable byte");
}

TEST(ProxyDecodeInvalid, V1BadTokens) {
    expectInvalid("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
                  "v1 header: unknown protocol (expected TCP4, TCP6 or UNKNOWN)");
    expectInvalid("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
                  "v1 header: unknown protocol (expected TCP4, TCP6 or UNKNOWN)");
    expectInvalid("PROXY UNKNOWNX\r\n",
                  "v1 header: unknown protocol (expected TCP4, TCP6 or UNKNOWN)");
    expectInvalid("PROXY \r\n", "v1 header: unknown protocol (expected TCP4, TCP6 or UNKNOWN)");
    expectInvalid("PROXY TCP4\r\n", "v1 header: too few fields");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "v1 header: too few fields");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "v1 header: too many fields");
    expectInvalid("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
                  "v1 header: empty field (fields are separated by one space)");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
                  "v1 header: empty field (fields are separated by one space)");
    expectInvalid("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "v1 header: invalid source address");
    expectInvalid("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "v1 header: invalid source address");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n", "v1 header: invalid destination address");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8. 1 2\r\n", "v1 header: invalid destination address");
    expectInvalid("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "v1 header: invalid source address");
    expectInvalid("PROXY TCP6 ::1 1::2::3 1 2\r\n", "v1 header: invalid destination address");
    expectInvalid("PROXY TCP6 ::1 [::1] 1 2\r\n", "v1 header: invalid destination address");
}

TEST(ProxyDecodeInvalid, V1Ports) {
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n", "v1 header: source port out of range");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 80 99999999999999999999\r\n",
                  "v1 header: destination port out of range");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n", "v1 header: invalid source port");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 -1 80\r\n", "v1 header: invalid source port");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 80 8o\r\n", "v1 header: invalid destination port");
    expectInvalid("PROXY TCP4 1.2.3.4 5.6.7.8 80 +80\r\n", "v1 header: invalid destination port");
    ProxyHeaderParser p;
    EXPECT_EQ(expectDone(p, "PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n").destination.port(), 65535);
}

TEST(ProxyDecodeInvalid, V1AddressFamilyMismatch) {
    expectInvalid("PROXY TCP4 ::1 127.0.0.1 1 2\r\n",
                  "v1 header: address family mismatch (TCP4 with an IPv6 address)");
    expectInvalid("PROXY TCP4 127.0.0.1 ::1 1 2\r\n",
                  "v1 header: address family mismatch (TCP4 with an IPv6 address)");
    expectInvalid("PROXY TCP6 127.0.0.1 ::1 1 2\r\n",
                  "v1 header: address family mismatch (TCP6 with an IPv4 address)");
}
