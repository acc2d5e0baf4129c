#include "server/demo.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "net/socket_ops.h"

namespace postern::server {

std::string_view demoConfigText() {
    return R"(# postern built-in demo configuration
# A TCP listener on 127.0.0.1:8080 balancing (round robin) over two demo HTTP backends that
# postern itself starts on 127.0.0.1:9001 and 127.0.0.1:9002, each health-checked by a TCP probe.
[log]
level  = "info"
access = "stdout"

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
        int fd = net::listenSocket(*addr, false, 128, &err);
        if (fd < 0) {
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
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 200) <= 0) continue;
                int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) continue;
                timeval tv{2, 0};
                ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                char buf[4096];
                (void)!::recv(c, buf, sizeof buf, 0);  // one read: an HTTP request or a line from nc
                (void)!::send(c, response.data(), response.size(), MSG_NOSIGNAL);
                ::close(c);
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
    for (int fd : fds_) ::close(fd);
    fds_.clear();
}

}  // namespace postern::server
