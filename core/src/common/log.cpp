#include "common/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#ifdef _WIN32
#include <io.h>
#else
#include <unistd.h>
#endif

namespace postern::common {

std::atomic<LogLevel> Log::level_{LogLevel::Info};
std::atomic<Log::Sink> Log::sink_{nullptr};

std::optional<LogLevel> parseLogLevel(std::string_view s) {
    if (s == "trace") return LogLevel::Trace;
    if (s == "debug") return LogLevel::Debug;
    if (s == "info") return LogLevel::Info;
    if (s == "warn") return LogLevel::Warn;
    if (s == "error") return LogLevel::Error;
    return std::nullopt;
}

std::string_view logLevelName(LogLevel l) {
    switch (l) {
        case LogLevel::Trace: return "trace";
        case LogLevel::Debug: return "debug";
        case LogLevel::Info: return "info";
        case LogLevel::Warn: return "warn";
        case LogLevel::Error: return "error";
    }
    return "info";
}

std::string logfmtValue(std::string_view v) {
    bool needs = v.empty();
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            needs = true;
    if (!needs) return std::string(v);
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string utcTimestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
#ifdef _WIN32
    gmtime_s(&tm, &t);
#else
    gmtime_r(&t, &tm);
#endif
    char ts[96];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return ts;
}

void Log::write(LogLevel l, std::string_view msg, std::string_view fields) {
    const std::string ts = utcTimestamp();
    std::string line;
    line.reserve(64 + msg.size() + fields.size());
    line += "time=";
    line += ts;
    line += " level=";
    line += logLevelName(l);
    line += " msg=";
    line += logfmtValue(msg);
    if (!fields.empty()) {
        line += ' ';
        line += fields;
    }
    line += '\n';
    if (Sink sink = sink_.load(std::memory_order_acquire)) {
        sink(l, line);
        return;
    }
#ifdef _WIN32
    (void)!_write(2, line.data(), static_cast<unsigned>(line.size()));
#else
    (void)!::write(2, line.data(), line.size());
#endif
}

}  // namespace postern::common
