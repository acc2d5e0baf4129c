#include "common/duration.h"

#include <gtest/gtest.h>

using postern::common::parseDuration;
using namespace std::chrono_literals;

TEST(Duration, ParsesEveryUnit) {
    EXPECT_EQ(parseDuration("250ms"), 250ms);
    EXPECT_EQ(parseDuration("30s"), 30s);
    EXPECT_EQ(parseDuration("4m"), 4min);
    EXPECT_EQ(parseDuration("1h"), 1h);
    EXPECT_EQ(parseDuration("0s"), 0ms);
}

TEST(Duration, RejectsBadInputWithReason) {
    std::string err;
    EXPECT_FALSE(parseDuration("5", &err));
    EXPECT_NE(err.find("missing unit"), std::string::npos) << err;
    EXPECT_FALSE(parseDuration("5x", &err));
    EXPECT_NE(err.find("unknown unit 'x'"), std::string::npos) << err;
    EXPECT_FALSE(parseDuration("-5s", &err));
    EXPECT_FALSE(parseDuration("", &err));
    EXPECT_FALSE(parseDuration("1.5s", &err));
    EXPECT_FALSE(parseDuration("99999999999999h", &err));
    EXPECT_NE(err.find("too large"), std::string::npos) << err;
}
