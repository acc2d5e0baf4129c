#include "common/log.h"

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#ifdef _WIN32
#include <io.h>
#include <sys/stat.h>
#else
#include <unistd.h>
#endif

namespace postern::common {

std::atomic<LogLevel> Log::level_{LogLevel::Info};
std::atomic<Log::Sink> Log::sink_{nullptr};
std::atomic<int> Log::file_fd_{-1};
std::atomic<bool> Log::to_file_{false};
std::atomic<bool> Log::file_failing_{false};

namespace {

std::mutex file_mutex;  // setFile / reopenFile
std::string file_path;  // guarded by file_mutex

int openLogFile(const std::string& path) {
#ifdef _WIN32
    return ::_open(path.c_str(), _O_WRONLY | _O_APPEND | _O_CREAT | _O_BINARY | _O_NOINHERIT,
                   _S_IREAD | _S_IWRITE);
#else
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
#endif
}

/** Puts the open file `fresh` behind `fd` (keeping fd's number) and closes `fresh`: 0 or errno. */
int replaceFile(int fresh, int fd) {
#ifdef _WIN32
    const int rc = ::_dup2(fresh, fd);
#else
    int rc;
    do {
#ifdef __linux__
        rc = ::dup3(fresh, fd, O_CLOEXEC);
#else
        rc = ::dup2(fresh, fd);
        if (rc >= 0) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
    } while (rc < 0 && errno == EINTR);
#endif
    const int saved = rc < 0 ? errno : 0;
#ifdef _WIN32
    ::_close(fresh);
#else
    ::close(fresh);
#endif
    return saved;
}

/** 0, or the errno of a failed or short write. */
int writeAll(int fd, const std::string& line) {
#ifdef _WIN32
    const int n = ::_write(fd, line.data(), static_cast<unsigned>(line.size()));
#else
    const ssize_t n = ::write(fd, line.data(), line.size());
#endif
    if (n < 0) return errno;
    return static_cast<std::size_t>(n) == line.size() ? 0 : EIO;
}

}  // namespace

std::string_view journalPrefix(LogLevel l) {
    switch (l) {
        case LogLevel::Trace:
        case LogLevel::Debug:
            return "<7>";  // LOG_DEBUG
        case LogLevel::Info:
            return "<6>";  // LOG_INFO
        case LogLevel::Warn:
            return "<4>";  // LOG_WARNING
        case LogLevel::Error:
            return "<3>";  // LOG_ERR
    }
    return "<6>";
}

bool Log::setFile(const std::string& path, std::string* error) {
    std::lock_guard<std::mutex> lock(file_mutex);
    if (path.empty()) {
        to_file_.store(false, std::memory_order_release);
        file_path.clear();
        return true;  // the descriptor stays open: a writer may still be using it
    }
    const int fresh = openLogFile(path);
    if (fresh < 0) {
        if (error) *error = "cannot open log file '" + path + "': " + std::strerror(errno);
        return false;
    }
    const int fd = file_fd_.load(std::memory_order_acquire);
    if (fd < 0) {
        file_fd_.store(fresh, std::memory_order_release);
    } else if (const int e = replaceFile(fresh, fd); e != 0) {
        if (error) *error = "cannot open log file '" + path + "': " + std::strerror(e);
        return false;
    }
    file_path = path;
    to_file_.store(true, std::memory_order_release);
    return true;
}

bool Log::reopenFile(std::string* error) {
    std::lock_guard<std::mutex> lock(file_mutex);
    if (file_path.empty()) return true;
    const int fresh = openLogFile(file_path);
    if (fresh < 0) {
        if (error) *error = "cannot reopen log file '" + file_path + "': " + std::strerror(errno);
        return false;
    }
    if (const int e = replaceFile(fresh, file_fd_.load(std::memory_order_acquire)); e != 0) {
        if (error) *error = "cannot reopen log file '" + file_path + "': " + std::strerror(e);
        return false;
    }
    return true;
}

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
    std::string out;
    appendLogfmtValue(out, v);
    return out;
}

void appendLogfmtValue(std::string& out, std::string_view v) {
    bool needs = v.empty();
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            needs = true;
    if (!needs) {
        out += v;
        return;
    }
    out += '"';
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
    out += '"';
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
    writeLine(l, line);
}

void Log::writeLine(LogLevel l, const std::string& line) {
    if (!to_file_.load(std::memory_order_acquire)) {
        writeToStderr(l, line);
        return;
    }
    const int error = writeAll(file_fd_.load(std::memory_order_acquire), line);
    if (error == 0) {
        if (file_failing_.load(std::memory_order_relaxed) && file_failing_.exchange(false))
            write(LogLevel::Warn, "log file written again; lines in between went to stderr");
        return;
    }
    // Not lost: this line and the next go to stderr until the file takes lines again.
    if (!file_failing_.exchange(true)) {
        std::string path;
        {
            std::lock_guard<std::mutex> lock(file_mutex);  // never held while logging
            path = file_path;
        }
        std::string note = "time=" + utcTimestamp() +
                           " level=error msg=\"log file cannot be written; writing to stderr "
                           "until it can\" file=" +
                           logfmtValue(path) + " error=" + logfmtValue(std::strerror(error)) + "\n";
        writeToStderr(LogLevel::Error, note);
    }
    writeToStderr(l, line);
}

void Log::writeToStderr(LogLevel l, const std::string& line) {
    if (Sink sink = sink_.load(std::memory_order_acquire)) {
        sink(l, line);
        return;
    }
    (void)!writeAll(2, line);
}

}  // namespace postern::common
