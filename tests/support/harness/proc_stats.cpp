#include "harness/proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace postern::test {

namespace {
std::string procPath(pid_t pid, const char* leaf) {
    return "/proc/" + std::to_string(pid) + "/" + leaf;
}
}  // namespace

std::optional<ProcStats> readProcStats(pid_t pid) {
    ProcStats s;
    std::error_code ec;
    std::filesystem::directory_iterator it(procPath(pid, "fd"), ec);
    if (ec) return std::nullopt;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        if (ec) return std::nullopt;
        ++s.open_fds;
    }
    std::ifstream status(procPath(pid, "status"));
    if (!status) return std::nullopt;
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) {
            std::istringstream in(line.substr(6));
            std::uint64_t kib = 0;
            in >> kib;
            s.rss_bytes = kib * 1024;
        }
    }
    std::ifstream stat(procPath(pid, "stat"));
    std::string text;
    if (!stat || !std::getline(stat, text)) return std::nullopt;
    // Fields after the command name (which may hold spaces, inside parentheses): state is
    // field 3, utime 14 and stime 15.
    auto close = text.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    s.cpu_seconds =
        static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    return s;
}

std::vector<int> openFdNumbers(pid_t pid) {
    std::vector<int> out;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(procPath(pid, "fd"), ec), end; !ec && it != end;
         it.increment(ec)) {
        try {
            out.push_back(std::stoi(it->path().filename().string()));
        } catch (const std::exception&) {
        }
    }
    return out;
}

bool setDescriptorLimit(pid_t pid, std::uint64_t limit) {
    // The soft limit only: raising it again later needs no privilege (the hard one would).
    rlimit lim{};
    if (::prlimit(pid, RLIMIT_NOFILE, nullptr, &lim) != 0) return false;
    lim.rlim_cur = std::min<rlim_t>(limit, lim.rlim_max);
    return ::prlimit(pid, RLIMIT_NOFILE, &lim, nullptr) == 0;
}

std::optional<double> cpuShareOver(pid_t pid, double window_seconds) {
    auto before = readProcStats(pid);
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(window_seconds));
    auto after = readProcStats(pid);
    if (!before || !after) return std::nullopt;
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return (after->cpu_seconds - before->cpu_seconds) / wall;
}

}  // namespace postern::test
