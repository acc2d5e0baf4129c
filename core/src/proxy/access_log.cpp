#include "proxy/access_log.h"

#include <fcntl.h>
#ifdef _WIN32
#include <io.h>
#include <sys/stat.h>
#else
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <utility>

#include "common/log.h"

namespace postern::proxy {

namespace {

int openFile(const std::string& path) {
#ifdef _WIN32
    return ::_open(path.c_str(), _O_WRONLY | _O_APPEND | _O_CREAT | _O_BINARY | _O_NOINHERIT,
                   _S_IREAD | _S_IWRITE);
#else
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
#endif
}

void appendJsonString(std::string& out, std::string_view v) {
    out += '"';
    for (char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x",
                          static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

/** Builds one record, logfmt or JSON, field by field; an empty string value is written "-",
 * numbers stay numbers. */
class RecordWriter {
public:
    RecordWriter(std::string& line, config::AccessFormat format)
        : line_(line), json_(format == config::AccessFormat::Json) {
        line_.clear();
    }

    void text(config::AccessField f, std::string_view v) {
        key(f);
        if (v.empty()) v = "-";
        if (json_)
            appendJsonString(line_, v);
        else
            common::appendLogfmtValue(line_, v);
    }
    void number(config::AccessField f, long long v) {
        key(f);
        char buf[24];
        const int n = std::snprintf(buf, sizeof buf, "%lld", v);
        line_.append(buf, static_cast<std::size_t>(n));
    }
    void unsignedNumber(config::AccessField f, unsigned long long v) {
        key(f);
        char buf[24];
        const int n = std::snprintf(buf, sizeof buf, "%llu", v);
        line_.append(buf, static_cast<std::size_t>(n));
    }
    void flag(config::AccessField f, bool v) {
        key(f);
        line_ += json_ ? (v ? "true" : "false") : (v ? "1" : "0");
    }
    /** The finished line ("\n"-terminated), or empty when the record had none of the fields. */
    std::string_view finish() {
        if (count_ == 0) return {};
        line_ += json_ ? "}\n" : "\n";
        return line_;
    }

private:
    void key(config::AccessField f) {
        const char* name = config::kAccessFieldNames[static_cast<std::size_t>(f)];
        if (json_) {
            line_ += count_ ? ",\"" : "{\"";
            line_ += name;
            line_ += "\":";
        } else {
            if (count_) line_ += ' ';
            line_ += name;
            line_ += '=';
        }
        ++count_;
    }

    std::string& line_;
    bool json_;
    int count_ = 0;
};

}  // namespace

#ifdef _WIN32
class AccessLog::Syslog {};
#else
/** A datagram socket to the local syslog daemon. Records of all workers go through one mutex:
 * syslog is the slow target (glibc's syslog() locks too). */
class AccessLog::Syslog {
public:
    explicit Syslog(std::string path) : path_(std::move(path)) {}
    ~Syslog() {
        if (fd_ >= 0) ::close(fd_);
    }

    /** Connects now (at open, so a missing socket is reported before the first record): 0 or
     * the errno. */
    int connectNow() {
        std::lock_guard<std::mutex> lock(mutex_);
        return connectLocked();
    }

    /** Sends one record (`line` ends in '\n'): 0, or the errno of the failure (the record is
     * lost). While the socket is missing, connecting is retried at most once a second. */
    int send(std::string_view line) {
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        std::lock_guard<std::mutex> lock(mutex_);
        // RFC 3164, as glibc's syslog() writes it: "<daemon.info>Mmm dd hh:mm:ss postern[pid]: ".
        const std::time_t now = std::time(nullptr);
        std::tm tm{};
        ::localtime_r(&now, &tm);
        char head[64];
        std::size_t n = std::strftime(head, sizeof head, "<30>%b %e %H:%M:%S ", &tm);
        n += static_cast<std::size_t>(std::snprintf(
            head + n, sizeof head - n, "postern[%ld]: ", static_cast<long>(::getpid())));
        message_.assign(head, n);
        message_.append(line);
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (fd_ < 0) {
                if (attempt == 0 && std::chrono::steady_clock::now() < retry_at_)
                    return last_error_;
                if (connectLocked() != 0) return last_error_;
            }
            if (::send(fd_, message_.data(), message_.size(), kNoSignal) >= 0) return 0;
            last_error_ = errno;
            ::close(fd_);  // the daemon restarted (ECONNREFUSED): connect again, once
            fd_ = -1;
            if (last_error_ == EMSGSIZE) return last_error_;
        }
        return last_error_;
    }

private:
#ifdef MSG_NOSIGNAL
    static constexpr int kNoSignal = MSG_NOSIGNAL;
#else
    static constexpr int kNoSignal = 0;
#endif

    int connectLocked() {
        if (fd_ >= 0) return 0;
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path_.size() >= sizeof addr.sun_path) return fail(ENAMETOOLONG);
        std::memcpy(addr.sun_path, path_.data(), path_.size());
        const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return fail(errno);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            const int e = errno;
            ::close(fd);
            return fail(e);
        }
        fd_ = fd;
        return 0;
    }
    int fail(int e) {
        last_error_ = e;
        retry_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        return e;
    }

    const std::string path_;
    std::mutex mutex_;
    int fd_ = -1;
    int last_error_ = 0;
    std::chrono::steady_clock::time_point retry_at_{};
    std::string message_;
};
#endif

AccessLog::AccessLog() = default;

std::unique_ptr<AccessLog> AccessLog::open(const config::LogConfig& config, std::string* error) {
    std::unique_ptr<AccessLog> log(new AccessLog());
    log->format_ = config.format;
    log->fields_ = config.fields;
    const std::string& t = config.access;
    log->target_ = t;
    if (t == "off") return log;
    if (t == "stdout") {
        log->fd_ = 1;
    } else if (t == "stderr") {
        log->fd_ = 2;
    } else if (t == "syslog") {
#ifdef _WIN32
        if (error)
            *error = "access log \"syslog\" is not available on Windows (use a file or \"off\")";
        return nullptr;
#else
        log->syslog_ = std::make_unique<Syslog>(config.syslog_socket);
        if (const int e = log->syslog_->connectNow(); e != 0) log->failed(e);
#endif
    } else {
        log->fd_ = openFile(t);
        if (log->fd_ < 0) {
            if (error) *error = "cannot open access log '" + t + "': " + std::strerror(errno);
            return nullptr;
        }
        log->own_fd_ = true;
    }
    return log;
}

AccessLog::~AccessLog() {
    if (own_fd_) ::close(fd_);
}

bool AccessLog::reopen(std::string* error) {
    if (!own_fd_) return true;
    const int fresh = openFile(target_);
    if (fresh < 0) {
        if (error) *error = "cannot reopen access log '" + target_ + "': " + std::strerror(errno);
        return false;
    }
    // dup2/dup3 swap the open file behind fd_ atomically; fd_ itself (read by every worker) stays.
#ifdef _WIN32
    const int rc = ::_dup2(fresh, fd_);
#else
    int rc;
    do {
#ifdef __linux__
        rc = ::dup3(fresh, fd_, O_CLOEXEC);  // dup2 would drop close-on-exec
#else
        rc = ::dup2(fresh, fd_);
        if (rc >= 0) ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
#endif
    } while (rc < 0 && errno == EINTR);
#endif
    const int saved = errno;
    ::close(fresh);
    if (rc < 0) {
        if (error) *error = "cannot reopen access log '" + target_ + "': " + std::strerror(saved);
        return false;
    }
    return true;
}

void AccessLog::write(const AccessRecord& r) {
    if (!enabled()) return;
    using F = config::AccessField;
    thread_local std::string line;
    RecordWriter w(line, format_);
    for (const F f : fields_) {
        switch (f) {
            case F::Time:
                w.text(f, common::utcTimestamp());
                break;
            case F::Listener:
                w.text(f, r.listener);
                break;
            case F::Client:
                w.text(f, r.client);
                break;
            case F::Pool:
                w.text(f, r.pool);
                break;
            case F::Backend:
                w.text(f, r.backend);
                break;
            case F::BytesIn:
                w.unsignedNumber(f, r.bytes_in);
                break;
            case F::BytesOut:
                w.unsignedNumber(f, r.bytes_out);
                break;
            case F::ConnectMs:
                w.number(f, r.connect_ms);
                break;
            case F::FirstByteMs:
                w.number(f, r.first_byte_ms);
                break;
            case F::TotalMs:
                w.number(f, r.total_ms);
                break;
            case F::Attempts:
                w.number(f, r.attempts);
                break;
            // TLS terminated here: its fields; TLS passed through: the SNI its ClientHello carried.
            case F::Sni:
                if (r.tls || !r.sni.empty()) w.text(f, r.sni);
                break;
            case F::Alpn:
                if (r.tls) w.text(f, r.alpn);
                break;
            case F::TlsVersion:
                if (r.tls) w.text(f, r.tls_version);
                break;
            case F::TlsHandshakeMs:
                if (r.tls) w.number(f, r.tls_handshake_ms);
                break;
            case F::Cause:
                w.text(f, r.cause);
                break;
            case F::TlsError:
                if (!r.tls_error.empty()) w.text(f, r.tls_error);
                break;
            case F::Method:
            case F::Host:
            case F::Path:
            case F::Status:
            case F::Reused:
                break;  // HTTP request records only
        }
    }
    if (const std::string_view out = w.finish(); !out.empty()) emit(out);
}

void AccessLog::write(const RequestRecord& r) {
    if (!enabled()) return;
    using F = config::AccessField;
    // One record per request: the line's buffer is the thread's, reused (no allocation once it
    // has grown to a line's size).
    thread_local std::string line;
    RecordWriter w(line, format_);
    for (const F f : fields_) {
        switch (f) {
            case F::Time:
                w.text(f, common::utcTimestamp());
                break;
            case F::Listener:
                w.text(f, r.listener);
                break;
            case F::Client:
                w.text(f, r.client);
                break;
            case F::Method:
                w.text(f, r.method);
                break;
            case F::Host:
                w.text(f, r.host);
                break;
            case F::Path:
                w.text(f, r.path);
                break;
            case F::Status:
                w.number(f, r.status);
                break;
            case F::Pool:
                w.text(f, r.pool);
                break;
            case F::Backend:
                w.text(f, r.backend);
                break;
            case F::BytesIn:
                w.unsignedNumber(f, r.bytes_in);
                break;
            case F::BytesOut:
                w.unsignedNumber(f, r.bytes_out);
                break;
            case F::ConnectMs:
                w.number(f, r.connect_ms);
                break;
            case F::FirstByteMs:
                w.number(f, r.first_byte_ms);
                break;
            case F::TotalMs:
                w.number(f, r.total_ms);
                break;
            case F::Attempts:
                w.number(f, r.attempts);
                break;
            case F::Reused:
                w.flag(f, r.reused);
                break;
            case F::Cause:
                w.text(f, r.cause);
                break;
            case F::Sni:
            case F::Alpn:
            case F::TlsVersion:
            case F::TlsHandshakeMs:
            case F::TlsError:
                break;  // connection records only
        }
    }
    if (const std::string_view out = w.finish(); !out.empty()) emit(out);
}

void AccessLog::emit(std::string_view line) {
    int error = 0;
#ifndef _WIN32
    if (syslog_) {
        error = syslog_->send(line);
    } else
#endif
    {
#ifdef _WIN32
        const auto n = ::_write(fd_, line.data(), static_cast<unsigned>(line.size()));
#else
        const auto n = ::write(fd_, line.data(), line.size());
#endif
        if (n < 0)
            error = errno;
        else if (static_cast<std::size_t>(n) != line.size())
            error = EIO;  // a short write: the disk is full (the next write says ENOSPC)
    }
    if (error == 0) {
        if (failing_.load(std::memory_order_relaxed)) succeeded();
        return;
    }
    lost_.fetch_add(1, std::memory_order_relaxed);
    if (!failing_.load(std::memory_order_relaxed)) failed(error);
}

void AccessLog::failed(int error) {
    if (failing_.exchange(true)) return;  // another worker reported it
    POSTERN_LOG(Error, "access log cannot be written; records are lost until it can",
                "target=" + common::logfmtValue(target_) +
                    " error=" + common::logfmtValue(std::strerror(error)));
}

void AccessLog::succeeded() {
    if (!failing_.exchange(false)) return;
    const std::uint64_t lost = lost_.exchange(0);
    POSTERN_LOG(Warn, "access log written again",
                "target=" + common::logfmtValue(target_) + " lost=" + std::to_string(lost));
}

}  // namespace postern::proxy
