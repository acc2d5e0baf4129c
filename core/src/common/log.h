// Process-wide diagnostic log: logfmt lines on stderr (the journal / Event Log glue lives in
// service/). Any thread; each line is written with a single write() so lines never interleave.
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

private:
    static std::atomic<LogLevel> level_;
    static std::atomic<Sink> sink_;
};

/** Quotes a logfmt value when it needs it (spaces, quotes, '=' or empty). */
std::string logfmtValue(std::string_view v);
/** The current UTC time as "2026-11-21T10:15:42.123Z" (every log line and access log record). */
std::string utcTimestamp();

#define POSTERN_LOG(level, msg, fields)                                              \
    do {                                                                             \
        if (::postern::common::Log::enabled(::postern::common::LogLevel::level))     \
            ::postern::common::Log::write(::postern::common::LogLevel::level, (msg), \
                                          (fields));                                 \
    } while (0)

}  // namespace postern::common
