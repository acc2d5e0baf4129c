#include "common/host_port.h"

#include <gtest/gtest.h>

using postern::common::parseHostPort;

TEST(HostPort, ParsesIpv4AndNames) {
    auto a = parseHostPort("127.0.0.1:5432", true, nullptr);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 5432);
    auto b = parseHostPort("db.corp.example:5433", true, nullptr);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "db.corp.example");
    EXPECT_FALSE(b->is_ipv6_literal);
}

TEST(HostPort, ParsesBracketedIpv6) {
    auto a = parseHostPort("[::1]:8080", true, nullptr);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host, "::1");
    EXPECT_EQ(a->port, 8080);
    EXPECT_TRUE(a->is_ipv6_literal);
    auto b = parseHostPort("[::]:5432", true, nullptr);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->host, "::");
}

TEST(HostPort, OptionalPort) {
    auto a = parseHostPort("10.0.0.4", false, nullptr);
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->has_port);
    auto b = parseHostPort("fe80::1", false, nullptr);
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->is_ipv6_literal);
}

TEST(HostPort, Errors) {
    std::string err;
    EXPECT_FALSE(parseHostPort("127.0.0.1", true, &err));
    EXPECT_NE(err.find("missing port"), std::string::npos) << err;
    EXPECT_FALSE(parseHostPort("::1:80", true, &err));
    EXPECT_NE(err.find("brackets"), std::string::npos) << err;
    EXPECT_FALSE(parseHostPort("host:99999", true, &err));
    EXPECT_NE(err.find("0 to 65535"), std::string::npos) << err;
    EXPECT_FALSE(parseHostPort("[::1:80", true, &err));
    EXPECT_FALSE(parseHostPort("ho st:80", true, &err));
    EXPECT_FALSE(parseHostPort("h:0", true, &err, false));
    EXPECT_FALSE(parseHostPort("", true, &err));
}
