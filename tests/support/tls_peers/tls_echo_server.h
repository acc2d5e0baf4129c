// A TLS backend for tests: listens on a loopback address, terminates TLS with the certificate it
// is given (optionally requiring client certificates from a CA) and echoes, one thread per
// connection. Counts accepted connections and completed handshakes, and remembers the SNI the
// last client sent. Any thread may call the public functions; the destructor stops everything and
// joins every thread.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace postern::test {

struct TlsEchoOptions {
    std::filesystem::path cert, key;
    std::filesystem::path client_ca;  ///< set: client certificates required
    std::string id;                   ///< sent first ("<id>\n") after the handshake when not empty
};

class TlsEchoServer {
public:
    /** Throws std::runtime_error if it cannot listen or load the files. */
    explicit TlsEchoServer(TlsEchoOptions options, std::string ip = "127.0.0.1");
    ~TlsEchoServer();
    TlsEchoServer(const TlsEchoServer&) = delete;
    TlsEchoServer& operator=(const TlsEchoServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string address() const { return ip_ + ":" + std::to_string(port_); }
    std::size_t accepted() const { return accepted_.load(); }
    std::size_t handshakes() const { return handshakes_.load(); }
    /** Waits until handshakes() >= n. The count moves on the server's connection thread once it
     * has read the client's Finished, which may be after the client is done with its side (in TLS
     * 1.3 the client finishes first): a peer that saw its handshake succeed must wait for this,
     * not read handshakes() at once. */
    bool waitForHandshakes(std::size_t n, std::chrono::milliseconds timeout);
    std::size_t failedHandshakes() const { return failed_.load(); }
    std::string lastSni() const;
    std::string lastClientCommonName() const;

private:
    struct Connection {
        int fd = -1;
        std::thread thread;
        std::atomic<bool> done{false};
    };
    void acceptLoop();
    void serve(Connection& c);

    TlsEchoOptions options_;
    std::string ip_;
    std::uint16_t port_ = 0;
    std::shared_ptr<SSL_CTX> ctx_;
    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    std::atomic<bool> stopping_{false};
    std::thread accept_thread_;
    std::mutex mutex_;
    std::condition_variable handshake_cv_;  ///< handshakes_ moved (with mutex_)
    std::list<std::unique_ptr<Connection>> connections_;
    std::string last_sni_, last_client_cn_;
    std::atomic<std::size_t> accepted_{0}, handshakes_{0}, failed_{0};
};

}  // namespace postern::test
