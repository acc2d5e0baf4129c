// The access log: one line per closed client connection (logfmt or JSON), written with a single
// write() per line so lines from different workers never interleave. Any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

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

class AccessLog {
public:
    /** Opens the target named in [log] access; nullptr + *error when a file cannot be opened. */
    static std::unique_ptr<AccessLog> open(const config::LogConfig& config, std::string* error);
    ~AccessLog();

    bool enabled() const { return fd_ >= 0 || syslog_; }
    void write(const AccessRecord& r);

private:
    AccessLog() = default;
    int fd_ = -1;
    bool own_fd_ = false;
    bool syslog_ = false;
    config::AccessFormat format_ = config::AccessFormat::Logfmt;
};

}  // namespace postern::proxy
