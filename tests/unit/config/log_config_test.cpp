// [log]: the diagnostics log file and the access log's fields, with positioned errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/loader.h"
#include "unit/config/load_helpers.h"

namespace postern::config {
namespace {

using test::errorLines;
using test::loadText;
using Lines = std::vector<std::string>;

std::string withLog(std::string_view log_keys) {
    return "[log]\n" + std::string(log_keys) +
           "\n[[listener]]\nname = \"l\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n" +
           std::string(test::kMinimalPool);
}

TEST(LogConfig, FieldsDefaultToAllInTheRecordsOrder) {
    LoadResult r = loadText(withLog(""));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->log.fields, allAccessFields());
    ASSERT_EQ(allAccessFields().size(), kAccessFieldCount);
    EXPECT_EQ(allAccessFields().front(), AccessField::Time);
    EXPECT_TRUE(r.config->log.file.empty());
}

TEST(LogConfig, FieldsAreKeptInTheGivenOrder) {
    LoadResult r = loadText(withLog(R"(fields = ["cause", "client", "time", "tls_error"])"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->log.fields,
              (std::vector<AccessField>{AccessField::Cause, AccessField::Client, AccessField::Time,
                                        AccessField::TlsError}));
}

TEST(LogConfig, UnknownFieldIsAnErrorAtItsPositionListingTheValidOnes) {
    EXPECT_EQ(errorLines(loadText(withLog(R"(fields = ["time", "user_agent", "cause", "clent"])"))),
              (Lines{"t.toml:2:19: unknown access log field \"user_agent\" in 'fields'; the fields "
                     "are: time, listener, client, method, host, path, status, pool, backend, "
                     "bytes_in, bytes_out, connect_ms, first_byte_ms, total_ms, attempts, reused, "
                     "sni, alpn, tls_version, tls_handshake_ms, cause, tls_error",
                     "t.toml:2:42: unknown access log field \"clent\" in 'fields'; the fields "
                     "are: time, listener, client, method, host, path, status, pool, backend, "
                     "bytes_in, bytes_out, connect_ms, first_byte_ms, total_ms, attempts, reused, "
                     "sni, alpn, tls_version, tls_handshake_ms, cause, tls_error"}));
}

TEST(LogConfig, EmptyDuplicatedOrMistypedFieldsAreErrors) {
    EXPECT_EQ(errorLines(loadText(withLog("fields = []"))),
              (Lines{"t.toml:2:10: 'fields' must name at least one field (use access = \"off\" "
                     "to disable the access log)"}));
    EXPECT_EQ(errorLines(loadText(withLog(R"(fields = ["cause", "cause"])"))),
              (Lines{"t.toml:2:20: access log field \"cause\" is listed twice in 'fields'"}));
    EXPECT_EQ(errorLines(loadText(withLog("fields = \"cause\""))),
              (Lines{"t.toml:2:10: 'fields' must be an array of strings, not a string"}));
}

class LogFileConfigTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("postern_log_config_" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_ / "logs");
    }
    void TearDown() override {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    LoadResult load(std::string_view log_keys) {
        return loadConfigText(withLog(log_keys), "t.toml", dir_, test::sharedRegistry(),
                              test::testOptions());
    }
    std::filesystem::path dir_;
};

TEST_F(LogFileConfigTest, FileIsResolvedAgainstTheConfigsDirectoryAndNotCreated) {
    LoadResult r = load(R"(file = "logs/postern.log")");
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    EXPECT_EQ(r.config->log.file, (dir_ / "logs" / "postern.log").lexically_normal().string());
    EXPECT_FALSE(std::filesystem::exists(dir_ / "logs" / "postern.log"));
}

TEST_F(LogFileConfigTest, FileInAMissingDirectoryOrEmptyIsAnError) {
    EXPECT_EQ(errorLines(load(R"(file = "nowhere/postern.log")")),
              (Lines{"t.toml:2:8: 'file': directory \"nowhere\" does not exist (create it, "
                     "writable by the user postern runs as)"}));
    EXPECT_EQ(errorLines(load(R"(file = "logs")")),
              (Lines{"t.toml:2:8: 'file': \"logs\" is a directory (name a file in it)"}));
    EXPECT_EQ(errorLines(load(R"(file = "")")),
              (Lines{"t.toml:2:8: 'file' must not be empty (leave it out to log to stderr)"}));
}

}  // namespace
}  // namespace postern::config
