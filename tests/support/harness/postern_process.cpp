#include "harness/postern_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "harness/logfmt.h"

extern char** environ;

namespace postern::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

/** Rounds of a poll loop that sleeps kPollInterval: the time bound as a count bound too. */
int maxRounds(Millis timeout) {
    return static_cast<int>(std::max<long long>(timeout.count(), 0) / kPollInterval.count()) + 2;
}

std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> splitLines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        if (nl == std::string::npos) break;  // an incomplete last line is not a line yet
        out.push_back(text.substr(start, nl - start));
        start = nl + 1;
    }
    return out;
}

int decodeStatus(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

PosternProcess::PosternProcess(std::filesystem::path binary)
    : binary_(std::move(binary)), dir_("postern-it") {}

PosternProcess::~PosternProcess() { kill(); }

std::filesystem::path PosternProcess::writeConfig(std::string_view toml, std::string_view name) {
    return dir_.writeFile(name, toml);
}

std::filesystem::path PosternProcess::stdoutPath() const { return dir_.path() / "stdout.log"; }
std::filesystem::path PosternProcess::stderrPath() const { return dir_.path() / "stderr.log"; }

void PosternProcess::start(const std::vector<std::string>& args,
                           const std::filesystem::path& working_dir) {
    if (pid_ > 0) throw std::runtime_error("PosternProcess: already started");
    args_ = args;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string out = stdoutPath().string();
    const std::string err = stderrPath().string();
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // Relative config paths in tests resolve against the temp dir unless told otherwise.
    const std::string cwd = (working_dir.empty() ? dir_.path() : working_dir).string();
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());

    // The child starts with default dispositions and nothing blocked, whatever the test runner set.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> argv_store;
    argv_store.push_back(binary_.string());
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);

    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (auto& e : env_) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv_store[0].c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        throw std::runtime_error("posix_spawn " + argv_store[0] + ": " + std::strerror(rc));
    pid_ = pid;
    exit_code_.reset();
}

void PosternProcess::run(std::string_view toml) {
    const auto config = writeConfig(toml);
    start({"run", "-c", config.string()});
}

std::string PosternProcess::stdoutText() const { return readFile(stdoutPath()); }
std::string PosternProcess::stderrText() const { return readFile(stderrPath()); }

std::vector<std::string> PosternProcess::lines(Stream s) const {
    return splitLines(s == Stream::Stdout ? stdoutText() : stderrText());
}

std::vector<std::string> PosternProcess::matching(const LineMatcher& match, Stream s) const {
    std::vector<std::string> out;
    for (auto& l : lines(s))
        if (match(l)) out.push_back(std::move(l));
    return out;
}

std::vector<std::string> PosternProcess::matchingLines(const LinePattern& pattern,
                                                       Stream s) const {
    return matching([&](const std::string& l) { return pattern.matches(l); }, s);
}

std::vector<std::string> PosternProcess::matchingLines(const std::regex& re, Stream s) const {
    return matching([&](const std::string& l) { return std::regex_search(l, re); }, s);
}

std::optional<std::string> PosternProcess::waitForLine(const LinePattern& pattern, Millis timeout,
                                                       Stream s, std::size_t occurrence) {
    return waitFor([&](const std::string& l) { return pattern.matches(l); }, timeout, s,
                   occurrence);
}

std::optional<std::string> PosternProcess::waitForLine(const std::regex& re, Millis timeout,
                                                       Stream s, std::size_t occurrence) {
    return waitFor([&](const std::string& l) { return std::regex_search(l, re); }, timeout, s,
                   occurrence);
}

std::optional<std::string> PosternProcess::waitFor(const LineMatcher& match, Millis timeout,
                                                   Stream s, std::size_t occurrence) {
    const auto deadline = Clock::now() + timeout;
    for (int round = 0; round < maxRounds(timeout); ++round) {
        // Checked before reading, so output written just before exit is still seen.
        const bool exited = pid_ <= 0 || exitCode().has_value();
        const auto found = matching(match, s);
        if (found.size() >= occurrence) return found[occurrence - 1];
        if (exited || Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
    const auto found = matching(match, s);
    if (found.size() >= occurrence) return found[occurrence - 1];
    return std::nullopt;
}

bool PosternProcess::waitReady(Millis timeout) {
    static const LinePattern ready(fieldPattern("msg", "ready"));
    return waitForLine(ready, timeout).has_value();
}

std::vector<SocketAddress> PosternProcess::listeningAddresses(std::string_view listener,
                                                              Millis timeout) {
    static const LinePattern listening(fieldPattern("msg", "listening"));
    const auto deadline = Clock::now() + timeout;
    auto collect = [&] {
        std::vector<SocketAddress> out;
        for (const auto& line : matchingLines(listening, Stream::Stderr)) {
            const auto fields = parseLogfmt(line);
            const auto l = fields.find("listener");
            const auto a = fields.find("address");
            if (l == fields.end() || a == fields.end() || l->second != listener) continue;
            if (auto addr = SocketAddress::parse(a->second)) out.push_back(*addr);
        }
        return out;
    };
    for (int round = 0; round < maxRounds(timeout); ++round) {
        const bool exited = !running();
        if (!collect().empty() || exited || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(kPollInterval);
    }
    // A listener with several bind addresses logs one line each; all are there by `ready`.
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
    if (!collect().empty()) waitReady(std::max(left, Millis(0)));
    return collect();
}

std::uint16_t PosternProcess::listeningPort(std::string_view listener, Millis timeout) {
    const auto addrs = listeningAddresses(listener, timeout);
    return addrs.empty() ? 0 : addrs.front().port();
}

bool PosternProcess::sendSignal(int sig) {
    if (pid_ <= 0 || exit_code_) return false;
    return ::kill(pid_, sig) == 0;
}

std::optional<int> PosternProcess::exitCode() {
    if (exit_code_) return exit_code_;
    if (pid_ <= 0) return std::nullopt;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) exit_code_ = decodeStatus(status);
    return exit_code_;
}

bool PosternProcess::running() { return pid_ > 0 && !exitCode().has_value(); }

std::optional<int> PosternProcess::waitExit(Millis timeout) {
    const auto deadline = Clock::now() + timeout;
    for (int round = 0; round < maxRounds(timeout); ++round) {
        if (auto code = exitCode()) return code;
        if (pid_ <= 0 || Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
    return exitCode();
}

void PosternProcess::kill() {
    if (pid_ <= 0 || exitCode().has_value()) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    for (int i = 0; i < 1000; ++i) {
        const pid_t r = ::waitpid(pid_, &status, 0);
        if (r == pid_) {
            exit_code_ = decodeStatus(status);
            return;
        }
        if (r < 0 && errno != EINTR) return;
    }
}

void PosternProcess::dumpLogs(std::ostream& out) const {
    out << "---- postern";
    for (const auto& a : args_) out << ' ' << a;
    out << " (pid " << pid_ << ", dir " << dir_.path().string() << ")\n";
    out << "---- stderr:\n" << stderrText() << "---- stdout:\n" << stdoutText() << "----\n";
}

std::optional<std::string> PosternProcess::sanitizerReport() const {
    static const LinePattern report(
        R"((ERROR: (Address|Leak|Thread|Memory)Sanitizer)|(: runtime error: )|(WARNING: ThreadSanitizer))");
    for (const auto& line : lines(Stream::Stderr))
        if (report.matches(line)) return line;
    return std::nullopt;
}

CommandResult runCommand(const std::filesystem::path& binary, const std::vector<std::string>& args,
                         Millis timeout, const std::filesystem::path& working_dir) {
    PosternProcess p(binary);
    p.start(args, working_dir);
    CommandResult r;
    r.exit_code = p.waitExit(timeout);
    if (!r.exit_code) p.kill();
    r.out = p.stdoutText();
    r.err = p.stderrText();
    return r;
}

}  // namespace postern::test
