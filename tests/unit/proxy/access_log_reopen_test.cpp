// AccessLog::reopen (SIGUSR1 after a rotation): workers keep writing while the file is renamed and
// reopened; every line lands whole in the old file or the new one, none is lost or torn.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proxy/access_log.h"

namespace postern::proxy {
namespace {

namespace fs = std::filesystem;

[[maybe_unused]] std::vector<std::string> linesOf(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

class AccessLogReopenTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("postern-access-" +
                std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
                std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

[[maybe_unused]] AccessRecord record(std::string_view listener) {
    AccessRecord r;
    r.listener = listener;
    r.client = "127.0.0.1:1";
    r.pool = "p";
    r.cause = "client_fin";
    return r;
}

// Renaming an open file is a POSIX thing (Windows' CRT opens without FILE_SHARE_DELETE).
#ifndef _WIN32
TEST_F(AccessLogReopenTest, ConcurrentWritersLoseNoLineAcrossARotation) {
    config::LogConfig cfg;
    cfg.access = (dir_ / "access.log").string();
    std::string error;
    auto log = AccessLog::open(cfg, &error);
    ASSERT_TRUE(log) << error;

    // The writers run until told to stop: some lines before the rotation, some during, some
    // after (bounded by counts, not by time).
    constexpr int kThreads = 4;
    std::atomic<int> written{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t)
        writers.emplace_back([&, t] {
            const std::string name = "w" + std::to_string(t);
            for (int i = 0; i < 1'000'000 && !stop.load(); ++i) {
                log->write(record(name));
                written.fetch_add(1);
            }
        });
    while (written.load() < 1000) std::this_thread::yield();
    // Rotate while they write: rename, then reopen (what logrotate + SIGUSR1 do).
    fs::rename(dir_ / "access.log", dir_ / "access.log.1");
    const bool reopened = log->reopen(&error);
    const int at_reopen = written.load();
    while (written.load() < at_reopen + 1000) std::this_thread::yield();
    stop.store(true);
    for (auto& w : writers) w.join();
    ASSERT_TRUE(reopened) << error;

    const auto old_lines = linesOf(dir_ / "access.log.1");
    const auto new_lines = linesOf(dir_ / "access.log");
    EXPECT_EQ(old_lines.size() + new_lines.size(), static_cast<std::size_t>(written.load()));
    EXPECT_FALSE(new_lines.empty()) << "the reopened file must get the lines written after it";
    EXPECT_FALSE(old_lines.empty());
    for (const auto* lines : {&old_lines, &new_lines})
        for (const auto& l : *lines) {
            ASSERT_EQ(l.rfind("time=", 0), 0u) << "torn line: " << l;
            ASSERT_NE(l.find(" cause=client_fin"), std::string::npos) << "torn line: " << l;
        }
}

TEST_F(AccessLogReopenTest, AFailedReopenKeepsTheOldFile) {
    config::LogConfig cfg;
    const fs::path sub = dir_ / "sub";
    fs::create_directories(sub);
    cfg.access = (sub / "access.log").string();
    std::string error;
    auto log = AccessLog::open(cfg, &error);
    ASSERT_TRUE(log) << error;
    fs::rename(sub, dir_ / "moved");  // the folder is gone: the path cannot be created again
    EXPECT_FALSE(log->reopen(&error));
    EXPECT_NE(error.find("cannot reopen access log '" + cfg.access + "'"), std::string::npos)
        << error;
    log->write(record("after"));
    EXPECT_EQ(linesOf(dir_ / "moved" / "access.log").size(), 1u);
}

#endif

TEST_F(AccessLogReopenTest, NonFileTargetsHaveNothingToReopen) {
    for (const char* target : {"stdout", "stderr", "off"}) {
        config::LogConfig cfg;
        cfg.access = target;
        std::string error;
        auto log = AccessLog::open(cfg, &error);
        ASSERT_TRUE(log) << error;
        EXPECT_TRUE(log->reopen(&error)) << target;
    }
}

}  // namespace
}  // namespace postern::proxy
