// The diagnostics log: journal priority prefixes, the [log] file with its reopen (SIGUSR1), and a
// file that cannot be written (reported once on stderr, where its lines then go).
#include "common/log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

namespace postern::common {
namespace {

namespace fs = std::filesystem;

TEST(LogTest, JournalPrefixesAreTheSdDaemonPriorities) {
    EXPECT_EQ(journalPrefix(LogLevel::Error), "<3>");  // LOG_ERR
    EXPECT_EQ(journalPrefix(LogLevel::Warn), "<4>");   // LOG_WARNING
    EXPECT_EQ(journalPrefix(LogLevel::Info), "<6>");   // LOG_INFO
    EXPECT_EQ(journalPrefix(LogLevel::Debug), "<7>");  // LOG_DEBUG
    EXPECT_EQ(journalPrefix(LogLevel::Trace), "<7>");
}

TEST(LogTest, LogfmtValuesAppendedAndReturnedAlike) {
    std::string out = "k=";
    appendLogfmtValue(out, "a b\"c");
    EXPECT_EQ(out, "k=\"a b\\\"c\"");
    EXPECT_EQ(logfmtValue(""), "\"\"");
    EXPECT_EQ(logfmtValue("plain"), "plain");
}

/** What reaches stderr's place (the sink) while a test runs; the file target off afterwards. */
class LogFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stderr_lines_.clear();
        }
        Log::setSink(&sink);
        dir_ = fs::temp_directory_path() /
               ("postern-log-file-" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::string error;
        EXPECT_TRUE(Log::setFile("", &error));
        Log::setSink(nullptr);
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    static std::vector<std::string> stderrMatching(std::string_view needle) {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<std::string> out;
        for (const auto& l : stderr_lines_)
            if (l.find(needle) != std::string::npos) out.push_back(l);
        return out;
    }
    static std::string read(const fs::path& path) {
        std::stringstream text;
        std::ifstream in(path, std::ios::binary);
        text << in.rdbuf();
        return text.str();
    }
    fs::path dir_;

private:
    static void sink(LogLevel, std::string_view line) {
        std::lock_guard<std::mutex> lock(mutex_);
        stderr_lines_.emplace_back(line);
    }
    static inline std::mutex mutex_;
    static inline std::vector<std::string> stderr_lines_;
};

TEST_F(LogFileTest, LinesGoToTheFileAndToTheNewOneAfterAReopen) {
    const fs::path file = dir_ / "postern.log";
    std::string error;
    ASSERT_TRUE(Log::setFile(file.string(), &error)) << error;
    Log::write(LogLevel::Info, "first", "n=1");
    EXPECT_NE(read(file).find("level=info msg=first n=1\n"), std::string::npos) << read(file);
    EXPECT_TRUE(stderrMatching("first").empty());

#ifndef _WIN32                                 // Windows does not rename a file that is open
    fs::rename(file, dir_ / "postern.log.1");  // what logrotate does, then SIGUSR1
    ASSERT_TRUE(Log::reopenFile(&error)) << error;
    Log::write(LogLevel::Warn, "second");
    EXPECT_NE(read(file).find("level=warn msg=second\n"), std::string::npos) << read(file);
    EXPECT_EQ(read(file).find("first"), std::string::npos);
    EXPECT_EQ(read(dir_ / "postern.log.1").find("second"), std::string::npos);
#else
    ASSERT_TRUE(Log::reopenFile(&error)) << error;
#endif

    ASSERT_TRUE(Log::setFile("", &error));  // back to stderr
    Log::write(LogLevel::Info, "third");
    EXPECT_EQ(stderrMatching("msg=third").size(), 1u);
    EXPECT_EQ(read(file).find("third"), std::string::npos);
}

TEST_F(LogFileTest, AFileThatCannotBeOpenedKeepsTheOldTarget) {
    std::string error;
    EXPECT_FALSE(Log::setFile((dir_ / "missing" / "postern.log").string(), &error));
    EXPECT_NE(error.find("cannot open log file"), std::string::npos) << error;
    Log::write(LogLevel::Info, "still here");
    EXPECT_EQ(stderrMatching("still here").size(), 1u);
}

#ifdef __linux__
TEST_F(LogFileTest, AnUnwritableFileIsReportedOnceAndItsLinesGoToStderr) {
    const fs::path link = dir_ / "postern.log";
    fs::create_symlink("/dev/full", link);  // every write: ENOSPC
    std::string error;
    ASSERT_TRUE(Log::setFile(link.string(), &error)) << error;
    Log::write(LogLevel::Info, "one");
    Log::write(LogLevel::Info, "two");
    const auto notes = stderrMatching("log file cannot be written");
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("file=" + link.string()), std::string::npos) << notes[0];
    EXPECT_NE(notes[0].find("error=\"No space left on device\""), std::string::npos) << notes[0];
    EXPECT_EQ(stderrMatching("msg=one").size(), 1u);  // not lost
    EXPECT_EQ(stderrMatching("msg=two").size(), 1u);

    fs::remove(link);
    ASSERT_TRUE(Log::reopenFile(&error)) << error;  // a regular file now
    Log::write(LogLevel::Info, "three");
    const std::string text = read(link);
    EXPECT_NE(text.find("msg=three"), std::string::npos) << text;
    EXPECT_NE(text.find("msg=\"log file written again; lines in between went to stderr\""),
              std::string::npos)
        << text;
    EXPECT_EQ(stderrMatching("log file cannot be written").size(), 1u);
}
#endif

}  // namespace
}  // namespace postern::common
