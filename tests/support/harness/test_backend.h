// A fake backend: a TCP server on a loopback address (port 0 = any free port) served by its own
// threads — one accept thread, one thread per connection with blocking I/O. Any thread may call
// the public functions; the destructor stops everything and joins every thread it started.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "harness/blocking_client.h"

namespace postern::test {

enum class BackendMode {
    Echo,              ///< every byte back; closes after the client's EOF
    IdThenEcho,        ///< sends id() + "\n" on accept, then echoes
    Sink,              ///< reads and counts, never replies; closes after the client's EOF
    CloseImmediately,  ///< accepts, then closes at once
    ReplyAfterEof,     ///< reads until EOF, then sends everything it read back, then closes
};

class TestBackend {
public:
    /** Starts listening on ip:port at once (throws std::runtime_error if it cannot). An empty id
     * becomes "backend-<port>". */
    explicit TestBackend(BackendMode mode, std::string id = {}, std::string ip = "127.0.0.1",
                         std::uint16_t port = 0);
    ~TestBackend();
    TestBackend(const TestBackend&) = delete;
    TestBackend& operator=(const TestBackend&) = delete;

    std::uint16_t port() const { return port_; }
    const std::string& ip() const { return ip_; }
    /** "127.0.0.1:<port>", the form postern logs and the config takes. */
    std::string address() const;
    const std::string& id() const { return id_; }
    BackendMode mode() const { return mode_; }

    /** Connections accepted since construction (probes count too). */
    std::size_t acceptedConnections() const { return accepted_.load(); }
    std::size_t activeConnections() const { return active_.load(); }
    std::uint64_t bytesReceived() const { return bytes_received_.load(); }
    /** Waits until acceptedConnections() >= n. */
    bool waitForAccepted(std::size_t n, Millis timeout);

    /** Closes the listening socket (new connects are refused) and every open connection, like a
     * killed process. Idempotent. */
    void stop();
    /** Listens again on the same port (SO_REUSEADDR); throws if it cannot within 2 s. */
    void start();
    bool running() const { return listen_fd_ >= 0; }

private:
    struct Connection {
        std::mutex mutex;
        int fd = -1;
        std::thread thread;
        std::atomic<bool> done{false};
    };

    void listenOnce();
    void acceptLoop(int listen_fd, int wake_fd);
    void serve(Connection& c);
    void reapFinished();
    void stopConnections();

    const BackendMode mode_;
    std::string id_;
    const std::string ip_;
    std::uint16_t port_ = 0;

    int listen_fd_ = -1;
    int wake_pipe_[2] = {-1, -1};
    std::thread accept_thread_;

    std::mutex connections_mutex_;
    std::list<std::unique_ptr<Connection>> connections_;

    std::mutex accepted_mutex_;
    std::condition_variable accepted_cv_;
    std::atomic<std::size_t> accepted_{0};
    std::atomic<std::size_t> active_{0};
    std::atomic<std::uint64_t> bytes_received_{0};
};

}  // namespace postern::test
