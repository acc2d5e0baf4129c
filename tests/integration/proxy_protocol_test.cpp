// PROXY protocol end to end (SPEC §3): the exact bytes a backend receives, real parsers (nginx,
// HAProxy) reading what postern sends, two postern instances chained, trusted / untrusted /
// malformed senders, probes, and an incoming header relayed as plain data without accept_proxy.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "certs/test_pki.h"
#include "harness/payload.h"
#include "harness/socket_address.h"
#include "harness/temp_dir.h"
#include "integration_fixture.h"
#include "tls_peers/tls_client.h"

namespace postern::test {
namespace {

// ---- a raw capture backend ---------------------------------------------------------------------

/** Accepts connections on ip:0 and records every byte each one sends until it closes; never
 * writes anything. One poll thread; the destructor stops and joins it and closes every fd. */
class CaptureBackend {
public:
    explicit CaptureBackend(const std::string& ip = "127.0.0.1") : ip_(ip) {
        const auto addr = SocketAddress::fromIp(ip, 0);
        if (!addr) throw std::runtime_error("bad ip " + ip);
        listen_fd_ = ::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (listen_fd_ < 0 || ::bind(listen_fd_, addr->sockaddrPtr(), addr->length()) != 0 ||
            ::listen(listen_fd_, 64) != 0)
            throw std::runtime_error("capture backend: cannot listen on " + ip + ": " +
                                     std::strerror(errno));
        port_ = SocketAddress::localOf(listen_fd_)->port();
        if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
        thread_ = std::thread([this] { run(); });
    }
    ~CaptureBackend() {
        stop_ = true;
        char b = 0;
        (void)!::write(wake_[1], &b, 1);
        thread_.join();
        for (auto& c : conns_)
            if (c.fd >= 0) ::close(c.fd);
        ::close(listen_fd_);
        ::close(wake_[0]);
        ::close(wake_[1]);
    }
    CaptureBackend(const CaptureBackend&) = delete;
    CaptureBackend& operator=(const CaptureBackend&) = delete;

    std::uint16_t port() const { return port_; }
    std::string address() const {
        return ip_.find(':') != std::string::npos ? "[" + ip_ + "]:" + std::to_string(port_)
                                                  : ip_ + ":" + std::to_string(port_);
    }

    /** Connection `index` (in accept order) once it has at least `n` bytes, or once it closed
     * (n = SIZE_MAX); nullopt on timeout. */
    std::optional<std::string> waitFor(std::size_t index, std::size_t n, Millis timeout) {
        std::unique_lock lock(mutex_);
        const bool ok = cv_.wait_for(lock, timeout, [&] {
            if (index >= conns_.size()) return false;
            const Conn& c = conns_[index];
            return n == SIZE_MAX ? c.closed : c.data.size() >= n;
        });
        if (!ok) return std::nullopt;
        return conns_[index].data;
    }
    std::optional<std::string> waitClosed(std::size_t index, Millis timeout) {
        return waitFor(index, SIZE_MAX, timeout);
    }
    std::size_t connections() {
        std::lock_guard lock(mutex_);
        return conns_.size();
    }

private:
    struct Conn {
        int fd = -1;
        std::string data;
        bool closed = false;
    };

    void run() {
        std::vector<pollfd> fds;
        std::vector<std::size_t> which;
        char buf[65536];
        while (!stop_) {
            fds.clear();
            which.clear();
            fds.push_back({listen_fd_, POLLIN, 0});
            fds.push_back({wake_[0], POLLIN, 0});
            {
                std::lock_guard lock(mutex_);
                for (std::size_t i = 0; i < conns_.size(); ++i) {
                    if (conns_[i].closed) continue;
                    fds.push_back({conns_[i].fd, POLLIN, 0});
                    which.push_back(i);
                }
            }
            if (::poll(fds.data(), fds.size(), 200) <= 0) continue;
            if (fds[0].revents & POLLIN) {
                int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (fd >= 0) {
                    std::lock_guard lock(mutex_);
                    conns_.push_back(Conn{fd, {}, false});
                    cv_.notify_all();
                }
            }
            for (std::size_t k = 0; k < which.size(); ++k) {
                if (!fds[k + 2].revents) continue;
                const ssize_t n = ::recv(fds[k + 2].fd, buf, sizeof buf, 0);
                std::lock_guard lock(mutex_);
                Conn& c = conns_[which[k]];
                if (n > 0) {
                    c.data.append(buf, static_cast<std::size_t>(n));
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    c.closed = true;
                    ::close(c.fd);
                    c.fd = -1;
                }
                cv_.notify_all();
            }
        }
    }

    std::string ip_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    int wake_[2] = {-1, -1};
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<Conn> conns_;
    std::thread thread_;
};

// ---- helpers -----------------------------------------------------------------------------------

std::uint16_t be16(const std::string& s, std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                      static_cast<unsigned char>(s[at + 1]));
}

std::string hexOf(std::string_view s) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

/** Bitwise CRC32C, written independently of postern's table-driven one. */
std::uint32_t crc32cBitwise(std::string_view data) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char b : data) {
        crc ^= b;
        for (int i = 0; i < 8; ++i) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

/** Waits until something accepts on 127.0.0.1:port (an external server starting up). */
bool waitForPort(std::uint16_t port, Millis timeout, const std::string& ip = "127.0.0.1") {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (int attempt = 0; attempt < 1000 && std::chrono::steady_clock::now() < deadline;
         ++attempt) {
        BlockingClient c = BlockingClient::connect(ip, port, 500ms);
        if (c.connected()) return true;
        std::this_thread::sleep_for(50ms);  // an external process: no event to wait on
    }
    return false;
}

std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/** Waits until `path` has at least `lines` lines and returns its text. */
std::string waitForLines(const std::filesystem::path& path, std::size_t lines, Millis timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string text;
    for (int attempt = 0; attempt < 1000; ++attempt) {
        text = readFile(path);
        if (static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) break;
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(50ms);  // a file written by another process
    }
    return text;
}

/** Sends a minimal HTTP/1.0 request and returns the whole response (the server closes). */
std::string httpGet(std::uint16_t port, const std::string& source_ip, std::uint16_t* client_port,
                    const std::string& ip = "127.0.0.1") {
    BlockingClient c = BlockingClient::connect(ip, port, kIoTimeout, source_ip);
    if (!c.connected()) return "connect failed: " + std::string(std::strerror(c.error()));
    if (client_port) *client_port = c.localAddress()->port();
    c.sendAll("GET / HTTP/1.0\r\nHost: test\r\n\r\n", kIoTimeout);
    return c.recvAll(kIoTimeout).data;
}

std::string body(const std::string& response) {
    auto at = response.find("\r\n\r\n");
    return at == std::string::npos ? std::string() : response.substr(at + 4);
}

/** An nginx of our own (its prefix in a temp dir), run in the foreground as one process
 * (master_process off: no worker would outlive the SIGKILL that ends it by PID).
 * `servers` are the server blocks of its http section; "@DIR@" in them is its directory. The log
 * format `pp` writes "$proxy_protocol_addr $proxy_protocol_port $remote_addr". */
class Nginx {
public:
    explicit Nginx(std::string servers) : process_("/usr/sbin/nginx") {
        const auto& dir = process_.dir().path();
        std::filesystem::create_directories(dir / "logs");
        std::filesystem::create_directories(dir / "tmp");
        const std::string d = dir.string();
        for (std::size_t at = servers.find("@DIR@"); at != std::string::npos;
             at = servers.find("@DIR@", at))
            servers.replace(at, 5, d);
        std::string conf = "error_log " + d + "/logs/error.log info;\n";
        conf += "pid " + d + "/nginx.pid;\nevents { worker_connections 64; }\nhttp {\n";
        conf += "  access_log off;\n";
        for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
            conf += "  " + std::string(temp) + "_temp_path " + d + "/tmp;\n";
        conf += "  log_format pp '$proxy_protocol_addr $proxy_protocol_port $remote_addr';\n";
        conf += servers + "}\n";
        process_.writeConfig(conf, "nginx.conf");
        process_.start({"-p", d, "-c", d + "/nginx.conf", "-g", "daemon off; master_process off;"});
    }
    std::filesystem::path path(const std::string& name) const {
        return process_.dir().path() / name;
    }
    std::string logs() const { return readFile(path("logs/error.log")) + process_.stderrText(); }

private:
    PosternProcess process_;  // a generic "spawn, log to files, kill by PID" wrapper
};

/** A HAProxy of our own, foreground (-db), ended by PID. */
class Haproxy {
public:
    explicit Haproxy(const std::string& config) : process_("/usr/sbin/haproxy") {
        const auto file = process_.writeConfig(config, "haproxy.cfg");
        process_.start({"-db", "-f", file.string()});
    }
    std::string logs() const { return process_.stdoutText() + process_.stderrText(); }

private:
    PosternProcess process_;
};

/** A server block that answers "$proxy_protocol_addr:$proxy_protocol_port" and logs to
 * @DIR@/logs/<log>. */
std::string nginxServer(const std::string& listen, const std::string& log) {
    return "  server {\n    listen " + listen + ";\n    access_log @DIR@/logs/" + log +
           " pp;\n    location / { return 200 \"$proxy_protocol_addr:$proxy_protocol_port\\n\"; }\n"
           "  }\n";
}

bool haveProgram(const char* path) { return ::access(path, X_OK) == 0; }

/** A [[listener]] with protocol = "tls" serving `cert`/`key`. */
std::string tlsListenerToml(std::string_view name, std::string_view pool,
                            const IssuedCertificate& cert, std::string_view tls_extra = {},
                            std::string_view extra = {}) {
    return "[[listener]]\nname = \"" + std::string(name) + "\"\nbind = [\"127.0.0.1:0\"]\n" +
           "protocol = \"tls\"\npool = \"" + std::string(pool) + "\"\n" + std::string(extra) +
           "\n[listener.tls]\ncertificates = [{ cert = \"" + cert.cert.string() + "\", key = \"" +
           cert.key.string() + "\" }]\n" + std::string(tls_extra) + "\n";
}

/** A sequence of type-length-value entries in s[begin, end) (type → value). */
std::map<int, std::string> tlvList(const std::string& s, std::size_t begin, std::size_t end) {
    std::map<int, std::string> out;
    for (std::size_t p = begin; p + 3 <= end && p + 3 + be16(s, p + 1) <= end;
         p += 3 + be16(s, p + 1))
        out[static_cast<unsigned char>(s[p])] = s.substr(p + 3, be16(s, p + 1));
    return out;
}

class ProxyProtocolTest : public IntegrationTest {
protected:
    /** Runs postern with `toml`, waits until ready, returns the listener's port. */
    std::uint16_t start(const std::string& toml, const std::string& listener = "in") {
        PosternProcess& p = runPostern(toml);
        last_ = &p;
        if (!p.waitReady(kStartTimeout)) return 0;
        return p.listeningPort(listener, kStartTimeout);
    }
    PosternProcess* last_ = nullptr;

    /** What a capture backend connection received from one client. */
    struct Relayed {
        std::uint16_t client_port = 0;  ///< the client's own port (0: it did not connect)
        std::optional<std::string> bytes;  ///< everything, by the time postern closed it
    };
    /** Connects to ip:port (from `source_ip` when given), sends `payload`, half-closes, and
     * returns what capture connection `index` received. */
    static Relayed relay(CaptureBackend& capture, std::string_view ip, std::uint16_t port,
                         const std::string& payload, std::string_view source_ip = {},
                         std::size_t index = 0) {
        Relayed out;
        BlockingClient c = BlockingClient::connect(ip, port, kIoTimeout, source_ip);
        if (!c.connected()) return out;
        out.client_port = c.localAddress()->port();
        if (c.sendAll(payload, kIoTimeout) != IoStatus::Ok) return out;
        c.shutdownWrite();
        out.bytes = capture.waitClosed(index, kIoTimeout);
        return out;
    }
};

// ---- exact bytes -------------------------------------------------------------------------------

TEST_F(ProxyProtocolTest, V1Ipv4ExactLineThenPayload) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() + listenerToml("in", "pp") +
              poolToml("pp", {capture.address()}, {}, "proxy_protocol = \"v1\""));
    ASSERT_NE(port, 0);
    const std::string payload = randomBytes(200000, 7);
    const Relayed r = relay(capture, "127.0.0.1", port, payload, "127.0.0.4");
    ASSERT_NE(r.client_port, 0);
    const std::uint16_t cport = r.client_port;
    const auto& got = r.bytes;
    ASSERT_TRUE(got);
    const std::string line = "PROXY TCP4 127.0.0.4 127.0.0.1 " + std::to_string(cport) + " " +
                             std::to_string(port) + "\r\n";
    ASSERT_GE(got->size(), line.size());
    EXPECT_EQ(got->substr(0, line.size()), line);
    EXPECT_EQ(got->size(), line.size() + payload.size());
    EXPECT_TRUE(got->compare(line.size(), std::string::npos, payload) == 0)
        << "payload differs after the header";
}

TEST_F(ProxyProtocolTest, V1Ipv6ClientToIpv4BackendIsTcp6) {
    CaptureBackend capture;  // IPv4 backend
    const std::uint16_t port =
        start(gatewayToml() + listenerToml("in", "pp", {}, "\"[::1]:0\"") +
              poolToml("pp", {capture.address()}, {}, "proxy_protocol = \"v1\""));
    ASSERT_NE(port, 0);
    const std::string payload = randomBytes(5000, 8);
    const Relayed r = relay(capture, "::1", port, payload);
    ASSERT_NE(r.client_port, 0);
    const std::uint16_t cport = r.client_port;
    const auto& got = r.bytes;
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, "PROXY TCP6 ::1 ::1 " + std::to_string(cport) + " " + std::to_string(port) +
                        "\r\n" + payload);
}

TEST_F(ProxyProtocolTest, V2DecodedFieldByField) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() + listenerToml("in", "pp") +
              poolToml("pp", {capture.address()}, {},
                       "proxy_protocol = \"v2\"\nproxy_protocol_crc = true"));
    ASSERT_NE(port, 0);
    const Relayed r = relay(capture, "127.0.0.1", port, "hello", "127.0.0.4");
    ASSERT_NE(r.client_port, 0);
    const std::uint16_t cport = r.client_port;
    const auto& got = r.bytes;
    ASSERT_TRUE(got);
    const std::string& h = *got;
    ASSERT_GE(h.size(), 28u);
    EXPECT_EQ(h.substr(0, 12), kV2Signature);
    EXPECT_EQ(static_cast<unsigned char>(h[12]), 0x21) << "version 2, PROXY";
    EXPECT_EQ(static_cast<unsigned char>(h[13]), 0x11) << "AF_INET, STREAM";
    const std::size_t total = 16 + be16(h, 14);
    ASSERT_LE(total, h.size());
    EXPECT_EQ(h.substr(16, 4), std::string("\x7f\x00\x00\x04", 4));  // 127.0.0.4
    EXPECT_EQ(h.substr(20, 4), std::string("\x7f\x00\x00\x01", 4));  // 127.0.0.1
    EXPECT_EQ(be16(h, 24), cport);
    EXPECT_EQ(be16(h, 26), port);
    // TLVs: a UNIQUE_ID (plain TCP listener: no ALPN, AUTHORITY or SSL) and the CRC32C.
    std::map<int, std::string> tlvs;
    std::size_t crc_at = 0;
    for (std::size_t p = 28; p + 3 <= total;) {
        const int type = static_cast<unsigned char>(h[p]);
        const std::size_t len = be16(h, p + 1);
        ASSERT_LE(p + 3 + len, total) << "TLV runs past the header";
        if (type == 0x03) crc_at = p + 3;
        tlvs[type] = h.substr(p + 3, len);
        p += 3 + len;
    }
    EXPECT_EQ(tlvs.count(0x01), 0u);
    EXPECT_EQ(tlvs.count(0x02), 0u);
    EXPECT_EQ(tlvs.count(0x20), 0u);
    ASSERT_EQ(tlvs.count(0x05), 1u);
    EXPECT_FALSE(tlvs[0x05].empty());
    EXPECT_LE(tlvs[0x05].size(), 128u);
    ASSERT_NE(crc_at, 0u);
    std::string zeroed = h.substr(0, total);
    const std::string stored = zeroed.substr(crc_at, 4);
    zeroed.replace(crc_at, 4, std::string(4, '\0'));
    const std::uint32_t crc = crc32cBitwise(zeroed);
    const std::string expected{static_cast<char>(crc >> 24), static_cast<char>(crc >> 16),
                               static_cast<char>(crc >> 8), static_cast<char>(crc)};
    EXPECT_EQ(hexOf(stored), hexOf(expected));
    EXPECT_EQ(h.substr(total), "hello");
}

TEST_F(ProxyProtocolTest, WithoutAcceptProxyAnIncomingHeaderIsJustData) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() + listenerToml("in", "plain") + poolToml("plain", {capture.address()}));
    ASSERT_NE(port, 0);
    const std::string sent = "PROXY TCP4 10.9.8.7 10.0.0.1 1234 80\r\nhello";
    const Relayed r = relay(capture, "127.0.0.1", port, sent);
    ASSERT_NE(r.client_port, 0);
    const auto& got = r.bytes;
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, sent);
}

// ---- probes ------------------------------------------------------------------------------------

TEST_F(ProxyProtocolTest, ProbesStartWithProxyUnknown) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() + listenerToml("in", "pp") +
              poolToml("pp", {capture.address()}, {}, "proxy_protocol = \"v1\"",
                       "interval = \"200ms\"\ntimeout = \"1s\"\nproxy_protocol = true"));
    ASSERT_NE(port, 0);
    auto got = capture.waitFor(0, 15, kIoTimeout);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->substr(0, 15), "PROXY UNKNOWN\r\n");
}

TEST_F(ProxyProtocolTest, V2PoolProbesSendLocal) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() + listenerToml("in", "pp") +
              poolToml("pp", {capture.address()}, {}, "proxy_protocol = \"v2\"",
                       "interval = \"200ms\"\ntimeout = \"1s\"\nproxy_protocol = true"));
    ASSERT_NE(port, 0);
    auto got = capture.waitFor(0, 16, kIoTimeout);
    ASSERT_TRUE(got);
    EXPECT_EQ(hexOf(got->substr(0, 16)), hexOf(kV2Signature + std::string("\x20\x00\x00\x00", 4)));
}

// ---- accepting ---------------------------------------------------------------------------------

TEST_F(ProxyProtocolTest, ChainedInstancesKeepTheOriginalClient) {
    CaptureBackend capture;
    // Second hop: accepts a header from loopback, sends v1 to the backend.
    const std::uint16_t inner =
        start(gatewayToml() +
              listenerToml("in", "pp", "accept_proxy = true\ntrusted_proxies = [\"127.0.0.0/8\"]") +
              poolToml("pp", {capture.address()}, {}, "proxy_protocol = \"v1\""));
    ASSERT_NE(inner, 0);
    PosternProcess* inner_process = last_;
    // First hop: v2 to the second.
    const std::uint16_t outer = start(
        gatewayToml() + listenerToml("in", "hop") +
        poolToml("hop", {"127.0.0.1:" + std::to_string(inner)}, {}, "proxy_protocol = \"v2\""));
    ASSERT_NE(outer, 0);
    const std::string payload = randomBytes(100000, 9);
    const Relayed r = relay(capture, "127.0.0.1", outer, payload, "127.0.0.4");
    ASSERT_NE(r.client_port, 0);
    const std::uint16_t cport = r.client_port;
    const auto& got = r.bytes;
    ASSERT_TRUE(got);
    // The original client, and the address it connected to (the first hop's listener).
    const std::string line = "PROXY TCP4 127.0.0.4 127.0.0.1 " + std::to_string(cport) + " " +
                             std::to_string(outer) + "\r\n";
    EXPECT_EQ(got->substr(0, line.size()), line);
    EXPECT_TRUE(got->size() == line.size() + payload.size() &&
                got->compare(line.size(), std::string::npos, payload) == 0)
        << "payload differs after the header";
    // The second hop's access log names the original client, not the first hop.
    EXPECT_TRUE(inner_process->waitForLine(
        lineWith({{"client", "127.0.0.4:" + std::to_string(cport)}, {"cause", "client_fin"}}),
        kIoTimeout, Stream::Stdout));
}

TEST_F(ProxyProtocolTest, AcceptsV1AndV2AndUnknownFromTrustedSenders) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() +
              listenerToml("in", "pp", "accept_proxy = true\ntrusted_proxies = [\"127.0.0.1\"]") +
              poolToml("pp", {capture.address()}));
    ASSERT_NE(port, 0);
    const std::string v2 = kV2Signature + std::string("\x21\x21\x00\x24", 4) +
                           std::string("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07", 16) +
                           std::string(15, '\0') + "\x01" + std::string("\x9c\x40\x01\xbb", 4);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n", "192.0.2.7:56324"},
        {v2, "[2001:db8::7]:40000"},
        {"PROXY UNKNOWN\r\n", ""},  // keeps the real peer
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        BlockingClient c = BlockingClient::connect("127.0.0.1", port, kIoTimeout, "127.0.0.1");
        ASSERT_TRUE(c.connected());
        const std::uint16_t cport = c.localAddress()->port();
        // Header and payload in one segment: the payload must survive untouched.
        ASSERT_EQ(c.sendAll(cases[i].first + "payload-" + std::to_string(i), kIoTimeout),
                  IoStatus::Ok);
        c.shutdownWrite();
        auto got = capture.waitClosed(i, kIoTimeout);
        ASSERT_TRUE(got) << i;
        EXPECT_EQ(*got, "payload-" + std::to_string(i));
        const std::string client =
            cases[i].second.empty() ? "127.0.0.1:" + std::to_string(cport) : cases[i].second;
        EXPECT_TRUE(last_->waitForLine(lineWith({{"client", client}}), kIoTimeout, Stream::Stdout))
            << client;
    }
}

TEST_F(ProxyProtocolTest, UntrustedSenderIsRefused) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() +
              listenerToml("in", "pp", "accept_proxy = true\ntrusted_proxies = [\"10.0.0.0/8\"]") +
              poolToml("pp", {capture.address()}));
    ASSERT_NE(port, 0);
    BlockingClient c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected());
    c.sendAll("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\nhello", kIoTimeout);
    EXPECT_TRUE(c.recvAll(kIoTimeout).closed());
    EXPECT_TRUE(
        last_->waitForLine(lineWith({{"cause", "proxy_untrusted"}}), kIoTimeout, Stream::Stdout));
    EXPECT_EQ(capture.connections(), 0u);
}

TEST_F(ProxyProtocolTest, MalformedHeadersAreClosedCountedAndLogged) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() +
              listenerToml("in", "pp", "accept_proxy = true\ntrusted_proxies = [\"127.0.0.0/8\"]") +
              poolToml("pp", {capture.address()}));
    ASSERT_NE(port, 0);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"GET / HTTP/1.1\r\n\r\n", "not a PROXY protocol header"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n", "v1 header: source port out of range"},
        {"PROXY UNKNOWN " + std::string(200, 'x'), "v1 header: no CRLF within 107 bytes"},
        {kV2Signature + std::string("\x21\x11\xff\xff", 4), "v2 header: longer than the limit"},
    };
    for (const auto& [input, reason] : cases) {
        BlockingClient c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
        ASSERT_TRUE(c.connected());
        c.sendAll(input, kIoTimeout);
        EXPECT_TRUE(c.recvAll(kIoTimeout).closed()) << reason;
        EXPECT_TRUE(last_->waitForLine(
            std::regex(std::regex_replace(reason, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)")),
            kIoTimeout, Stream::Stderr))
            << reason;
    }
    EXPECT_TRUE(last_->waitForLine(lineWith({{"cause", "proxy_invalid"}}), kIoTimeout,
                                   Stream::Stdout, cases.size()));
    EXPECT_EQ(capture.connections(), 0u);
}

TEST_F(ProxyProtocolTest, HeaderTimeoutClosesASilentSender) {
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() +
              listenerToml("in", "pp", "accept_proxy = true\ntrusted_proxies = [\"127.0.0.0/8\"]") +
              poolToml("pp", {capture.address()}));
    ASSERT_NE(port, 0);
    BlockingClient c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected());
    const auto started = std::chrono::steady_clock::now();
    c.sendAll("PROXY TCP4 1.2.3.4", kIoTimeout);  // and never the rest
    EXPECT_TRUE(c.recvAll(15s).closed());
    const double ms = msSince(started);
    EXPECT_GE(ms, 4500);  // the 5 s header timeout of a plain TCP listener
    EXPECT_LE(ms, 12000);
    EXPECT_TRUE(
        last_->waitForLine(lineWith({{"cause", "proxy_timeout"}}), kIoTimeout, Stream::Stdout));
    EXPECT_EQ(capture.connections(), 0u);
}

// ---- real parsers ------------------------------------------------------------------------------

TEST_F(ProxyProtocolTest, NginxReadsV1AndV2) {
    if (!haveProgram("/usr/sbin/nginx")) GTEST_SKIP() << "nginx is not installed";
    const std::uint16_t v1_port = deadPort();
    const std::uint16_t v2_port = deadPort();
    Nginx nginx(nginxServer("127.0.0.1:" + std::to_string(v1_port) + " proxy_protocol", "v1.log") +
                nginxServer("127.0.0.1:" + std::to_string(v2_port) + " proxy_protocol", "v2.log"));
    ASSERT_TRUE(waitForPort(v1_port, kStartTimeout)) << nginx.logs();
    ASSERT_TRUE(waitForPort(v2_port, kStartTimeout)) << nginx.logs();
    const std::string to_v1 = "127.0.0.1:" + std::to_string(v1_port);
    const std::string to_v2 = "127.0.0.1:" + std::to_string(v2_port);
    PosternProcess& p = runPostern(
        gatewayToml() + listenerToml("v1", "v1") + listenerToml("v2", "v2") +
        listenerToml("v1six", "v1", {}, "\"[::1]:0\"") +
        poolToml("v1", {to_v1}, {}, "proxy_protocol = \"v1\"") +
        poolToml("v2", {to_v2}, {}, "proxy_protocol = \"v2\"\nproxy_protocol_crc = true"));
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    const std::uint16_t in_v1 = p.listeningPort("v1", kStartTimeout);
    const std::uint16_t in_v2 = p.listeningPort("v2", kStartTimeout);
    const std::uint16_t in_six = p.listeningPort("v1six", kStartTimeout);

    std::uint16_t cport = 0;
    std::string r = httpGet(in_v1, "127.0.0.4", &cport);
    EXPECT_EQ(body(r), "127.0.0.4:" + std::to_string(cport) + "\n") << r << nginx.logs();
    EXPECT_EQ(waitForLines(nginx.path("logs/v1.log"), 1, kIoTimeout),
              "127.0.0.4 " + std::to_string(cport) + " 127.0.0.1\n");

    std::uint16_t cport6 = 0;
    r = httpGet(in_six, {}, &cport6, "::1");
    EXPECT_EQ(body(r), "::1:" + std::to_string(cport6) + "\n") << r << nginx.logs();
    EXPECT_EQ(waitForLines(nginx.path("logs/v1.log"), 2, kIoTimeout),
              "127.0.0.4 " + std::to_string(cport) + " 127.0.0.1\n::1 " + std::to_string(cport6) +
                  " 127.0.0.1\n");

    std::uint16_t cport2 = 0;
    r = httpGet(in_v2, "127.0.0.5", &cport2);
    EXPECT_EQ(body(r), "127.0.0.5:" + std::to_string(cport2) + "\n") << r << nginx.logs();
    EXPECT_EQ(waitForLines(nginx.path("logs/v2.log"), 1, kIoTimeout),
              "127.0.0.5 " + std::to_string(cport2) + " 127.0.0.1\n");
}

TEST_F(ProxyProtocolTest, HaproxyAcceptProxyBackend) {
    if (!haveProgram("/usr/sbin/haproxy")) GTEST_SKIP() << "haproxy is not installed";
    const std::uint16_t hport = deadPort();
    Haproxy haproxy(
        "global\n  log stdout format raw local0\n"
        "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
        "  timeout server 10s\n"
        "frontend fe\n  bind 127.0.0.1:" +
        std::to_string(hport) +
        " accept-proxy\n"
        "  log global\n  log-format \"seen %ci:%cp\"\n"
        "  http-request return status 200 content-type text/plain lf-string "
        "\"%[src]:%[src_port]\\n\"\n");
    ASSERT_TRUE(waitForPort(hport, kStartTimeout)) << haproxy.logs();
    const std::string to = "127.0.0.1:" + std::to_string(hport);
    PosternProcess& p =
        runPostern(gatewayToml() + listenerToml("v1", "v1") + listenerToml("v2", "v2") +
                   poolToml("v1", {to}, {}, "proxy_protocol = \"v1\"") +
                   poolToml("v2", {to}, {}, "proxy_protocol = \"v2\"\nproxy_protocol_crc = true"));
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    for (const char* listener : {"v1", "v2"}) {
        const std::uint16_t in = p.listeningPort(listener, kStartTimeout);
        std::uint16_t cport = 0;
        const std::string r = httpGet(in, "127.0.0.4", &cport);
        EXPECT_EQ(body(r), "127.0.0.4:" + std::to_string(cport) + "\n")
            << listener << ": " << r << haproxy.logs();
    }
}

// ---- TLS ---------------------------------------------------------------------------------------

TEST_F(ProxyProtocolTest, HeaderGoesBeforeTheBackendTlsHandshake) {
    // nginx "listen ... ssl proxy_protocol" reads the header in clear, then does TLS: it only
    // works when postern sends the header before its ClientHello.
    if (!haveProgram("/usr/sbin/nginx")) GTEST_SKIP() << "nginx is not installed";
    TempDir pki("postern-pp-pki");
    auto ca = TestCa::createRoot(pki.path(), "ca");
    const IssuedCertificate leaf =
        ca->issue("nginx", LeafSpec{"nginx", {"localhost"}, {"127.0.0.1"}});
    const std::uint16_t v1_port = deadPort();
    const std::uint16_t v2_port = deadPort();
    const std::string tls = "    ssl_certificate " + leaf.cert.string() +
                            ";\n    ssl_certificate_key " + leaf.key.string() + ";\n";
    std::string servers =
        nginxServer("127.0.0.1:" + std::to_string(v1_port) + " ssl proxy_protocol", "v1.log") +
        nginxServer("127.0.0.1:" + std::to_string(v2_port) + " ssl proxy_protocol", "v2.log");
    for (std::size_t at = servers.find("    access_log"); at != std::string::npos;
         at = servers.find("    access_log", at + tls.size() + 1))
        servers.insert(at, tls);
    Nginx nginx(servers);
    ASSERT_TRUE(waitForPort(v1_port, kStartTimeout)) << nginx.logs();
    ASSERT_TRUE(waitForPort(v2_port, kStartTimeout)) << nginx.logs();
    const std::string backend_tls =
        "protocol = \"tls\"\ntls_ca = \"" + ca->certificate().string() + "\"\n";
    PosternProcess& p =
        runPostern(gatewayToml() + listenerToml("v1", "v1") + listenerToml("v2", "v2") +
                   poolToml("v1", {"127.0.0.1:" + std::to_string(v1_port)}, {},
                            backend_tls + "proxy_protocol = \"v1\"") +
                   poolToml("v2", {"127.0.0.1:" + std::to_string(v2_port)}, {},
                            backend_tls + "proxy_protocol = \"v2\"\nproxy_protocol_crc = true"));
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    for (const char* listener : {"v1", "v2"}) {
        std::uint16_t cport = 0;
        const std::string r =
            httpGet(p.listeningPort(listener, kStartTimeout), "127.0.0.4", &cport);
        EXPECT_EQ(body(r), "127.0.0.4:" + std::to_string(cport) + "\n")
            << listener << ": " << r << nginx.logs();
        EXPECT_TRUE(p.waitForLine(
            lineWith({{"client", "127.0.0.4:" + std::to_string(cport)}, {"cause", "backend_fin"}}),
            kIoTimeout, Stream::Stdout))
            << listener;
    }
}

TEST_F(ProxyProtocolTest, V2CarriesTheListenersTlsFacts) {
    ignoreSigpipe();
    TempDir pki("postern-pp-pki");
    auto ca = TestCa::createRoot(pki.path(), "ca");
    const IssuedCertificate leaf =
        ca->issue("postern", LeafSpec{"postern", {"mqtt.example.com"}, {"127.0.0.1"}});
    CaptureBackend capture;
    const std::uint16_t port =
        start(gatewayToml() + tlsListenerToml("in", "pp", leaf, "alpn = [\"mqtt\"]") +
              poolToml("pp", {capture.address()}, {}, "proxy_protocol = \"v2\""));
    ASSERT_NE(port, 0);
    TlsClientOptions options;
    options.ca = ca->certificate();
    options.alpn = {"mqtt"};
    TlsClient c = TlsClient::connect("127.0.0.1", port, makeTlsClientContext(options),
                                     "mqtt.example.com", kIoTimeout);
    ASSERT_TRUE(c.ok()) << c.error();
    ASSERT_EQ(c.sendAll("hello", kIoTimeout), IoStatus::Ok);
    c.closeWrite(kIoTimeout);
    auto got = capture.waitClosed(0, kIoTimeout);
    ASSERT_TRUE(got);
    const std::string& h = *got;
    ASSERT_GE(h.size(), 28u);
    EXPECT_EQ(h.substr(0, 12), kV2Signature);
    const std::size_t total = 16 + be16(h, 14);
    auto tlvs = tlvList(h, 28, total);
    EXPECT_EQ(tlvs[0x01], "mqtt");
    EXPECT_EQ(tlvs[0x02], "mqtt.example.com");
    ASSERT_EQ(tlvs.count(0x20), 1u);
    const std::string ssl = tlvs[0x20];
    ASSERT_GE(ssl.size(), 5u);
    EXPECT_EQ(ssl[0] & 0x01, 0x01) << "PP2_CLIENT_SSL";
    EXPECT_EQ(ssl[0] & 0x06, 0) << "no client certificate";
    EXPECT_NE(ssl.substr(1, 4), std::string(4, '\0')) << "verify is non-zero without a certificate";
    auto subs = tlvList(ssl, 5, ssl.size());
    EXPECT_EQ(subs[0x21], c.version());
    EXPECT_FALSE(subs[0x23].empty()) << "cipher";
    EXPECT_EQ(h.substr(total), "hello");
}

TEST_F(ProxyProtocolTest, TlsListenerAcceptsTheHeaderBeforeTheHandshake) {
    // First hop: plain TCP in, TLS to the second hop with a v1 header in front of the ClientHello.
    // Second hop: a TLS listener with accept_proxy; sends v1 on to the backend.
    ignoreSigpipe();
    TempDir pki("postern-pp-pki");
    auto ca = TestCa::createRoot(pki.path(), "ca");
    const IssuedCertificate leaf = ca->issue("hop", LeafSpec{"hop", {"localhost"}, {"127.0.0.1"}});
    CaptureBackend capture;
    const std::uint16_t inner =
        start(gatewayToml() +
              tlsListenerToml("in", "pp", leaf, {},
                              "accept_proxy = true\ntrusted_proxies = [\"127.0.0.1/32\"]") +
              poolToml("pp", {capture.address()}, {}, "proxy_protocol = \"v1\""));
    ASSERT_NE(inner, 0);
    const std::uint16_t outer =
        start(gatewayToml() + listenerToml("in", "hop") +
              poolToml("hop", {"127.0.0.1:" + std::to_string(inner)}, {},
                       "protocol = \"tls\"\ntls_ca = \"" + ca->certificate().string() +
                           "\"\nproxy_protocol = \"v1\""));
    ASSERT_NE(outer, 0);
    const std::string payload = randomBytes(50000, 11);
    const Relayed r = relay(capture, "127.0.0.1", outer, payload, "127.0.0.4");
    ASSERT_NE(r.client_port, 0);
    const std::uint16_t cport = r.client_port;
    const auto& got = r.bytes;
    ASSERT_TRUE(got);
    const std::string line = "PROXY TCP4 127.0.0.4 127.0.0.1 " + std::to_string(cport) + " " +
                             std::to_string(outer) + "\r\n";
    EXPECT_EQ(got->substr(0, line.size()), line);
    EXPECT_TRUE(got->size() == line.size() + payload.size() &&
                got->compare(line.size(), std::string::npos, payload) == 0)
        << "payload differs after the header";
}

}  // namespace
}  // namespace postern::test
