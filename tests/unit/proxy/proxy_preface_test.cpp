#include "proxy/proxy_preface.h"

#include <gtest/gtest.h>

#include "codec/proxy_protocol.h"

using postern::config::BackendSettings;
using postern::config::ProxyProtocol;
using postern::net::SocketAddress;
using postern::proxy::buildProxyPreface;
using postern::proxy::ClientFacts;
using postern::codec::ProxyHeaderParser;

namespace {

ClientFacts facts(const char* src, std::uint16_t sport, const char* dst, std::uint16_t dport) {
    ClientFacts f;
    f.source = *SocketAddress::fromIp(src, sport);
    f.destination = *SocketAddress::fromIp(dst, dport);
    return f;
}

}  // namespace

TEST(ProxyPreface, UniqueIdIsHex) {
    char id[32];
    EXPECT_EQ(postern::proxy::formatUniqueId(0x0123456789abcdefull, 0xfedcba9876543210ull, id),
              "0123456789abcdeffedcba9876543210");
}

TEST(ProxyPreface, OffIsEmpty) {
    BackendSettings b;
    std::string out = "stale";
    buildProxyPreface(b, facts("127.0.0.4", 1, "127.0.0.1", 2), out);
    EXPECT_TRUE(out.empty());
}

TEST(ProxyPreface, V1Line) {
    BackendSettings b;
    b.proxy_protocol = ProxyProtocol::V1;
    std::string out;
    buildProxyPreface(b, facts("127.0.0.4", 40000, "127.0.0.1", 8080), out);
    EXPECT_EQ(out, "PROXY TCP4 127.0.0.4 127.0.0.1 40000 8080\r\n");
    buildProxyPreface(b, facts("::1", 40000, "127.0.0.1", 8080), out);
    EXPECT_EQ(out, "PROXY TCP6 ::1 ::ffff:7f00:1 40000 8080\r\n");
}

TEST(ProxyPreface, V2PlainClientWithUniqueIdAndCrc) {
    BackendSettings b;
    b.proxy_protocol = ProxyProtocol::V2;
    b.proxy_protocol_crc = true;
    ClientFacts f = facts("192.0.2.7", 5000, "198.51.100.1", 443);
    f.unique_id = "0123456789abcdef0123456789abcdef";
    std::string out;
    buildProxyPreface(b, f, out);
    ProxyHeaderParser p;
    auto r = p.feed(out);
    ASSERT_EQ(r.status, ProxyHeaderParser::Status::Done) << r.reason;
    EXPECT_EQ(r.consumed, out.size());
    EXPECT_EQ(p.info().source.toString(), "192.0.2.7:5000");
    EXPECT_EQ(p.info().destination.toString(), "198.51.100.1:443");
    EXPECT_EQ(p.info().unique_id, f.unique_id);
    EXPECT_TRUE(p.info().has_crc32c);
    EXPECT_FALSE(p.info().has_ssl);  // plain client: no SSL TLV
    EXPECT_TRUE(p.info().authority.empty());
}
