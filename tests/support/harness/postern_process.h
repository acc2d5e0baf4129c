// One run of the real postern binary: writes its config into a TempDir, posix_spawns it with
// stdout and stderr redirected to files there, and reads those files to wait for log lines.
// The destructor SIGKILLs the process (by PID) if it still runs and reaps it. Owned and used by
// one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <regex>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "harness/blocking_client.h"
#include "harness/line_pattern.h"
#include "harness/socket_address.h"
#include "harness/temp_dir.h"

namespace postern::test {

enum class Stream { Stdout, Stderr };

class PosternProcess {
public:
    explicit PosternProcess(std::filesystem::path binary);
    ~PosternProcess();
    PosternProcess(const PosternProcess&) = delete;
    PosternProcess& operator=(const PosternProcess&) = delete;

    /** Writes `toml` to <dir>/<name> and returns its path. */
    std::filesystem::path writeConfig(std::string_view toml, std::string_view name = "postern.toml");
    /** Spawns `binary args...` in `working_dir` (default: the temp dir). Throws
     * std::runtime_error if it cannot. */
    void start(const std::vector<std::string>& args,
               const std::filesystem::path& working_dir = {});
    /** writeConfig(toml) + start({"run", "-c", <path>}). */
    void run(std::string_view toml);
    /** Adds `entry` ("NAME=value") to the environment the next start() passes on with the test's. */
    void addEnv(std::string entry) { env_.push_back(std::move(entry)); }

    pid_t pid() const { return pid_; }
    const TempDir& dir() const { return dir_; }
    std::filesystem::path stdoutPath() const;
    std::filesystem::path stderrPath() const;
    std::string stdoutText() const;
    std::string stderrText() const;
    std::vector<std::string> lines(Stream s) const;
    /** Lines of `s` that `pattern` matches. */
    std::vector<std::string> matchingLines(const LinePattern& pattern, Stream s) const;
    /** Same with a std::regex (regex_search); LinePattern compiles faster in test files. */
    std::vector<std::string> matchingLines(const std::regex& re, Stream s) const;

    /** Waits until the `occurrence`-th line of `s` matching `pattern` is there, and returns it.
     * Gives up early when the process has exited and the line is not in its output. */
    std::optional<std::string> waitForLine(const LinePattern& pattern, Millis timeout,
                                           Stream s = Stream::Stderr, std::size_t occurrence = 1);
    std::optional<std::string> waitForLine(const std::regex& re, Millis timeout,
                                           Stream s = Stream::Stderr, std::size_t occurrence = 1);
    /** Waits for `msg=ready`. */
    bool waitReady(Millis timeout);
    /** The addresses of `msg=listening listener=<name>` lines (waits for at least one). */
    std::vector<SocketAddress> listeningAddresses(std::string_view listener, Millis timeout);
    /** The port of the first listening address of `listener`, or 0 if none appeared in time. */
    std::uint16_t listeningPort(std::string_view listener, Millis timeout);

    /** kill(pid, sig) while the process runs; false if it has already been reaped. */
    bool sendSignal(int sig);
    /** Exit code once it exits (128 + signal when killed by one), or nullopt on timeout. */
    std::optional<int> waitExit(Millis timeout);
    /** Exit code if it has exited (reaps it), without waiting. */
    std::optional<int> exitCode();
    bool running();
    /** SIGKILL + reap, if still running. */
    void kill();

    /** Both logs, for a failure message. */
    void dumpLogs(std::ostream& out) const;
    /** The first line of a sanitizer report (ASan, LSan, UBSan, TSan) on stderr, if any. */
    std::optional<std::string> sanitizerReport() const;

private:
    using LineMatcher = std::function<bool(const std::string&)>;
    std::vector<std::string> matching(const LineMatcher& match, Stream s) const;
    std::optional<std::string> waitFor(const LineMatcher& match, Millis timeout, Stream s,
                                       std::size_t occurrence);

    std::filesystem::path binary_;
    TempDir dir_;
    std::vector<std::string> args_;
    std::vector<std::string> env_;
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
};

/** Runs `binary args...` to completion (bounded by `timeout`, then SIGKILL) and returns its exit
 * code with stdout and stderr. For short commands such as `postern check`. */
struct CommandResult {
    std::optional<int> exit_code;  ///< nullopt: timed out and was killed
    std::string out;
    std::string err;
};
CommandResult runCommand(const std::filesystem::path& binary, const std::vector<std::string>& args,
                         Millis timeout, const std::filesystem::path& working_dir = {});

}  // namespace postern::test
