// The access log: one line per closed client connection, or per HTTP request (logfmt or JSON),
// written with a single write() per line so lines from different workers never interleave. Any
// thread. reopen() (SIGUSR1, after logrotate renamed the file) opens the path again and dup2()s the
// new file over the same descriptor number: a worker's write() in flight finishes on the old file,
// the next one goes to the new file, no write ever sees a closed or reused descriptor, no lock.
// `access = "syslog"` sends RFC 3164 datagrams to /dev/log itself (glibc's syslog() cannot say
// that they are dropped), reconnecting at most once a second while the socket is missing.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace postern::proxy {

struct AccessRecord {
    std::string_view listener;
    std::string_view client;   ///< "ip:port"
    std::string_view pool;
    std::string_view backend;  ///< "ip:port" or empty
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::int64_t connect_ms = -1;     ///< -1 = never connected
    std::int64_t first_byte_ms = -1;  ///< first byte from the backend; -1 = none
    std::int64_t total_ms = 0;
    std::uint32_t attempts = 0;
    std::string_view cause;
    // TLS listeners only (written when `tls` is set).
    bool tls = false;
    std::string_view sni;          ///< server name the client asked for; empty = none
    std::string_view alpn;         ///< negotiated protocol; empty = none
    std::string_view tls_version;  ///< "TLSv1.3"; empty when the handshake did not complete
    std::int64_t tls_handshake_ms = -1;  ///< client handshake done, ms since accept; -1 = never
    std::string_view tls_error;    ///< why it failed (cause tls_failed)
};

/** One HTTP request (http/https listeners): written when its response ended, or when the request
 * ended without one. A WebSocket session is the record of its upgrade request (status 101),
 * written when the relay ends. */
struct RequestRecord {
    std::string_view listener;
    std::string_view client;  ///< "ip:port" (the PROXY-carried one when accepted)
    std::string_view method;  ///< empty when the request line could not be read
    std::string_view host;
    std::string_view path;
    std::uint16_t status = 0;  ///< sent to the client; 0 = none (the connection ended first)
    std::string_view pool;     ///< empty: no route
    std::string_view backend;  ///< "ip:port" or empty
    std::uint64_t bytes_in = 0;   ///< request bytes from the client (head and body)
    std::uint64_t bytes_out = 0;  ///< response bytes to the client (head and body)
    std::int64_t connect_ms = -1;     ///< backend connection ready (or reused), ms since the request began
    std::int64_t first_byte_ms = -1;  ///< first response byte from the backend; -1 = none
    std::int64_t total_ms = 0;
    std::uint32_t attempts = 0;  ///< backend connections tried (a reused one counts)
    bool reused = false;         ///< on an idle keep-alive backend connection
    std::string_view cause;
};

class AccessLog {
public:
    /** Opens the target named in [log] access; nullptr + *error when a file cannot be opened. */
    static std::unique_ptr<AccessLog> open(const config::LogConfig& config, std::string* error);
    ~AccessLog();

    bool enabled() const { return fd_ >= 0 || syslog_; }
    /** Each writes the [log] fields the record has, in their order; an empty string is "-". */
    void write(const AccessRecord& r);
    void write(const RequestRecord& r);
    /** A file target: opens its path again (created when it was renamed away) and writes there
     * from now on. stdout/stderr/syslog/off: nothing to do. False with *error (the path and the
     * OS's reason) when the file cannot be opened; the old file keeps getting the lines. Any
     * thread, concurrently with write(). */
    bool reopen(std::string* error);

private:
    class Syslog;
    AccessLog();
    /** One write() of a complete line (or one syslog datagram). A failure is reported once in
     * the diagnostics log, and so is the first success after failures (with the records lost). */
    void emit(std::string_view line);
    void failed(int error);
    void succeeded();

    int fd_ = -1;  ///< never changes once open: reopen() replaces the file behind it
    bool own_fd_ = false;
    std::string target_;  ///< as in [log] access, for messages and reopen()
    std::unique_ptr<Syslog> syslog_;
    config::AccessFormat format_ = config::AccessFormat::Logfmt;
    std::vector<config::AccessField> fields_;
    /** Set by the first failed write, cleared by the next successful one (any worker). */
    std::atomic<bool> failing_{false};
    std::atomic<std::uint64_t> lost_{0};  ///< records lost since failing_ was set
};

}  // namespace postern::proxy
