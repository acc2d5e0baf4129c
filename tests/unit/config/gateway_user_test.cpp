// [gateway] user: the account postern switches to after binding (Linux). Whether it exists is
// checked when the config is loaded, so `postern check` reports it at the key.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::kMinimalPool;
using test::loadText;

constexpr std::string_view kListener = R"([[listener]]
name = "l"
bind = ["127.0.0.1:0"]
pool = "pg"
)";

LoadResult loadWithUser(const std::string& user) {
    return loadText("[gateway]\nuser = \"" + user + "\"\n" + std::string(kListener) +
                    std::string(kMinimalPool));
}

TEST(GatewayUser, EmptyMeansStayAsStarted) {
    LoadResult r = loadWithUser("");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->gateway.user, "");
}

#ifndef _WIN32
TEST(GatewayUser, ExistingUserIsKept) {
    LoadResult r = loadWithUser("root");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->gateway.user, "root");
}

TEST(GatewayUser, UnknownUserIsAnErrorAtTheValue) {
    LoadResult r = loadWithUser("no-such-user-postern");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              std::vector<std::string>{"t.toml:2:8: user 'no-such-user-postern' does not exist"});
}
#else
TEST(GatewayUser, NotSupportedOnWindows) {
    LoadResult r = loadWithUser("postern");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              std::vector<std::string>{
                  "t.toml:2:8: 'user' is not supported on Windows (the service runs as the "
                  "account its service configuration names)"});
}
#endif

}  // namespace
}  // namespace postern::config
