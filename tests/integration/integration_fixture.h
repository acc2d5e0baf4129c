// Shared pieces of the integration tests: where the binary is, a fixture that owns the postern
// processes a test starts (and prints their logs when the test failed), TOML snippets, and small
// client routines. Test thread only.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "harness/blocking_client.h"
#include "harness/line_pattern.h"
#include "harness/postern_process.h"
#include "harness/test_backend.h"

namespace postern::test {

using namespace std::chrono_literals;

/** Generous: the same tests run under AddressSanitizer on a busy 2-core machine. */
inline constexpr Millis kStartTimeout{15000};
inline constexpr Millis kIoTimeout{10000};

std::filesystem::path posternBinary();

/** A log line that has every key=value of `fields` (any order); see also fieldPattern(). */
inline LinePattern logLine(const std::map<std::string, std::string>& fields) {
    return LinePattern::withFields(fields);
}
/** The same as a std::regex (slower to compile: prefer logLine). */
std::regex lineWith(const std::map<std::string, std::string>& fields);

/** [gateway] + [log] with the access log on stdout. */
std::string gatewayToml(int workers = 2, std::string_view extra_gateway = {});
/** One [[listener]] (protocol tcp). `bind` is a TOML array body, e.g. "\"127.0.0.1:0\"". */
std::string listenerToml(std::string_view name, std::string_view pool,
                         std::string_view extra = {}, std::string_view bind = "\"127.0.0.1:0\"");
/** One [[pool]] with round_robin and static discovery of `targets` ("ip:port"). The strings are
 * the bodies of [pool] (before the sub-tables), [pool.backend], and [pool.probe] (tcp probe;
 * empty = no probe section, so no health checks). */
std::string poolToml(std::string_view name, const std::vector<std::string>& targets,
                     std::string_view extra = {}, std::string_view backend = {},
                     std::string_view probe = {});
std::vector<std::string> addressesOf(const std::vector<const TestBackend*>& backends);

/** Connects and reads the first line (an IdThenEcho backend's id, without "\n"); nullopt if the
 * connection failed or was closed first. */
std::optional<std::string> connectAndReadId(std::string_view ip, std::uint16_t port,
                                            Millis timeout);
/** Reads up to and including the next "\n" (returned without it). */
std::optional<std::string> readLine(BlockingClient& c, Millis timeout);
/** Sends `data` and expects it echoed back. */
::testing::AssertionResult echoRoundTrip(BlockingClient& c, std::string_view data,
                                         Millis timeout = kIoTimeout);
/** Connects until every id in `ids` (IdThenEcho backends) has answered: backends are probed
 * before they get traffic, so the first connections may be refused. Bounded in count and time. */
::testing::AssertionResult waitUntilAllServe(std::uint16_t port, const std::set<std::string>& ids);
/** A loopback port on which nothing listens (bound, then closed). */
std::uint16_t deadPort();
/** Milliseconds since `start`, as a double. */
double msSince(std::chrono::steady_clock::time_point start);

/** Owns the postern processes of a test. TearDown ends them (SIGKILL by PID if still running),
 * fails the test if any of them printed a sanitizer report, and prints their logs on failure. */
class IntegrationTest : public ::testing::Test {
protected:
    void TearDown() override;

    /** A PosternProcess owned by the test (its logs are printed if the test fails). */
    PosternProcess& newProcess();
    /** newProcess() + run(toml). Check waitReady() / listeningPort() in the test. */
    PosternProcess& runPostern(std::string_view toml);
    /** Runs `postern args...` to completion (SIGKILL after `timeout`), e.g. `check -c FILE`. */
    CommandResult runPosternCommand(const std::vector<std::string>& args,
                                    Millis timeout = kStartTimeout,
                                    const std::filesystem::path& working_dir = {});

private:
    std::vector<std::unique_ptr<PosternProcess>> processes_;
};

}  // namespace postern::test
