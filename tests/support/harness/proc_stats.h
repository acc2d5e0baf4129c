// What a test reads off a running process it started, from /proc (Linux): open descriptors,
// resident memory, CPU time consumed, and its descriptor limit (set with prlimit(2), as
// `prlimit --pid` does). For before/after checks in chaos and soak tests. Any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace postern::test {

struct ProcStats {
    std::uint64_t open_fds = 0;   ///< entries of /proc/<pid>/fd
    std::uint64_t rss_bytes = 0;  ///< VmRSS of /proc/<pid>/status
    double cpu_seconds = 0;       ///< user + system time of /proc/<pid>/stat, all threads
};

/** Reads the three figures; nullopt when the process is gone (or /proc unreadable). */
std::optional<ProcStats> readProcStats(pid_t pid);

/** The numbers of the descriptors open in `pid` (empty when it is gone). */
std::vector<int> openFdNumbers(pid_t pid);

/** Sets the soft RLIMIT_NOFILE of a running process (at most its hard limit); false with errno
 * on failure. */
bool setDescriptorLimit(pid_t pid, std::uint64_t limit);

/** CPU share (0..workers) of `pid` measured over `window` of wall time; nullopt if it exited. */
std::optional<double> cpuShareOver(pid_t pid, double window_seconds);

}  // namespace postern::test
