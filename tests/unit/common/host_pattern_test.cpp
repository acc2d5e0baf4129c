// Route name patterns: what the config accepts and how exact names and wildcards match.
#include "common/host_pattern.h"

#include <gtest/gtest.h>

namespace postern::common {
namespace {

std::string normalised(std::string_view written) {
    std::string why;
    auto p = normalisePattern(written, &why);
    return p ? *p : "error: " + why;
}

TEST(HostPattern, NormalisesCaseAndTrailingDot) {
    EXPECT_EQ(normalised("API.Example.COM."), "api.example.com");
    EXPECT_EQ(normalised("*.Example.com"), "*.example.com");
    EXPECT_EQ(normalised("localhost"), "localhost");
    EXPECT_EQ(normalised("10.0.0.1"), "10.0.0.1");
}

TEST(HostPattern, RefusesWhatIsNotANameOrAWildcard) {
    EXPECT_EQ(normalised(""), "error: must not be empty");
    EXPECT_EQ(normalised("."), "error: must not be empty");
    EXPECT_EQ(normalised("*"),
              "error: a wildcard is \"*.\" followed by a name, as \"*.example.com\", not \"*\"");
    EXPECT_EQ(normalised("a.*.example.com"),
              "error: a wildcard is \"*.\" followed by a name, as \"*.example.com\", not "
              "\"a.*.example.com\"");
    EXPECT_EQ(normalised("*example.com"),
              "error: a wildcard is \"*.\" followed by a name, as \"*.example.com\", not "
              "\"*example.com\"");
    EXPECT_EQ(normalised("*.*.example.com"),
              "error: a wildcard is \"*.\" followed by a name, as \"*.example.com\", not "
              "\"*.*.example.com\"");
    EXPECT_EQ(normalised("example.com:8080"),
              "error: must be a host name without a port, not \"example.com:8080\"");
    EXPECT_EQ(normalised("a..b"),
              "error: must be a host name (letters, digits, '-' and '_' in dot-separated labels) "
              "or \"*.\" followed by one, not \"a..b\"");
    EXPECT_EQ(normalised("exa mple.com"),
              "error: must be a host name (letters, digits, '-' and '_' in dot-separated labels) "
              "or \"*.\" followed by one, not \"exa mple.com\"");
}

TEST(HostPattern, ExactAndWildcardMatching) {
    EXPECT_TRUE(patternMatches("api.example.com", "api.example.com"));
    EXPECT_FALSE(patternMatches("api.example.com", "www.example.com"));
    EXPECT_TRUE(patternMatches("*.example.com", "a.example.com"));
    EXPECT_TRUE(patternMatches("*.example.com", "a.b.example.com"));  // nginx/Envoy: any depth
    EXPECT_FALSE(patternMatches("*.example.com", "example.com"));
    EXPECT_FALSE(patternMatches("*.example.com", ".example.com"));
    EXPECT_FALSE(patternMatches("*.example.com", "aexample.com"));
    EXPECT_FALSE(patternMatches("*.example.com", "example.com.evil"));
}

TEST(HostPattern, Covers) {
    EXPECT_TRUE(patternCovers("a.example.com", "a.example.com"));
    EXPECT_TRUE(patternCovers("*.example.com", "a.example.com"));
    EXPECT_TRUE(patternCovers("*.example.com", "*.a.example.com"));
    EXPECT_TRUE(patternCovers("*.example.com", "*.example.com"));
    EXPECT_FALSE(patternCovers("*.a.example.com", "*.example.com"));
    EXPECT_FALSE(patternCovers("a.example.com", "*.example.com"));
    EXPECT_FALSE(patternCovers("*.example.com", "example.com"));
}

TEST(HostPattern, NormaliseNameIntoABuffer) {
    char buf[kMaxHostName];
    EXPECT_EQ(normaliseName("WWW.Example.Com.", buf), "www.example.com");
    EXPECT_EQ(normaliseName("", buf), "");
    EXPECT_EQ(normaliseName(".", buf), "");
    EXPECT_EQ(normaliseName(std::string(kMaxHostName, 'a'), buf), std::string(kMaxHostName, 'a'));
    EXPECT_EQ(normaliseName(std::string(kMaxHostName + 1, 'a'), buf), "");
}

}  // namespace
}  // namespace postern::common
