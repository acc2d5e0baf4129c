// [gateway] control_socket: where the running instance serves `postern reload`.
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

LoadResult loadWith(const std::string& gateway) {
    return loadText("[gateway]\n" + gateway + "\n" + std::string(kListener) +
                    std::string(kMinimalPool));
}

TEST(ControlSocketConfig, DefaultWhenNotSet) {
    LoadResult r = loadWith("");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->gateway.control_socket, kDefaultControlSocket);
    EXPECT_FALSE(r.config->gateway.control_socket_set);
}

TEST(ControlSocketConfig, OffMeansNone) {
    LoadResult r = loadWith("control_socket = \"off\"");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->gateway.control_socket, "");
    EXPECT_TRUE(r.config->gateway.control_socket_set);
}

TEST(ControlSocketConfig, EmptyIsAnErrorAtTheValue) {
    LoadResult r = loadWith("control_socket = \"\"");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              std::vector<std::string>{
                  "t.toml:2:18: 'control_socket' must not be empty (use \"off\" for no control "
                  "socket)"});
}

#ifndef _WIN32
TEST(ControlSocketConfig, RelativePathResolvesAgainstTheConfigFolder) {
    LoadResult r = loadWith("control_socket = \"run/p.sock\"");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->gateway.control_socket, "/etc/postern/run/p.sock");
    EXPECT_TRUE(r.config->gateway.control_socket_set);
}

TEST(ControlSocketConfig, TooLongForAUnixSocketIsAnError) {
    const std::string path = "/tmp/" + std::string(103, 'x');  // 108 bytes
    LoadResult r = loadWith("control_socket = \"" + path + "\"");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r),
              std::vector<std::string>{"t.toml:2:18: 'control_socket' path '" + path +
                                       "' is 108 bytes long; a Unix socket path has at most 107"});
}
#else
TEST(ControlSocketConfig, WindowsTakesANamedPipe) {
    LoadResult r = loadWith("control_socket = '\\\\.\\pipe\\postern-test'");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->gateway.control_socket, "\\\\.\\pipe\\postern-test");
}

TEST(ControlSocketConfig, WindowsRefusesAPath) {
    LoadResult r = loadWith("control_socket = 'C:\\postern.sock'");
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r).size(), 1u);
}
#endif

}  // namespace
}  // namespace postern::config
