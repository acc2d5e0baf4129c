#include "harness/blocking_client.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace postern::test {
namespace {

using Clock = std::chrono::steady_clock;

int remainingMs(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

/** poll() one fd until an event or the deadline; returns revents (0 on timeout). */
short waitFor(int fd, short events, Clock::time_point deadline) {
    for (int round = 0; round < 1000000; ++round) {
        pollfd p{fd, events, 0};
        const int rc = ::poll(&p, 1, remainingMs(deadline));
        if (rc > 0) return p.revents;
        if (rc == 0) return 0;
        if (errno != EINTR) return POLLERR;
    }
    return 0;
}

IoStatus statusFromErrno(int e) {
    if (e == ECONNRESET || e == EPIPE) return IoStatus::Reset;
    if (e == ETIMEDOUT) return IoStatus::Timeout;
    return IoStatus::Error;
}

constexpr std::size_t kChunk = 64 * 1024;

}  // namespace

const char* toString(IoStatus s) {
    switch (s) {
        case IoStatus::Ok: return "ok";
        case IoStatus::Eof: return "eof";
        case IoStatus::Reset: return "reset";
        case IoStatus::Timeout: return "timeout";
        case IoStatus::Error: return "error";
    }
    return "?";
}

BlockingClient::~BlockingClient() { close(); }

BlockingClient::BlockingClient(BlockingClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), error_(other.error_) {}

BlockingClient& BlockingClient::operator=(BlockingClient&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        error_ = other.error_;
    }
    return *this;
}

BlockingClient BlockingClient::connect(std::string_view ip, std::uint16_t port, Millis timeout,
                                       std::string_view source_ip) {
    const auto to = SocketAddress::fromIp(ip, port);
    if (!to) {
        BlockingClient c;
        c.error_ = EINVAL;
        return c;
    }
    return connect(*to, timeout, source_ip);
}

BlockingClient BlockingClient::connect(const SocketAddress& to, Millis timeout,
                                       std::string_view source_ip) {
    BlockingClient failed;
    const int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        failed.error_ = errno;
        return failed;
    }
    auto fail = [&](int e) {
        ::close(fd);
        failed.error_ = e;
        return std::move(failed);
    };
    if (!source_ip.empty()) {
        const auto from = SocketAddress::fromIp(source_ip, 0);
        if (!from) return fail(EINVAL);
        if (::bind(fd, from->sockaddrPtr(), from->length()) != 0) return fail(errno);
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (::connect(fd, to.sockaddrPtr(), to.length()) != 0) {
        if (errno != EINPROGRESS) return fail(errno);
        const auto deadline = Clock::now() + timeout;
        const short ev = waitFor(fd, POLLOUT, deadline);
        if (ev == 0) return fail(ETIMEDOUT);
        int err = 0;
        socklen_t len = sizeof(err);
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return fail(errno);
        if (err != 0) return fail(err);
    }
    return BlockingClient(fd);
}

std::optional<SocketAddress> BlockingClient::localAddress() const {
    if (fd_ < 0) return std::nullopt;
    return SocketAddress::localOf(fd_);
}

IoStatus BlockingClient::sendAll(std::string_view data, Millis timeout) {
    if (fd_ < 0) return IoStatus::Error;
    const auto deadline = Clock::now() + timeout;
    std::size_t sent = 0;
    while (sent < data.size()) {
        const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (Clock::now() >= deadline) return IoStatus::Timeout;
            const short ev = waitFor(fd_, POLLOUT, deadline);
            if (ev == 0) return IoStatus::Timeout;
            continue;
        }
        error_ = errno;
        return statusFromErrno(errno);
    }
    return IoStatus::Ok;
}

RecvResult BlockingClient::recvExactly(std::size_t n, Millis timeout) {
    RecvResult r;
    if (fd_ < 0) {
        r.status = IoStatus::Error;
        return r;
    }
    const auto deadline = Clock::now() + timeout;
    char buf[kChunk];
    while (r.data.size() < n) {
        const std::size_t want = std::min(kChunk, n - r.data.size());
        const ssize_t got = ::recv(fd_, buf, want, 0);
        if (got > 0) {
            r.data.append(buf, static_cast<std::size_t>(got));
            continue;
        }
        if (got == 0) {
            r.status = IoStatus::Eof;
            return r;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (Clock::now() >= deadline || waitFor(fd_, POLLIN, deadline) == 0) {
                r.status = IoStatus::Timeout;
                return r;
            }
            continue;
        }
        error_ = errno;
        r.status = statusFromErrno(errno);
        return r;
    }
    r.status = IoStatus::Ok;
    return r;
}

RecvResult BlockingClient::recvSome(Millis timeout) {
    RecvResult r;
    if (fd_ < 0) {
        r.status = IoStatus::Error;
        return r;
    }
    const auto deadline = Clock::now() + timeout;
    char buf[kChunk];
    for (;;) {
        const ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
        if (got > 0) {
            r.data.assign(buf, static_cast<std::size_t>(got));
            r.status = IoStatus::Ok;
            return r;
        }
        if (got == 0) {
            r.status = IoStatus::Eof;
            return r;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (Clock::now() >= deadline || waitFor(fd_, POLLIN, deadline) == 0) {
                r.status = IoStatus::Timeout;
                return r;
            }
            continue;
        }
        error_ = errno;
        r.status = statusFromErrno(errno);
        return r;
    }
}

RecvResult BlockingClient::recvAll(Millis timeout) {
    RecvResult r;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto part = recvSome(std::chrono::duration_cast<Millis>(
            std::max(Clock::duration::zero(), deadline - Clock::now())));
        r.data += part.data;
        if (part.status != IoStatus::Ok) {
            r.status = part.status;
            return r;
        }
        if (Clock::now() >= deadline) {
            r.status = IoStatus::Timeout;
            return r;
        }
    }
}

RecvResult BlockingClient::exchange(std::string_view out, std::size_t expect_in, Millis timeout,
                                    bool shutdown_write_after) {
    RecvResult r;
    if (fd_ < 0) {
        r.status = IoStatus::Error;
        return r;
    }
    r.data.reserve(expect_in);
    const auto deadline = Clock::now() + timeout;
    std::size_t sent = 0;
    bool write_shut = false;
    char buf[kChunk];
    for (;;) {
        if (sent == out.size() && shutdown_write_after && !write_shut) {
            ::shutdown(fd_, SHUT_WR);
            write_shut = true;
        }
        if (sent == out.size() && r.data.size() >= expect_in) {
            r.status = IoStatus::Ok;
            return r;
        }
        short events = 0;
        if (r.data.size() < expect_in) events |= POLLIN;
        if (sent < out.size()) events |= POLLOUT;
        const short ev = waitFor(fd_, events, deadline);
        if (ev == 0) {
            r.status = IoStatus::Timeout;
            return r;
        }
        if ((ev & (POLLIN | POLLHUP | POLLERR)) != 0 && r.data.size() < expect_in) {
            const ssize_t got = ::recv(fd_, buf, std::min(kChunk, expect_in - r.data.size()), 0);
            if (got > 0) {
                r.data.append(buf, static_cast<std::size_t>(got));
            } else if (got == 0) {
                r.status = IoStatus::Eof;
                return r;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                error_ = errno;
                r.status = statusFromErrno(errno);
                return r;
            }
        }
        if ((ev & (POLLOUT | POLLERR)) != 0 && sent < out.size()) {
            const ssize_t n =
                ::send(fd_, out.data() + sent, std::min(kChunk, out.size() - sent), MSG_NOSIGNAL);
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                error_ = errno;
                r.status = statusFromErrno(errno);
                return r;
            }
        }
        if (ev == POLLHUP && r.data.size() >= expect_in) {
            // Peer gone while we still had data to send.
            r.status = IoStatus::Reset;
            return r;
        }
    }
}

void BlockingClient::shutdownWrite() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void BlockingClient::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

}  // namespace postern::test
