#include "tls/sni_selector.h"

#include <gtest/gtest.h>

using postern::tls::SniSelector;

namespace {

TEST(SniSelector, ExactNamesPickTheirCertificate) {
    SniSelector s({{"a.example.com", "www.a.example.com"}, {"b.example.com"}});
    EXPECT_EQ(s.select("a.example.com"), 0u);
    EXPECT_EQ(s.select("www.a.example.com"), 0u);
    EXPECT_EQ(s.select("b.example.com"), 1u);
    EXPECT_EQ(s.select("c.example.com"), std::nullopt);
    EXPECT_EQ(s.select(""), std::nullopt);
}

TEST(SniSelector, CaseAndTrailingDotDoNotMatter) {
    SniSelector s({{"a.example.com"}, {"B.Example.COM"}});
    EXPECT_EQ(s.select("A.EXAMPLE.com"), 0u);
    EXPECT_EQ(s.select("b.example.com."), 1u);
}

TEST(SniSelector, WildcardCoversExactlyOneLabel) {
    SniSelector s({{"default.example.com"}, {"*.wild.example.com"}});
    EXPECT_EQ(s.select("x.wild.example.com"), 1u);
    EXPECT_EQ(s.select("X-1.Wild.Example.Com"), 1u);
    EXPECT_EQ(s.select("wild.example.com"), std::nullopt) << "the bare domain is not covered";
    EXPECT_EQ(s.select("a.b.wild.example.com"), std::nullopt) << "two labels are not covered";
    EXPECT_EQ(s.select(".wild.example.com"), std::nullopt) << "an empty label is not a label";
}

TEST(SniSelector, AnExactNameBeatsAWildcardWhateverTheOrder) {
    SniSelector s({{"*.example.com"}, {"api.example.com"}});
    EXPECT_EQ(s.select("api.example.com"), 1u);
    EXPECT_EQ(s.select("www.example.com"), 0u);
}

TEST(SniSelector, TheFirstCertificateClaimingANameKeepsItAndTheOthersAreReported) {
    SniSelector s({{"a.example.com", "*.x.example.com"}, {"a.example.com", "b.example.com"}, {"*.x.example.com"}});
    EXPECT_EQ(s.select("a.example.com"), 0u);
    EXPECT_EQ(s.select("b.example.com"), 1u);
    EXPECT_EQ(s.select("q.x.example.com"), 0u);
    ASSERT_EQ(s.duplicates().size(), 2u);
    EXPECT_EQ(s.duplicates()[0].name, "a.example.com");
    EXPECT_EQ(s.duplicates()[0].kept, 0u);
    EXPECT_EQ(s.duplicates()[0].ignored, 1u);
    EXPECT_EQ(s.duplicates()[1].name, "*.x.example.com");
    EXPECT_EQ(s.duplicates()[1].ignored, 2u);
}

TEST(SniSelector, OverlongNamesMatchNothing) {
    const std::string longName(300, 'a');
    SniSelector s({{longName}, {"a.example.com"}});
    EXPECT_EQ(s.select(longName), std::nullopt);
    EXPECT_EQ(s.select("a.example.com"), 1u);
}

}  // namespace
