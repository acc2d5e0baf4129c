#include "proxy/access_log.h"

#include <fcntl.h>
#ifdef _WIN32
#include <io.h>
#include <sys/stat.h>
#else
#include <syslog.h>
#include <unistd.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
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

}  // namespace

std::unique_ptr<AccessLog> AccessLog::open(const config::LogConfig& config, std::string* error) {
    std::unique_ptr<AccessLog> log(new AccessLog());
    log->format_ = config.format;
    const std::string& t = config.access;
    if (t == "off") return log;
    if (t == "stdout") {
        log->fd_ = 1;
    } else if (t == "stderr") {
        log->fd_ = 2;
    } else if (t == "syslog") {
#ifdef _WIN32
        if (error) *error = "access log \"syslog\" is not available on Windows (use a file or \"off\")";
        return nullptr;
#else
        openlog("postern", LOG_PID | LOG_NDELAY, LOG_DAEMON);
        log->syslog_ = true;
#endif
    } else {
        log->fd_ = openFile(t);
        log->path_ = t;
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
    const int fresh = openFile(path_);
    if (fresh < 0) {
        if (error) *error = "cannot reopen access log '" + path_ + "': " + std::strerror(errno);
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
        if (error) *error = "cannot reopen access log '" + path_ + "': " + std::strerror(saved);
        return false;
    }
    return true;
}

namespace {

void appendJsonString(std::string& out, std::string_view v) {
    out += '"';
    for (char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}


}  // namespace

void AccessLog::write(const AccessRecord& r) {
    if (!enabled()) return;
    std::string line;
    line.reserve(256);
    std::string backend = r.backend.empty() ? std::string("-") : std::string(r.backend);
    if (format_ == config::AccessFormat::Json) {
        line += "{\"time\":\"" + common::utcTimestamp() + "\",\"listener\":";
        appendJsonString(line, r.listener);
        line += ",\"client\":";
        appendJsonString(line, r.client);
        line += ",\"pool\":";
        appendJsonString(line, r.pool);
        line += ",\"backend\":";
        appendJsonString(line, backend);
        line += ",\"bytes_in\":" + std::to_string(r.bytes_in) + ",\"bytes_out\":" + std::to_string(r.bytes_out);
        line += ",\"connect_ms\":" + std::to_string(r.connect_ms) +
                ",\"first_byte_ms\":" + std::to_string(r.first_byte_ms) +
                ",\"total_ms\":" + std::to_string(r.total_ms) + ",\"attempts\":" + std::to_string(r.attempts);
        if (r.tls) {
            line += ",\"sni\":";
            appendJsonString(line, r.sni);
            line += ",\"alpn\":";
            appendJsonString(line, r.alpn);
            line += ",\"tls_version\":";
            appendJsonString(line, r.tls_version);
            line += ",\"tls_handshake_ms\":" + std::to_string(r.tls_handshake_ms);
        } else if (!r.sni.empty()) {  // TLS passed through: the SNI its ClientHello carried
            line += ",\"sni\":";
            appendJsonString(line, r.sni);
        }
        line += ",\"cause\":";
        appendJsonString(line, r.cause);
        if (!r.tls_error.empty()) {
            line += ",\"tls_error\":";
            appendJsonString(line, r.tls_error);
        }
        line += "}\n";
    } else {
        line += "time=" + common::utcTimestamp();
        line += " listener=" + common::logfmtValue(r.listener);
        line += " client=" + common::logfmtValue(r.client);
        line += " pool=" + common::logfmtValue(r.pool);
        line += " backend=" + common::logfmtValue(backend);
        line += " bytes_in=" + std::to_string(r.bytes_in) + " bytes_out=" + std::to_string(r.bytes_out);
        line += " connect_ms=" + std::to_string(r.connect_ms) + " first_byte_ms=" + std::to_string(r.first_byte_ms) +
                " total_ms=" + std::to_string(r.total_ms) + " attempts=" + std::to_string(r.attempts);
        if (r.tls) {
            auto orDash = [](std::string_view v) { return v.empty() ? std::string_view("-") : v; };
            line += " sni=" + common::logfmtValue(orDash(r.sni));
            line += " alpn=" + common::logfmtValue(orDash(r.alpn));
            line += " tls_version=" + common::logfmtValue(orDash(r.tls_version));
            line += " tls_handshake_ms=" + std::to_string(r.tls_handshake_ms);
        } else if (!r.sni.empty()) {  // TLS passed through: the SNI its ClientHello carried
            line += " sni=" + common::logfmtValue(r.sni);
        }
        line += " cause=" + std::string(r.cause);
        if (!r.tls_error.empty()) line += " tls_error=" + common::logfmtValue(r.tls_error);
        line += "\n";
    }
    emit(line);
}

void AccessLog::emit(const std::string& line) {
#ifndef _WIN32
    if (syslog_) {
        ::syslog(LOG_INFO, "%.*s", static_cast<int>(line.size() - 1), line.data());
        return;
    }
#endif
    (void)!::write(fd_, line.data(), line.size());
}

void AccessLog::write(const RequestRecord& r) {
    if (!enabled()) return;
    // One record per request: the line's buffer is the thread's, reused (no allocation once it
    // has grown to a line's size).
    thread_local std::string line;
    line.clear();
    auto orDash = [](std::string_view v) { return v.empty() ? std::string_view("-") : v; };
    auto number = [](std::string& out, auto v) {
        char buf[24];
        const int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
        out.append(buf, static_cast<std::size_t>(n));
    };
    auto unsignedNumber = [](std::string& out, std::uint64_t v) {
        char buf[24];
        const int n = std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(v));
        out.append(buf, static_cast<std::size_t>(n));
    };
    if (format_ == config::AccessFormat::Json) {
        line += "{\"time\":\"";
        line += common::utcTimestamp();
        const std::pair<const char*, std::string_view> strings[] = {
            {"listener", r.listener}, {"client", r.client}, {"method", orDash(r.method)},
            {"host", orDash(r.host)}, {"path", orDash(r.path)}};
        line += '"';
        for (const auto& [key, value] : strings) {
            line += ",\"";
            line += key;
            line += "\":";
            appendJsonString(line, value);
        }
        line += ",\"status\":";
        number(line, r.status);
        line += ",\"pool\":";
        appendJsonString(line, orDash(r.pool));
        line += ",\"backend\":";
        appendJsonString(line, orDash(r.backend));
        line += ",\"bytes_in\":";
        unsignedNumber(line, r.bytes_in);
        line += ",\"bytes_out\":";
        unsignedNumber(line, r.bytes_out);
        line += ",\"connect_ms\":";
        number(line, r.connect_ms);
        line += ",\"first_byte_ms\":";
        number(line, r.first_byte_ms);
        line += ",\"total_ms\":";
        number(line, r.total_ms);
        line += ",\"attempts\":";
        number(line, r.attempts);
        line += r.reused ? ",\"reused\":true" : ",\"reused\":false";
        line += ",\"cause\":";
        appendJsonString(line, r.cause);
        line += "}\n";
    } else {
        line += "time=";
        line += common::utcTimestamp();
        line += " listener=" + common::logfmtValue(r.listener);
        line += " client=" + common::logfmtValue(r.client);
        line += " method=" + common::logfmtValue(orDash(r.method));
        line += " host=" + common::logfmtValue(orDash(r.host));
        line += " path=" + common::logfmtValue(orDash(r.path));
        line += " status=";
        number(line, r.status);
        line += " pool=" + common::logfmtValue(orDash(r.pool));
        line += " backend=" + common::logfmtValue(orDash(r.backend));
        line += " bytes_in=";
        unsignedNumber(line, r.bytes_in);
        line += " bytes_out=";
        unsignedNumber(line, r.bytes_out);
        line += " connect_ms=";
        number(line, r.connect_ms);
        line += " first_byte_ms=";
        number(line, r.first_byte_ms);
        line += " total_ms=";
        number(line, r.total_ms);
        line += " attempts=";
        number(line, r.attempts);
        line += r.reused ? " reused=1" : " reused=0";
        line += " cause=";
        line += r.cause;
        line += '\n';
    }
    emit(line);
}

}  // namespace postern::proxy
