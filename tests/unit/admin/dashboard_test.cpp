#include "admin/dashboard.h"

#include <gtest/gtest.h>

#include <string>

namespace postern::admin {
namespace {

// The page must work on a host with no internet (an operator's loopback admin port): nothing may
// be fetched from elsewhere. What it renders is checked in a real browser (tests/admin/).
TEST(DashboardTest, IsOneSelfContainedPage) {
    const std::string page(dashboardHtml());
    ASSERT_EQ(page.rfind("<!doctype html>", 0), 0u);
    EXPECT_NE(page.find("</html>"), std::string::npos);
    for (const char* external : {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import",
                                 "url(http", "<link rel=\"stylesheet\""}) {
        EXPECT_EQ(page.find(external), std::string::npos) << external;
    }
    // No request for /favicon.ico (its 404 would be a console error): an inline icon.
    EXPECT_NE(page.find("<link rel=\"icon\" href=\"data:,\">"), std::string::npos);
}

TEST(DashboardTest, PollsStatusAndSendsTheToken) {
    const std::string page(dashboardHtml());
    EXPECT_NE(page.find("fetch(\"/status\""), std::string::npos);
    EXPECT_NE(page.find("\"Authorization\": \"Bearer \""), std::string::npos);
    EXPECT_NE(page.find("sessionStorage"), std::string::npos);
}

}  // namespace
}  // namespace postern::admin
