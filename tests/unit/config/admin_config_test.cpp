// [admin]: bind, token, protect_reads (SPEC §2, §6).
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

/** [admin] with `keys` on the lines after its header (line 2 on). */
LoadResult loadAdmin(const std::string& keys) {
    return loadText("[admin]\n" + keys + "\n" + std::string(kListener) + std::string(kMinimalPool));
}

void expectErrors(const std::string& keys, const std::vector<std::string>& expected) {
    LoadResult r = loadAdmin(keys);
    EXPECT_FALSE(r.config);
    EXPECT_EQ(errorLines(r), expected);
}

TEST(AdminConfig, OffByDefault) {
    LoadResult r = loadText(std::string(kListener) + std::string(kMinimalPool));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_FALSE(r.config->admin.enabled);
    LoadResult empty = loadAdmin("");
    ASSERT_TRUE(empty.config) << testing::PrintToString(errorLines(empty));
    EXPECT_FALSE(empty.config->admin.enabled);
}

TEST(AdminConfig, LoopbackWithoutToken) {
    for (const char* bind : {"127.0.0.1:9901", "127.10.0.2:0", "[::1]:9901", "localhost:9901"}) {
        LoadResult r = loadAdmin(std::string("bind = \"") + bind + "\"");
        ASSERT_TRUE(r.config) << bind << ": " << testing::PrintToString(errorLines(r));
        EXPECT_TRUE(r.config->admin.enabled);
        EXPECT_EQ(r.config->admin.bind.text, bind);
        EXPECT_EQ(r.config->admin.token, "");
        EXPECT_FALSE(r.config->admin.protect_reads);
        EXPECT_EQ(r.config->admin.bind_pos.line, 2u);
        EXPECT_EQ(r.config->admin.bind_pos.column, 8u);
    }
}

TEST(AdminConfig, AllKeys) {
    LoadResult r =
        loadAdmin("bind = \"0.0.0.0:9901\"\ntoken = \"s3cr3t-T0ken_~!\"\nprotect_reads = true");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const AdminConfig& a = r.config->admin;
    EXPECT_TRUE(a.enabled);
    EXPECT_EQ(a.bind.host, "0.0.0.0");
    EXPECT_EQ(a.bind.port, 9901);
    EXPECT_EQ(a.token, "s3cr3t-T0ken_~!");
    EXPECT_TRUE(a.protect_reads);
}

TEST(AdminConfig, TokenRequiredWhenNotLoopback) {
    for (const char* bind :
         {"0.0.0.0:9901", "[::]:9901", "10.1.2.3:9901", "admin.example:9901", "128.0.0.1:1"}) {
        expectErrors(std::string("bind = \"") + bind + "\"",
                     {std::string("t.toml:2:8: [admin] token is required when bind is not "
                                  "loopback (\"") +
                      bind + "\" lets other hosts drain backends and reload)"});
    }
    expectErrors("bind = \"0.0.0.0:9901\"\ntoken = \"\"",
                 {"t.toml:2:8: [admin] token is required when bind is not loopback "
                  "(\"0.0.0.0:9901\" lets other hosts drain backends and reload)"});
}

TEST(AdminConfig, BadValues) {
    expectErrors("bind = \"127.0.0.1\"",
                 {"t.toml:2:8: 'bind': invalid address \"127.0.0.1\": missing port (use host:port "
                  "or [ipv6]:port)"});
    expectErrors("bind = \"127.0.0.1:70000\"",
                 {"t.toml:2:8: 'bind': invalid address \"127.0.0.1:70000\": port must be a "
                  "number from 0 to 65535"});
    expectErrors("bind = 9901", {"t.toml:2:8: 'bind' must be a string, not an integer"});
    expectErrors("bind = \"127.0.0.1:1\"\ntoken = \"two words\"",
                 {"t.toml:3:9: 'token' must be visible ASCII characters only (no spaces, tabs or "
                  "control characters)"});
    expectErrors("bind = \"127.0.0.1:1\"\ntoken = \"tab\\there\"",
                 {"t.toml:3:9: 'token' must be visible ASCII characters only (no spaces, tabs or "
                  "control characters)"});
    expectErrors("bind = \"127.0.0.1:1\"\ntoken = \"nul\\u0001\"",
                 {"t.toml:3:9: 'token' must be visible ASCII characters only (no spaces, tabs or "
                  "control characters)"});
    expectErrors("protect_reads = \"yes\"",
                 {"t.toml:2:17: 'protect_reads' must be a boolean (true or false), not a "
                  "string"});
    expectErrors("bind = \"127.0.0.1:1\"\nprotect_reads = true",
                 {"t.toml:3:17: 'protect_reads' needs a 'token' (there is nothing to require)"});
}

}  // namespace
}  // namespace postern::config
