// A TLS client for tests: TCP connect + handshake + I/O over OpenSSL on a non-blocking socket,
// every call bounded by a timeout (so no call can hang a test). Contexts are built once and
// shared by many connections. Move-only; one thread at a time.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "harness/blocking_client.h"

namespace postern::test {

struct TlsClientOptions {
    std::filesystem::path ca;         ///< verify the server against this CA ("" = no verification)
    std::filesystem::path cert, key;  ///< client certificate (mutual TLS), optional
    std::vector<std::string> alpn;
    int min_version = 0;  ///< TLS1_2_VERSION / TLS1_3_VERSION; 0 = OpenSSL's default
    int max_version = 0;
};

/** Ignores SIGPIPE in this process (OpenSSL writes with write(2)). Idempotent. */
void ignoreSigpipe();

/** Throws std::runtime_error when a file cannot be used. */
std::shared_ptr<SSL_CTX> makeTlsClientContext(const TlsClientOptions& options);

class TlsClient {
public:
    TlsClient() = default;
    ~TlsClient();
    TlsClient(TlsClient&& other) noexcept;
    TlsClient& operator=(TlsClient&& other) noexcept;
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    /** Connects and completes the handshake. `sni` is sent when non-empty; with a verifying
     * context the certificate is checked against `verify_name` (default: `sni`). `resume` (may be
     * null) offers a previous session. Check ok() / error(). */
    static TlsClient connect(std::string_view ip, std::uint16_t port, const std::shared_ptr<SSL_CTX>& ctx,
                             std::string_view sni, Millis timeout, std::string_view verify_name = {},
                             SSL_SESSION* resume = nullptr);

    /** The handshake completed (and the certificate verified, when asked). */
    bool ok() const { return ssl_ != nullptr && error_.empty(); }
    /** Why the connection or the handshake failed. */
    const std::string& error() const { return error_; }

    std::string peerCommonName() const;
    std::string version() const;
    std::string alpn() const;
    bool resumed() const;
    /** The session (for resumption); waits up to `timeout` for a TLS 1.3 ticket to arrive. */
    SSL_SESSION* takeSession(Millis timeout);

    IoStatus sendAll(std::string_view data, Millis timeout);
    RecvResult recvExactly(std::size_t n, Millis timeout);
    /** Until the server ends the stream (close_notify or FIN: Eof), a reset, or the timeout. */
    RecvResult recvAll(Millis timeout);
    /** Sends `out` while reading until `expect_in` bytes arrived; optionally closes the sending
     * side (close_notify + FIN) once everything is sent. */
    RecvResult exchange(std::string_view out, std::size_t expect_in, Millis timeout, bool close_after = false);
    /** close_notify, then shutdown(SHUT_WR): the server sees the end of the stream; reading goes on. */
    IoStatus closeWrite(Millis timeout);

private:
    /** Waits for what the last SSL call asked (`err`); false on timeout. */
    bool waitFor(int err, std::chrono::steady_clock::time_point deadline) const;

    BlockingClient tcp_;
    SSL* ssl_ = nullptr;
    std::string error_;
};

}  // namespace postern::test
