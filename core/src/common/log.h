// Process-wide diagnostic log: logfmt lines on stderr (the journal / Event Log glue lives in
// service/), or in the file of [log] file. Any thread; each line is written with a single write()
// so lines never interleave. A file that cannot be written is reported once on stderr, and its
// lines go there until it can be written again.
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

namespace postern::common {

enum class LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 };

std::optional<LogLevel> parseLogLevel(std::string_view s);
std::string_view logLevelName(LogLevel l);

class Log {
public:
    static void setLevel(LogLevel l) { level_.store(l, std::memory_order_relaxed); }
    static bool enabled(LogLevel l) { return l >= level_.load(std::memory_order_relaxed); }
    /** msg is quoted; `fields` is appended verbatim (already logfmt, e.g. "pool=pg backend=..."). */
    static void write(LogLevel l, std::string_view msg, std::string_view fields = {});

    /** Where finished lines (ending in '\n') go instead of stderr: the Windows Event Log, the
     * journal's priority prefix. Set at start, before other threads log; nullptr = stderr. */
    using Sink = void (*)(LogLevel level, std::string_view line);
    static void setSink(Sink sink) { sink_.store(sink, std::memory_order_release); }

    /** From now on lines go to the file `path` (appended; created 0640), not to stderr or the
     * sink; an empty path: back to them. False with *error (the path and the reason) when the
     * file cannot be opened: the lines keep their old target. Any thread; a line being written
     * concurrently goes to the old or the new target. */
    static bool setFile(const std::string& path, std::string* error);
    /** Opens the file of setFile() again by its path (SIGUSR1, after a rotation renamed it).
     * True when there is no file; false with *error when it cannot be opened (the old file
     * keeps the lines). */
    static bool reopenFile(std::string* error);

private:
    static void writeLine(LogLevel l, const std::string& line);
    static void writeToStderr(LogLevel l, const std::string& line);

    static std::atomic<LogLevel> level_;
    static std::atomic<Sink> sink_;
    /** The file's descriptor: opened once, later files are dup2()ed over it, so a writer never
     * sees it closed. -1 until the first setFile(). */
    static std::atomic<int> file_fd_;
    static std::atomic<bool> to_file_;
    static std::atomic<bool> file_failing_;
};

/** The sd-daemon(3) priority prefix of a level ("<3>" .. "<7>"): journald strips it from a line
 * on its stream and files the line at that priority. */
std::string_view journalPrefix(LogLevel l);

/** Quotes a logfmt value when it needs it (spaces, quotes, '=' or empty). */
std::string logfmtValue(std::string_view v);
/** The same, appended to `out` (no allocation once `out` has grown). */
void appendLogfmtValue(std::string& out, std::string_view v);
/** The current UTC time as "2026-11-21T10:15:42.123Z" (every log line and access log record). */
std::string utcTimestamp();

#define POSTERN_LOG(level, msg, fields)                                              \
    do {                                                                             \
        if (::postern::common::Log::enabled(::postern::common::LogLevel::level))     \
            ::postern::common::Log::write(::postern::common::LogLevel::level, (msg), \
                                          (fields));                                 \
    } while (0)

}  // namespace postern::common
