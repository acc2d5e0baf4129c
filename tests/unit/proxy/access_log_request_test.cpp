// The per-request access-log record of HTTP listeners, in both formats.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "proxy/access_log.h"

namespace postern::proxy {
namespace {

namespace fs = std::filesystem;

std::string writeOne(config::AccessFormat format, const RequestRecord& r) {
    const fs::path path = fs::temp_directory_path() /
                          ("postern-request-record-" +
                           std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
                           ".log");
    std::error_code ignored;
    fs::remove(path, ignored);
    config::LogConfig cfg;
    cfg.access = path.string();
    cfg.format = format;
    std::string error;
    auto log = AccessLog::open(cfg, &error);
    EXPECT_TRUE(log) << error;
    if (!log) return {};
    log->write(r);
    log.reset();
    std::stringstream text;
    {
        std::ifstream in(path, std::ios::binary);
        text << in.rdbuf();
    }  // closed before the removal: Windows does not delete a file that is open
    fs::remove(path, ignored);
    return text.str();
}

RequestRecord sample() {
    RequestRecord r;
    r.listener = "web";
    r.client = "127.0.0.1:5000";
    r.method = "GET";
    r.host = "example.com";
    r.path = "/a b";
    r.status = 200;
    r.pool = "site";
    r.backend = "127.0.0.1:8080";
    r.bytes_in = 78;
    r.bytes_out = 1234;
    r.connect_ms = 1;
    r.first_byte_ms = 2;
    r.total_ms = 3;
    r.attempts = 1;
    r.reused = true;
    r.cause = "complete";
    return r;
}

TEST(AccessLogRequestTest, LogfmtHasEveryField) {
    const std::string line = writeOne(config::AccessFormat::Logfmt, sample());
    EXPECT_NE(line.find(" listener=web client=127.0.0.1:5000 method=GET host=example.com "
                        "path=\"/a b\" status=200 pool=site backend=127.0.0.1:8080 bytes_in=78 "
                        "bytes_out=1234 connect_ms=1 first_byte_ms=2 total_ms=3 attempts=1 "
                        "reused=1 cause=complete\n"),
              std::string::npos)
        << line;
    EXPECT_EQ(line.rfind("time=", 0), 0u) << line;
}

TEST(AccessLogRequestTest, MissingPartsAreDashes) {
    RequestRecord r;
    r.listener = "web";
    r.client = "[::1]:5000";
    r.status = 400;
    r.cause = "bad_request";
    const std::string line = writeOne(config::AccessFormat::Logfmt, r);
    EXPECT_NE(line.find(" method=- host=- path=- status=400 pool=- backend=- bytes_in=0 "
                        "bytes_out=0 connect_ms=-1 first_byte_ms=-1 total_ms=0 attempts=0 "
                        "reused=0 cause=bad_request\n"),
              std::string::npos)
        << line;
}

TEST(AccessLogRequestTest, JsonHasEveryField) {
    const std::string line = writeOne(config::AccessFormat::Json, sample());
    EXPECT_NE(line.find("\"listener\":\"web\",\"client\":\"127.0.0.1:5000\",\"method\":\"GET\","
                        "\"host\":\"example.com\",\"path\":\"/a b\",\"status\":200,\"pool\":"
                        "\"site\",\"backend\":\"127.0.0.1:8080\",\"bytes_in\":78,\"bytes_out\":"
                        "1234,\"connect_ms\":1,\"first_byte_ms\":2,\"total_ms\":3,\"attempts\":1,"
                        "\"reused\":true,\"cause\":\"complete\"}\n"),
              std::string::npos)
        << line;
}

}  // namespace
}  // namespace postern::proxy
