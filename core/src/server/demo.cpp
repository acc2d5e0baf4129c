#include "server/demo.h"

#ifdef _WIN32
#include <winsock2.h>
#else
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#endif

#include "net/socket_ops.h"

namespace postern::server {

namespace {

// The demo backends use plain blocking sockets; these are the few calls that differ on Windows.
bool waitReadable(net::Fd fd, int ms) {
#ifdef _WIN32
    WSAPOLLFD p{fd, POLLRDNORM, 0};
    return ::WSAPoll(&p, 1, ms) > 0;
#else
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, ms) > 0;
#endif
}

/** Accepts one connection as a blocking socket with a 2 s receive timeout. */
net::Fd acceptBlocking(net::Fd listener) {
#ifdef _WIN32
    SOCKET c = ::accept(listener, nullptr, nullptr);
    if (c == INVALID_SOCKET) return net::kInvalidFd;
    u_long blocking = 0;
    ::ioctlsocket(c, FIONBIO, &blocking);  // accepted sockets inherit the listener's mode
    DWORD ms = 2000;
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof ms);
#else
    int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return net::kInvalidFd;
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
#endif
    return c;
}

}  // namespace

std::string_view demoConfigText() {
    return R"(# postern built-in demo configuration
# A TCP listener on 127.0.0.1:8080 balancing (round robin) over two demo HTTP backends that
# postern itself starts on 127.0.0.1:9001 and 127.0.0.1:9002, each health-checked by a TCP probe.
# The admin endpoint on 127.0.0.1:9901: the dashboard at /, /metrics, /status.
[log]
level  = "info"
access = "stdout"

[admin]
bind = "127.0.0.1:9901"

[[listener]]
name         = "demo"
bind         = ["127.0.0.1:8080"]
protocol     = "tcp"
pool         = "demo"
idle_timeout = "60s"

[[pool]]
name     = "demo"
balancer = "round_robin"
  [pool.backend]
  connect_timeout = "2s"
  retries         = 1
  [pool.discovery]
  plugin  = "static"
  targets = ["127.0.0.1:9001", "127.0.0.1:9002"]
  [pool.probe]
  plugin   = "tcp"
  interval = "2s"
  timeout  = "1s"
)";
}

DemoBackends::~DemoBackends() { stop(); }

bool DemoBackends::start(std::string* error) {
    for (int i = 0; i < 2; ++i) {
        std::uint16_t port = static_cast<std::uint16_t>(9001 + i);
        auto addr = net::SocketAddress::fromIp("127.0.0.1", port);
        std::string err;
        net::Fd fd = net::listenSocket(*addr, false, 128, &err);
        if (fd == net::kInvalidFd) {
            if (error) *error = "cannot start demo backend on 127.0.0.1:" + std::to_string(port) + ": " + err;
            stop();
            return false;
        }
        fds_.push_back(fd);
        threads_.emplace_back([this, fd, i, port] {
            std::string body = "Hello from postern demo backend " + std::to_string(i + 1) +
                               " (127.0.0.1:" + std::to_string(port) + ")\n";
            std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
            while (!stop_.load()) {
                if (!waitReadable(fd, 200)) continue;
                net::Fd c = acceptBlocking(fd);
                if (c == net::kInvalidFd) continue;
                char buf[4096];
                (void)!::recv(c, buf, sizeof buf, 0);  // one read: an HTTP request or a line from nc
#ifdef _WIN32
                (void)!::send(c, response.data(), static_cast<int>(response.size()), 0);
#else
                (void)!::send(c, response.data(), response.size(), MSG_NOSIGNAL);
#endif
                net::closeFd(c);
            }
        });
    }
    return true;
}

void DemoBackends::stop() {
    stop_.store(true);
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    for (net::Fd fd : fds_) net::closeFd(fd);
    fds_.clear();
}

}  // namespace postern::server
