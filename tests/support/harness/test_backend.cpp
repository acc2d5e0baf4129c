#include "harness/test_backend.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "harness/socket_address.h"

namespace postern::test {
namespace {

bool sendAllBlocking(int fd, const char* data, std::size_t size) {
    std::size_t sent = 0;
    while (sent < size) {
        const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

TestBackend::TestBackend(BackendMode mode, std::string id, std::string ip, std::uint16_t port)
    : mode_(mode), id_(std::move(id)), ip_(std::move(ip)), port_(port) {
    listenOnce();
    if (id_.empty()) id_ = "backend-" + std::to_string(port_);
}

TestBackend::~TestBackend() { stop(); }

std::string TestBackend::address() const {
    const auto a = SocketAddress::fromIp(ip_, port_);
    return a ? a->toString() : ip_ + ":" + std::to_string(port_);
}

void TestBackend::listenOnce() {
    const auto addr = SocketAddress::fromIp(ip_, port_);
    if (!addr) throw std::runtime_error("TestBackend: bad ip " + ip_);
    const int fd = ::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("TestBackend: socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, addr->sockaddrPtr(), addr->length()) != 0 || ::listen(fd, 128) != 0) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error("TestBackend: cannot listen on " + addr->toString() + ": " +
                                 std::strerror(e));
    }
    const auto local = SocketAddress::localOf(fd);
    port_ = local ? local->port() : port_;
    if (::pipe2(wake_pipe_, O_CLOEXEC) != 0) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error(std::string("TestBackend: pipe: ") + std::strerror(e));
    }
    listen_fd_ = fd;
    accept_thread_ = std::thread([this, fd, wake = wake_pipe_[0]] { acceptLoop(fd, wake); });
}

void TestBackend::start() {
    if (running()) return;
    // Bounded retry: a port may be briefly unavailable right after close.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (int attempt = 0;; ++attempt) {
        try {
            listenOnce();
            return;
        } catch (const std::runtime_error&) {
            if (attempt >= 200 || std::chrono::steady_clock::now() >= deadline) throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void TestBackend::stop() {
    if (listen_fd_ >= 0) {
        const char b = 'x';
        [[maybe_unused]] const ssize_t w = ::write(wake_pipe_[1], &b, 1);
        if (accept_thread_.joinable()) accept_thread_.join();
        ::close(listen_fd_);
        ::close(wake_pipe_[0]);
        ::close(wake_pipe_[1]);
        listen_fd_ = -1;
        wake_pipe_[0] = wake_pipe_[1] = -1;
    }
    stopConnections();
}

bool TestBackend::waitForAccepted(std::size_t n, Millis timeout) {
    std::unique_lock lock(accepted_mutex_);
    return accepted_cv_.wait_for(lock, timeout, [&] { return accepted_.load() >= n; });
}

void TestBackend::acceptLoop(int listen_fd, int wake_fd) {
    for (;;) {
        pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
        const int rc = ::poll(fds, 2, -1);
        if (rc < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents != 0) return;
        if ((fds[0].revents & POLLIN) == 0) continue;
        const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        reapFinished();
        // Counted before the connection's thread exists: once a client has a byte from this
        // backend, acceptedConnections() and activeConnections() include its connection (counted
        // after, a slow accept thread, e.g. under TSan, could still be one short when a test
        // checks).
        active_.fetch_add(1);
        {
            std::lock_guard lock(accepted_mutex_);
            accepted_.fetch_add(1);
        }
        accepted_cv_.notify_all();
        auto conn = std::make_unique<Connection>();
        conn->fd = fd;
        Connection* raw = conn.get();
        {
            std::lock_guard lock(connections_mutex_);
            connections_.push_back(std::move(conn));
            raw->thread = std::thread([this, raw] { serve(*raw); });
        }
    }
}

void TestBackend::serve(Connection& c) {
    int fd;
    {
        std::lock_guard lock(c.mutex);
        fd = c.fd;
    }
    char buf[64 * 1024];
    std::string kept;  // ReplyAfterEof
    switch (mode_) {
        case BackendMode::CloseImmediately:
            break;
        case BackendMode::IdThenEcho: {
            const std::string hello = id_ + "\n";
            if (!sendAllBlocking(fd, hello.data(), hello.size())) break;
            [[fallthrough]];
        }
        case BackendMode::Echo:
        case BackendMode::Sink:
        case BackendMode::ReplyAfterEof:
            for (;;) {
                const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) {
                    if (n == 0 && mode_ == BackendMode::ReplyAfterEof)
                        sendAllBlocking(fd, kept.data(), kept.size());
                    break;
                }
                bytes_received_.fetch_add(static_cast<std::uint64_t>(n));
                if (mode_ == BackendMode::Sink) continue;
                if (mode_ == BackendMode::ReplyAfterEof) {
                    kept.append(buf, static_cast<std::size_t>(n));
                    continue;
                }
                if (!sendAllBlocking(fd, buf, static_cast<std::size_t>(n))) break;
            }
            break;
    }
    {
        std::lock_guard lock(c.mutex);
        ::close(c.fd);
        c.fd = -1;
    }
    active_.fetch_sub(1);
    c.done.store(true);
}

void TestBackend::reapFinished() {
    std::list<std::unique_ptr<Connection>> finished;
    {
        std::lock_guard lock(connections_mutex_);
        for (auto it = connections_.begin(); it != connections_.end();) {
            if ((*it)->done.load()) {
                finished.push_back(std::move(*it));
                it = connections_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& c : finished)
        if (c->thread.joinable()) c->thread.join();
}

void TestBackend::stopConnections() {
    std::list<std::unique_ptr<Connection>> all;
    {
        std::lock_guard lock(connections_mutex_);
        all.swap(connections_);
    }
    for (auto& c : all) {
        std::lock_guard lock(c->mutex);
        // Wakes the connection thread's blocking recv/send; it closes the fd itself.
        if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
    }
    for (auto& c : all)
        if (c->thread.joinable()) c->thread.join();
}

}  // namespace postern::test
