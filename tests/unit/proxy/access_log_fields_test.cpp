// The access log's chosen fields, "-" for empty values in both formats, and a target that fails
// reported once in the diagnostics log (and once again when it works again).
#include <gtest/gtest.h>

#ifndef _WIN32
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "common/log.h"
#include "proxy/access_log.h"

namespace postern::proxy {
namespace {

namespace fs = std::filesystem;
using config::AccessField;
using config::AccessFormat;

/** The diagnostics log while a test runs: every line the process logs. */
class CapturedLog {
public:
    CapturedLog() {
        std::lock_guard<std::mutex> lock(mutex_);
        lines_.clear();
        common::Log::setSink(&sink);
    }
    ~CapturedLog() { common::Log::setSink(nullptr); }
    std::vector<std::string> matching(std::string_view needle) const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<std::string> out;
        for (const auto& l : lines_)
            if (l.find(needle) != std::string::npos) out.push_back(l);
        return out;
    }

private:
    static void sink(common::LogLevel, std::string_view line) {
        std::lock_guard<std::mutex> lock(mutex_);
        lines_.emplace_back(line);
    }
    static inline std::mutex mutex_;
    static inline std::vector<std::string> lines_;
};

fs::path tempPath(std::string_view suffix) {
    return fs::temp_directory_path() /
           ("postern-access-fields-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
            std::string(suffix));
}

std::string readFile(const fs::path& path) {
    std::stringstream text;
    std::ifstream in(path, std::ios::binary);
    text << in.rdbuf();
    return text.str();
}

/** Writes `r` with `fields` in `format` to a file and returns what was written. */
template <typename Record>
std::string writeOne(AccessFormat format, std::vector<AccessField> fields, const Record& r) {
    const fs::path path = tempPath(".log");
    std::error_code ignored;
    fs::remove(path, ignored);
    config::LogConfig cfg;
    cfg.access = path.string();
    cfg.format = format;
    cfg.fields = std::move(fields);
    std::string error;
    auto log = AccessLog::open(cfg, &error);
    EXPECT_TRUE(log) << error;
    if (!log) return {};
    log->write(r);
    log.reset();
    std::string text = readFile(path);
    fs::remove(path, ignored);
    return text;
}

AccessRecord plainConnection() {
    AccessRecord r;
    r.listener = "db";
    r.client = "127.0.0.1:4000";
    r.pool = "";  // refused before a pool was chosen
    r.bytes_in = 5;
    r.cause = "no_backend";
    return r;
}

TEST(AccessLogFieldsTest, ChosenFieldsInTheirOrderLogfmt) {
    EXPECT_EQ(writeOne(AccessFormat::Logfmt,
                       {AccessField::Cause, AccessField::Listener, AccessField::BytesIn},
                       plainConnection()),
              "cause=no_backend listener=db bytes_in=5\n");
}

TEST(AccessLogFieldsTest, ChosenFieldsInTheirOrderJson) {
    EXPECT_EQ(writeOne(AccessFormat::Json,
                       {AccessField::Cause, AccessField::Listener, AccessField::ConnectMs},
                       plainConnection()),
              "{\"cause\":\"no_backend\",\"listener\":\"db\",\"connect_ms\":-1}\n");
}

TEST(AccessLogFieldsTest, EmptyValuesAreDashesInBothFormatsAndNumbersStayNumbers) {
    const std::vector<AccessField> fields = {AccessField::Pool, AccessField::Backend,
                                             AccessField::FirstByteMs, AccessField::Attempts};
    EXPECT_EQ(writeOne(AccessFormat::Logfmt, fields, plainConnection()),
              "pool=- backend=- first_byte_ms=-1 attempts=0\n");
    EXPECT_EQ(writeOne(AccessFormat::Json, fields, plainConnection()),
              "{\"pool\":\"-\",\"backend\":\"-\",\"first_byte_ms\":-1,\"attempts\":0}\n");
    // The default (every field): the same dashes.
    const std::string all =
        writeOne(AccessFormat::Json, config::allAccessFields(), plainConnection());
    EXPECT_NE(all.find(",\"pool\":\"-\",\"backend\":\"-\","), std::string::npos) << all;
    EXPECT_EQ(all.find("\"\""), std::string::npos) << all;
}

TEST(AccessLogFieldsTest, TlsFieldsOnlyWhereTheRecordHasThem) {
    const std::vector<AccessField> fields = {AccessField::Sni, AccessField::Alpn,
                                             AccessField::TlsHandshakeMs, AccessField::Cause};
    EXPECT_EQ(writeOne(AccessFormat::Logfmt, fields, plainConnection()), "cause=no_backend\n");
    AccessRecord tls = plainConnection();
    tls.tls = true;
    tls.sni = "db.example";
    tls.tls_handshake_ms = 3;
    EXPECT_EQ(writeOne(AccessFormat::Logfmt, fields, tls),
              "sni=db.example alpn=- tls_handshake_ms=3 cause=no_backend\n");
}

TEST(AccessLogFieldsTest, RequestRecordsWriteTheirFieldsAndSkipConnectionOnes) {
    RequestRecord r;
    r.listener = "web";
    r.client = "[::1]:5000";
    r.status = 400;
    r.reused = false;
    r.cause = "bad_request";
    const std::vector<AccessField> fields = {AccessField::Status, AccessField::Sni,
                                             AccessField::Method, AccessField::Reused,
                                             AccessField::Cause};
    EXPECT_EQ(writeOne(AccessFormat::Logfmt, fields, r),
              "status=400 method=- reused=0 cause=bad_request\n");
    EXPECT_EQ(writeOne(AccessFormat::Json, fields, r),
              "{\"status\":400,\"method\":\"-\",\"reused\":false,\"cause\":\"bad_request\"}\n");
    // None of the chosen fields is a request's: no line at all.
    EXPECT_EQ(writeOne(AccessFormat::Logfmt, {AccessField::TlsVersion}, r), "");
}

#ifdef __linux__
// A file that cannot take the lines (here: /dev/full behind a symlink, ENOSPC on every write)
// is reported once, not per record; after the SIGUSR1 reopen finds a good file, once again with
// the count of records lost.
TEST(AccessLogFieldsTest, FailingFileIsReportedOnceAndItsRecoveryOnce) {
    const fs::path link = tempPath(".link");
    const fs::path good = tempPath(".good");
    std::error_code ignored;
    fs::remove(link, ignored);
    fs::remove(good, ignored);
    fs::create_symlink("/dev/full", link);
    CapturedLog captured;
    config::LogConfig cfg;
    cfg.access = link.string();
    cfg.fields = {AccessField::Listener, AccessField::Cause};
    std::string error;
    auto log = AccessLog::open(cfg, &error);
    ASSERT_TRUE(log) << error;
    for (int i = 0; i < 3; ++i) log->write(plainConnection());
    auto failures = captured.matching("access log cannot be written");
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_NE(failures[0].find("level=error"), std::string::npos) << failures[0];
    EXPECT_NE(failures[0].find("target=" + link.string()), std::string::npos) << failures[0];
    EXPECT_NE(failures[0].find("error=\"No space left on device\""), std::string::npos)
        << failures[0];
    EXPECT_TRUE(captured.matching("access log written again").empty());

    fs::remove(link);
    fs::create_symlink(good, link);
    ASSERT_TRUE(log->reopen(&error)) << error;
    log->write(plainConnection());
    log->write(plainConnection());
    auto recovered = captured.matching("access log written again");
    ASSERT_EQ(recovered.size(), 1u);
    EXPECT_NE(recovered[0].find(" lost=3"), std::string::npos) << recovered[0];
    EXPECT_EQ(readFile(good), "listener=db cause=no_backend\nlistener=db cause=no_backend\n");
    EXPECT_EQ(captured.matching("access log cannot be written").size(), 1u);
    log.reset();
    fs::remove(link, ignored);
    fs::remove(good, ignored);
}
#endif

#ifndef _WIN32
/** A syslog daemon's socket: a bound Unix datagram socket at `path`. */
class SyslogPeer {
public:
    explicit SyslogPeer(const fs::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        timeval tv{0, 100 * 1000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~SyslogPeer() {
        ::close(fd_);
        std::error_code ignored;
        fs::remove(path_, ignored);
    }
    bool bound() const { return bound_; }
    /** The next datagram, or "" after 100 ms. */
    std::string receive() {
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
    }

private:
    fs::path path_;
    int fd_ = -1;
    bool bound_ = false;
};

fs::path syslogPath() {
    // sun_path is short: a name under /tmp, not the (maybe long) temp directory.
    return fs::path("/tmp") / ("postern-syslog-" + std::to_string(::getpid()) + ".sock");
}

TEST(AccessLogFieldsTest, SyslogRecordsAreDatagramsInTheSyslogFormat) {
    const fs::path path = syslogPath();
    SyslogPeer peer(path);
    ASSERT_TRUE(peer.bound()) << std::strerror(errno);
    CapturedLog captured;
    config::LogConfig cfg;
    cfg.access = "syslog";
    cfg.syslog_socket = path.string();
    cfg.fields = {AccessField::Listener, AccessField::Pool};
    std::string error;
    auto log = AccessLog::open(cfg, &error);
    ASSERT_TRUE(log) << error;
    log->write(plainConnection());
    const std::string datagram = peer.receive();
    // "<30>" = daemon.info; then "Mmm dd hh:mm:ss postern[pid]: " and the record without '\n'.
    EXPECT_EQ(datagram.rfind("<30>", 0), 0u) << datagram;
    const std::string tail = "postern[" + std::to_string(::getpid()) + "]: listener=db pool=-";
    ASSERT_GE(datagram.size(), tail.size());
    EXPECT_EQ(datagram.substr(datagram.size() - tail.size()), tail) << datagram;
    EXPECT_TRUE(captured.matching("access log").empty());
}

TEST(AccessLogFieldsTest, MissingSyslogSocketIsReportedOnceAndItsReturnOnce) {
    const fs::path path = syslogPath();
    std::error_code ignored;
    fs::remove(path, ignored);
    CapturedLog captured;
    config::LogConfig cfg;
    cfg.access = "syslog";
    cfg.syslog_socket = path.string();
    std::string error;
    auto log = AccessLog::open(cfg, &error);
    ASSERT_TRUE(log) << error;
    // Reported when opened, before any record, and not again per record.
    ASSERT_EQ(captured.matching("access log cannot be written").size(), 1u);
    EXPECT_NE(captured.matching("access log cannot be written")[0].find(
                  "target=syslog error=\"No such file or directory\""),
              std::string::npos);
    for (int i = 0; i < 5; ++i) log->write(plainConnection());
    EXPECT_EQ(captured.matching("access log cannot be written").size(), 1u);

    // The daemon comes (back): within the retry interval (1 s) records get through again.
    SyslogPeer peer(path);
    ASSERT_TRUE(peer.bound()) << std::strerror(errno);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string datagram;
    while (datagram.empty() && std::chrono::steady_clock::now() < deadline) {
        log->write(plainConnection());
        datagram = peer.receive();  // waits up to 100 ms
    }
    ASSERT_FALSE(datagram.empty());
    auto recovered = captured.matching("access log written again");
    ASSERT_EQ(recovered.size(), 1u);
    EXPECT_NE(recovered[0].find("target=syslog lost="), std::string::npos) << recovered[0];
    EXPECT_EQ(recovered[0].find(" lost=0"), std::string::npos) << recovered[0];
    EXPECT_EQ(captured.matching("access log cannot be written").size(), 1u);
}
#endif

}  // namespace
}  // namespace postern::proxy
