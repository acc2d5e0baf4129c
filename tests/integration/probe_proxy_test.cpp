// Probes of a pool whose backends expect the PROXY protocol: by default they start with
// `PROXY UNKNOWN` (v1) / a v2 LOCAL header, as HAProxy's checks do, so an `http` probe against a
// backend that requires PROXY (like nginx's `listen ... proxy_protocol`) brings it up and traffic
// flows; an explicit `proxy_protocol = false` on the probe still wins.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "harness/socket_address.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

/** An HTTP backend that requires a PROXY header first, like nginx's `listen ... proxy_protocol`:
 * a connection that does not start with a complete v1 line or v2 header is closed without a
 * response; otherwise it reads the request head and answers 200 with "<id>\n", then closes. One
 * accept thread plus one thread per connection (every wait bounded); the destructor stops and
 * joins them all and closes every fd. */
class ProxyHttpBackend {
public:
    explicit ProxyHttpBackend(std::string id) : id_(std::move(id)) {
        const auto addr = SocketAddress::fromIp("127.0.0.1", 0);
        listen_fd_ = ::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd_ < 0 || ::bind(listen_fd_, addr->sockaddrPtr(), addr->length()) != 0 ||
            ::listen(listen_fd_, 64) != 0)
            throw std::runtime_error(std::string("proxy backend: cannot listen: ") +
                                     std::strerror(errno));
        port_ = SocketAddress::localOf(listen_fd_)->port();
        if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        accept_thread_ = std::thread([this] { acceptLoop(); });
    }
    ~ProxyHttpBackend() {
        stop_ = true;
        char b = 0;
        (void)!::write(wake_[1], &b, 1);
        accept_thread_.join();
        for (auto& t : threads_) t.join();
        ::close(listen_fd_);
        ::close(wake_[0]);
        ::close(wake_[1]);
    }
    ProxyHttpBackend(const ProxyHttpBackend&) = delete;
    ProxyHttpBackend& operator=(const ProxyHttpBackend&) = delete;

    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    /** Connections that started with PROXY UNKNOWN / v2 LOCAL (probes), with a v1/v2 header
     * carrying a client (relayed clients), or with no header (closed unanswered). */
    std::size_t localHeaders() const { return local_.load(); }
    std::size_t clientHeaders() const { return client_.load(); }
    std::size_t withoutHeader() const { return bare_.load(); }

private:
    void acceptLoop() {
        for (int i = 0; i < 100000 && !stop_; ++i) {
            pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
            if (::poll(p, 2, 1000) < 0 && errno != EINTR) return;
            if (p[1].revents & POLLIN) return;
            if (!(p[0].revents & POLLIN)) continue;
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            threads_.emplace_back([this, fd] {
                serve(fd);
                ::close(fd);
            });
        }
    }

    /** Appends what arrives within 3 s until `done(buffer)`; false on EOF, error, stop or time. */
    template <class Done>
    bool readUntil(int fd, std::string& buffer, Done done) {
        const auto deadline = std::chrono::steady_clock::now() + 3s;
        for (int i = 0; i < 1000 && !done(buffer); ++i) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || stop_) return false;
            pollfd p[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
            if (::poll(p, 2, static_cast<int>(left.count())) <= 0 || (p[1].revents & POLLIN))
                return false;
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return false;
            buffer.append(buf, static_cast<std::size_t>(n));
        }
        return done(buffer);
    }

    void serve(int fd) {
        std::string in;
        // Enough to tell a header from anything else: "PROXY UNKNOWN\r\n", the shortest v1
        // line, is 15 bytes; the v2 signature 12.
        if (!readUntil(fd, in, [](const std::string& b) { return b.size() >= 12; })) {
            if (!in.empty()) ++bare_;
            return;
        }
        std::size_t header_end = 0;
        bool local = false;
        if (in.rfind("PROXY ", 0) == 0) {
            if (!readUntil(fd, in, [](const std::string& b) {
                    return b.find("\r\n") != std::string::npos;
                }))
                return;
            header_end = in.find("\r\n") + 2;
            if (header_end > 108) return;
            local = in.rfind("PROXY UNKNOWN", 0) == 0;
        } else if (in.compare(0, 12, kV2Signature) == 0) {
            if (!readUntil(fd, in, [](const std::string& b) { return b.size() >= 16; })) return;
            const std::size_t len =
                (static_cast<std::size_t>(static_cast<unsigned char>(in[14])) << 8) |
                static_cast<unsigned char>(in[15]);
            if (!readUntil(fd, in, [len](const std::string& b) { return b.size() >= 16 + len; }))
                return;
            header_end = 16 + len;
            local = (static_cast<unsigned char>(in[12]) & 0x0f) == 0;  // command LOCAL
        } else {
            ++bare_;
            return;  // nginx: "broken header", closed without a response
        }
        ++(local ? local_ : client_);
        if (!readUntil(fd, in, [header_end](const std::string& b) {
                return b.find("\r\n\r\n", header_end) != std::string::npos;
            }))
            return;
        const std::string body = id_ + "\n";
        const std::string response =
            "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\nConnection: close\r\n\r\n" + body;
        (void)!::send(fd, response.data(), response.size(), MSG_NOSIGNAL);
        ::shutdown(fd, SHUT_WR);
        std::string rest;  // until the peer closes (bounded), so the response is not reset
        readUntil(fd, rest, [](const std::string&) { return false; });
    }

    const std::string id_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    int wake_[2] = {-1, -1};
    std::atomic<bool> stop_{false};
    std::thread accept_thread_;
    std::list<std::thread> threads_;  // the accept thread only adds; joined by the destructor
    std::atomic<std::size_t> local_{0}, client_{0}, bare_{0};
};

/** GET / through postern; returns the body or "" (and the status line) when it fails. */
std::string getBody(std::uint16_t port) {
    BlockingClient c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    if (!c.connected()) return "";
    c.sendAll("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", kIoTimeout);
    const std::string r = c.recvAll(kIoTimeout).data;
    const auto at = r.find("\r\n\r\n");
    if (r.rfind("HTTP/1.1 200", 0) != 0 || at == std::string::npos) return "";
    return r.substr(at + 4);
}

class ProbeProxyTest : public IntegrationTest {};

/** A pool `pp` of one backend that gets PROXY `version`, probed by the `http` plugin with `extra`
 * [pool.probe] keys. */
std::string proxyPool(const std::string& backend, const std::string& version,
                      const std::string& extra = {}) {
    return "[[pool]]\nname = \"pp\"\n[pool.backend]\nproxy_protocol = \"" + version +
           "\"\n[pool.discovery]\ntargets = [\"" + backend +
           "\"]\n[pool.probe]\nplugin = \"http\"\ninterval = \"200ms\"\ntimeout = \"1s\"\n"
           "healthy_threshold = 2\nunhealthy_threshold = 2\n" +
           extra + "\n";
}

TEST_F(ProbeProxyTest, HttpProbeOfAProxyBackendSendsProxyByDefault) {
    for (const char* version : {"v1", "v2"}) {
        SCOPED_TRACE(version);
        ProxyHttpBackend backend(std::string("pp-") + version);
        auto& p = runPostern(gatewayToml(1) + listenerToml("front", "pp") +
                             proxyPool(backend.address(), version));
        const auto port = p.listeningPort("front", kStartTimeout);
        ASSERT_NE(port, 0);
        ASSERT_TRUE(p.waitReady(kStartTimeout));
        const auto up = p.waitForLine(
            logLine({{"msg", "backend up"}, {"pool", "pp"}, {"backend", backend.address()}}), 5s);
        EXPECT_TRUE(up)
            << "the probe never got an answer; backend down lines: "
            << p.matchingLines(logLine({{"msg", "backend down"}}), Stream::Stderr).size();
        EXPECT_GE(backend.localHeaders(), 1u) << "probes start with PROXY UNKNOWN / v2 LOCAL";
        EXPECT_EQ(backend.withoutHeader(), 0u);
        EXPECT_EQ(getBody(port), std::string("pp-") + version + "\n") << "traffic flows";
        EXPECT_EQ(backend.clientHeaders(), 1u);
        p.kill();
    }
}

TEST_F(ProbeProxyTest, ExplicitFalseStillWins) {
    ProxyHttpBackend backend("pp");
    auto& p = runPostern(gatewayToml(1) + listenerToml("front", "pp") +
                         proxyPool(backend.address(), "v1", "proxy_protocol = false"));
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    const auto down = p.waitForLine(
        logLine({{"msg", "backend down"}, {"pool", "pp"}, {"backend", backend.address()}}), 5s);
    ASSERT_TRUE(down) << "a probe without PROXY gets no answer from this backend";
    EXPECT_EQ(backend.localHeaders(), 0u);
    EXPECT_GE(backend.withoutHeader(), 1u);
}

}  // namespace
}  // namespace postern::test
