#include "net/cidr_list.h"

#include <gtest/gtest.h>

using postern::net::Cidr;
using postern::net::CidrList;
using postern::net::SocketAddress;

namespace {

SocketAddress ip(const char* text) { return *SocketAddress::fromIp(text, 1234); }

Cidr cidr(const char* text) {
    std::string error;
    auto c = Cidr::parse(text, &error);
    EXPECT_TRUE(c) << text << ": " << error;
    return c ? *c : Cidr{};
}

std::string parseError(const char* text) {
    std::string error;
    auto c = Cidr::parse(text, &error);
    EXPECT_FALSE(c) << text << " should not parse";
    return error;
}

}  // namespace

TEST(Cidr, Ipv4Ranges) {
    Cidr ten = cidr("10.0.0.0/8");
    EXPECT_EQ(ten.toString(), "10.0.0.0/8");
    EXPECT_TRUE(ten.contains(ip("10.0.0.1")));
    EXPECT_TRUE(ten.contains(ip("10.255.255.255")));
    EXPECT_FALSE(ten.contains(ip("11.0.0.0")));
    EXPECT_FALSE(ten.contains(ip("9.255.255.255")));

    Cidr odd = cidr("192.168.4.0/22");
    EXPECT_TRUE(odd.contains(ip("192.168.7.200")));
    EXPECT_FALSE(odd.contains(ip("192.168.8.0")));
    EXPECT_FALSE(odd.contains(ip("192.168.3.255")));

    Cidr all = cidr("0.0.0.0/0");
    EXPECT_TRUE(all.contains(ip("1.2.3.4")));
    EXPECT_TRUE(all.contains(ip("255.255.255.255")));
    EXPECT_FALSE(all.contains(ip("2001:db8::1")));  // IPv4-only range
}

TEST(Cidr, BareAddressIsOneHost) {
    Cidr one = cidr("127.0.0.4");
    EXPECT_EQ(one.toString(), "127.0.0.4/32");
    EXPECT_TRUE(one.contains(ip("127.0.0.4")));
    EXPECT_FALSE(one.contains(ip("127.0.0.5")));
    Cidr lo6 = cidr("::1");
    EXPECT_EQ(lo6.toString(), "::1/128");
    EXPECT_TRUE(lo6.contains(ip("::1")));
    EXPECT_FALSE(lo6.contains(ip("::2")));
}

TEST(Cidr, Ipv6Ranges) {
    Cidr doc = cidr("2001:db8::/32");
    EXPECT_TRUE(doc.contains(ip("2001:db8:ffff::1")));
    EXPECT_FALSE(doc.contains(ip("2001:db9::1")));
    EXPECT_FALSE(doc.contains(ip("10.0.0.1")));
    Cidr odd = cidr("fc00::/7");  // unique local addresses
    EXPECT_TRUE(odd.contains(ip("fc00::1")));
    EXPECT_TRUE(odd.contains(ip("fdff::1")));
    EXPECT_FALSE(odd.contains(ip("fe00::1")));
    EXPECT_TRUE(cidr("::1/128").contains(ip("::1")));
}

TEST(Cidr, DualStackPeersMatchIpv4Ranges) {
    // A [::] listener reports an IPv4 peer as ::ffff:a.b.c.d.
    EXPECT_TRUE(cidr("127.0.0.0/8").contains(ip("::ffff:127.0.0.9")));
    EXPECT_FALSE(cidr("127.0.0.0/8").contains(ip("::ffff:128.0.0.9")));
    EXPECT_TRUE(cidr("::ffff:10.0.0.0/104").contains(ip("10.1.2.3")));
}

TEST(Cidr, NonIpAddressNeverMatches) {
    EXPECT_FALSE(cidr("0.0.0.0/0").contains(SocketAddress{}));
    EXPECT_FALSE(cidr("::/0").contains(SocketAddress{}));
}

TEST(Cidr, Errors) {
    EXPECT_EQ(parseError("10.0.0.0/33"), "prefix length 33 is larger than 32");
    EXPECT_EQ(parseError("::/129"), "prefix length 129 is larger than 128");
    EXPECT_EQ(parseError("10.0.0.0/"), "missing prefix length after '/'");
    EXPECT_EQ(parseError("10.0.0.0/x"), "prefix length \"x\" is not a number");
    EXPECT_EQ(parseError("10.0.0.0/-1"), "prefix length \"-1\" is not a number");
    EXPECT_EQ(parseError("10.0.0.0/8/8"), "prefix length \"8/8\" is not a number");
    EXPECT_EQ(parseError("10.0.0.0/1234"), "prefix length \"1234\" is too large (at most 32)");
    EXPECT_EQ(parseError("/8"), "missing address");
    EXPECT_EQ(parseError(""), "missing address");
    EXPECT_EQ(parseError("10.0.0/8"), "\"10.0.0\" is not an IP address");
    EXPECT_EQ(parseError("010.0.0.0/8"), "\"010.0.0.0\" is not an IP address");
    EXPECT_EQ(parseError("256.0.0.0/8"), "\"256.0.0.0\" is not an IP address");
    EXPECT_EQ(parseError("example.com/8"), "\"example.com\" is not an IP address");
    EXPECT_EQ(parseError("fe80::1%eth0"), "\"fe80::1%eth0\" is not an IP address");
    EXPECT_EQ(parseError("10.1.0.0/8"),
              "\"10.1.0.0/8\" has bits set after the prefix; did you mean \"10.0.0.0/8\"?");
    EXPECT_EQ(parseError("2001:db8::1/32"),
              "\"2001:db8::1/32\" has bits set after the prefix; did you mean \"2001:db8::/32\"?");
}

TEST(CidrList, MatchesAnyRange) {
    CidrList list;
    EXPECT_TRUE(list.empty());
    EXPECT_FALSE(list.contains(ip("127.0.0.1")));
    list.add(cidr("10.0.0.0/8"));
    list.add(cidr("::1"));
    EXPECT_EQ(list.size(), 2u);
    EXPECT_TRUE(list.contains(ip("10.2.3.4")));
    EXPECT_TRUE(list.contains(ip("::1")));
    EXPECT_FALSE(list.contains(ip("127.0.0.1")));
    EXPECT_FALSE(list.contains(ip("::2")));
}

// Affinity hashes the client's IP: an IPv4 client is the same client whether its address came as
// 192.0.2.7 or as ::ffff:192.0.2.7 (a PROXY header, a dual-stack peer); the port never counts.
TEST(SocketAddressHash, Ipv4MappedIpv6IsTheIpv4Client) {
    EXPECT_EQ(ip("::ffff:192.0.2.7").ipHash(), ip("192.0.2.7").ipHash());
    EXPECT_EQ(SocketAddress::fromIp("192.0.2.7", 1)->ipHash(), ip("192.0.2.7").ipHash());
    EXPECT_NE(ip("::ffff:192.0.2.8").ipHash(), ip("192.0.2.7").ipHash());
    EXPECT_NE(ip("2001:db8::c000:207").ipHash(), ip("192.0.2.7").ipHash());
    EXPECT_NE(ip("::1").ipHash(), ip("127.0.0.1").ipHash());
}
