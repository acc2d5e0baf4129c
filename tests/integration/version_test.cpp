// `postern version` (one line) and `postern version -v` (SPEC §5; the build details a bug report
// needs), run as a user would.
#include <openssl/crypto.h>
#include <postern/plugin/abi.h>

#include <sstream>
#include <string>
#include <vector>

#include "integration_fixture.h"

namespace postern::test {
namespace {

using VersionTest = IntegrationTest;

std::vector<std::string> linesOf(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

TEST_F(VersionTest, PlainVersionIsOneLine) {
    const CommandResult r = runPosternCommand({"version"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "postern " POSTERN_VERSION "\n");
    EXPECT_EQ(r.err, "");
}

TEST_F(VersionTest, VerboseVersionListsTheBuildDetails) {
    for (const char* flag : {"-v", "--verbose"}) {
        const CommandResult r = runPosternCommand({"version", flag});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        const auto lines = linesOf(r.out);
        ASSERT_FALSE(lines.empty());
        EXPECT_EQ(lines[0], "postern " POSTERN_VERSION);
        std::vector<std::string> keys;
        for (std::size_t i = 1; i < lines.size(); ++i) {
            const auto colon = lines[i].find(": ");
            ASSERT_NE(colon, std::string::npos) << lines[i];
            EXPECT_GT(lines[i].size(), colon + 2) << "empty value: " << lines[i];
            keys.push_back(lines[i].substr(0, colon));
        }
        EXPECT_EQ(keys, (std::vector<std::string>{"compiler", "c++", "build type", "target",
                                                  "openssl (built with)", "openssl (running)",
                                                  "poco (built with)", "poco (running)", "boost",
                                                  "toml++", "plugin abi"}));
        // The OpenSSL the binary runs with is the system's, the one this test process loaded.
        EXPECT_NE(r.out.find(std::string("openssl (running): ") + OpenSSL_version(OPENSSL_VERSION) +
                             "\n"),
                  std::string::npos)
            << r.out;
        EXPECT_NE(r.out.find("\nplugin abi: " + std::to_string(POSTERN_PLUGIN_ABI_VERSION) + "\n"),
                  std::string::npos)
            << r.out;
    }
}

TEST_F(VersionTest, VerboseIsOnlyAnOptionOfVersion) {
    const CommandResult r = runPosternCommand({"plugins", "-v"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("unknown argument '-v'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace postern::test
