// Hostile conditions the gateway must ride out (issue 12): running out of descriptors, a drain
// deadline that cuts streams in flight, another program binding the listener's port, the memory
// a storm of TLS handshakes leaves behind.
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <future>
#include <thread>

#include "certs/test_pki.h"
#include "harness/proc_stats.h"
#include "harness/temp_dir.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class HostileTest : public IntegrationTest {
protected:
    /** postern with `workers` workers, one tcp listener "front" over `backend`; its port, or 0. */
    std::uint16_t startFront(const TestBackend& backend, int workers,
                             std::string_view pool_extra = {}) {
        front_ = &runPostern(gatewayToml(workers) + listenerToml("front", "echo") +
                             poolToml("echo", addressesOf({&backend}), pool_extra));
        const auto port = front_->listeningPort("front", kStartTimeout);
        return port != 0 && front_->waitReady(kStartTimeout) ? port : 0;
    }
    PosternProcess* front_ = nullptr;
};

/** Waits until `pid` has at most `limit` descriptors open; the last count seen. */
std::uint64_t waitForFdsAtMost(pid_t pid, std::uint64_t limit, Millis timeout) {
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t seen = 0;
    while (true) {
        auto s = readProcStats(pid);
        if (!s) return seen;
        seen = s->open_fds;
        if (seen <= limit || msSince(start) > static_cast<double>(timeout.count())) return seen;
        std::this_thread::sleep_for(20ms);
    }
}

TEST_F(HostileTest, OutOfDescriptorsPausesAcceptsInsteadOfSpinningAndRecovers) {
#if defined(__SANITIZE_ADDRESS__)
    // UBSan's vptr check probes memory through a pipe of its own (IsAccessibleMemoryRange): with
    // no descriptor left it reports every first virtual call of a type as "invalid vptr". The
    // normal and ThreadSanitizer builds run this test.
    GTEST_SKIP() << "the sanitizer runtime needs descriptors of its own";
#endif
    TestBackend b(BackendMode::Echo);
    const auto port = startFront(b, 2);
    ASSERT_NE(port, 0);
    auto& p = *front_;
    {
        auto warm = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
        ASSERT_TRUE(echoRoundTrip(warm, "warm-up"));
    }
    // Its access log line is written once both of its descriptors are closed.
    ASSERT_TRUE(p.waitForLine(logLine({{"cause", "client_fin"}}), kIoTimeout, Stream::Stdout));
    const auto base = readProcStats(p.pid());
    ASSERT_TRUE(base);
    // Room for five proxied connections (two descriptors each) beyond what it holds now; the
    // sixth client's accept fails. (The limit bounds descriptor numbers: count the free ones.)
    const auto used = openFdNumbers(p.pid());
    std::uint64_t limit = 0;
    for (std::uint64_t free_slots = 0; free_slots < 10;)
        if (std::find(used.begin(), used.end(), static_cast<int>(limit++)) == used.end())
            ++free_slots;
    ASSERT_TRUE(setDescriptorLimit(p.pid(), limit)) << std::strerror(errno);

    // 60 clients: the kernel completes every handshake into the backlog, postern can take ~5.
    std::vector<BlockingClient> clients;
    for (int i = 0; i < 60; ++i) {
        clients.push_back(BlockingClient::connect("127.0.0.1", port, kIoTimeout));
        ASSERT_TRUE(clients.back().connected()) << "client " << i;
    }
    ASSERT_TRUE(p.waitForLine(std::regex("level=error msg=\"cannot accept"), kIoTimeout))
        << "postern never reported that it could not accept";

    // While the backlog waits, the workers must not spin: a busy loop shows ~1 CPU per worker.
    const auto share = cpuShareOver(p.pid(), 1.0);
    ASSERT_TRUE(share);
    std::cerr << "CPU share while out of descriptors: " << *share << "\n";
    EXPECT_LT(*share, 0.5) << "postern used " << *share << " CPUs while out of descriptors";
    // One line when an episode starts (per worker), not one per failed accept.
    const auto cannot = p.matchingLines(std::regex("cannot accept"), Stream::Stderr);
    EXPECT_LE(cannot.size(), 4u) << "accept failures are logged one by one: " << cannot.size();

    // Service resumes by itself once descriptors are free again: the waiting clients leave and a
    // new one is served.
    clients.clear();
    ASSERT_TRUE(setDescriptorLimit(p.pid(), 4096));
    auto late = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(late.connected());
    EXPECT_TRUE(echoRoundTrip(late, "after the storm", 20s));
    EXPECT_TRUE(p.waitForLine(logLine({{"msg", "accepting again"}}), kIoTimeout));
    late.close();
    const auto fds = waitForFdsAtMost(p.pid(), base->open_fds, kIoTimeout);
    EXPECT_LE(fds, base->open_fds) << "descriptors not released after the clients left";
}

TEST_F(HostileTest, DrainDeadlineResetsAStreamInFlightAndEndsAnIdleOneWithFin) {
    TestBackend b(BackendMode::Echo);
    const auto port = startFront(b, 1, "drain_timeout = \"1s\"");
    ASSERT_NE(port, 0);
    auto& p = *front_;

    auto idle = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(echoRoundTrip(idle, "hello"));

    // A client that uploads and never reads its echo: every buffer on the way fills up, so bytes
    // are in flight when the drain deadline comes.
    auto busy = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(busy.connected());
    const int busy_fd = busy.fd();
    auto uploader = std::async(std::launch::async, [busy_fd] {
        std::string chunk(64 * 1024, 'x');
        for (int i = 0; i < 1024; ++i)  // 64 MiB at most; stops when postern closes
            if (::send(busy_fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0) return;
    });
    const auto start = std::chrono::steady_clock::now();
    while (b.bytesReceived() < 1024 * 1024 && msSince(start) < 10000.0)
        std::this_thread::sleep_for(10ms);
    ASSERT_GE(b.bytesReceived(), 1024u * 1024u) << "the upload never reached the backend";

    ASSERT_TRUE(p.sendSignal(SIGTERM));
    const auto code = p.waitExit(15s);
    ASSERT_TRUE(code) << "did not exit after the drain deadline";
    EXPECT_EQ(*code, 0);
    uploader.wait();

    const auto r_busy = busy.recvAll(5s);
    EXPECT_EQ(r_busy.status, IoStatus::Reset)
        << "a stream cut while bytes were in flight must end with a reset, got "
        << toString(r_busy.status) << " after " << r_busy.data.size() << " bytes";
    const auto r_idle = idle.recvAll(5s);
    EXPECT_EQ(r_idle.status, IoStatus::Eof)
        << "an idle connection closed at the deadline gets a FIN, got " << toString(r_idle.status);
    EXPECT_EQ(p.matchingLines(logLine({{"cause", "shutdown"}}), Stream::Stdout).size(), 2u);
}

/** A listening socket on 127.0.0.1:port with SO_REUSEPORT, as another program could open. */
int reusePortListener(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    const auto addr = SocketAddress::fromIp("127.0.0.1", port);
    if (!addr || ::bind(fd, addr->sockaddrPtr(), addr->length()) != 0 || ::listen(fd, 128) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

TEST_F(HostileTest, AnotherSocketJoiningTheListenersPortGetsNoClients) {
    TestBackend b(BackendMode::Echo);
    const auto port = startFront(b, 2);
    ASSERT_NE(port, 0);

    // Same user, SO_REUSEPORT: the kernel lets it join postern's group of listening sockets.
    const int intruder = reusePortListener(port);
    ASSERT_GE(intruder, 0) << "could not bind the intruder: " << std::strerror(errno);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{intruder};

    int served = 0;
    for (int i = 0; i < 40; ++i) {
        auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
        ASSERT_TRUE(c.connected());
        if (echoRoundTrip(c, "client " + std::to_string(i), 1s)) ++served;
    }
    int stolen = 0;
    while (::accept(intruder, nullptr, nullptr) >= 0) ++stolen;
    EXPECT_EQ(stolen, 0) << "the intruding socket took " << stolen << " of 40 clients";
    EXPECT_EQ(served, 40);
}

TEST_F(HostileTest, StartRefusedWhenAnotherReusePortSocketListensOnTheAddress) {
    const int holder = reusePortListener(0);
    ASSERT_GE(holder, 0);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{holder};
    const auto taken = SocketAddress::localOf(holder);
    ASSERT_TRUE(taken);

    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() +
                         listenerToml("busy", "echo", {}, "\"" + taken->toString() + "\"") +
                         poolToml("echo", addressesOf({&b})));
    const auto code = p.waitExit(kStartTimeout);
    ASSERT_TRUE(code) << "postern shares a port another socket listens on";
    EXPECT_EQ(*code, 1);
    EXPECT_NE(p.stderrText().find(taken->toString()), std::string::npos)
        << "stderr must name " << taken->toString();
}

/** The first flight of a TLS client (its ClientHello), from an OpenSSL client on memory BIOs. */
std::string clientHello(const std::string& server_name) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), in, out);  // ssl owns both
    SSL_set_tlsext_host_name(ssl.get(), server_name.c_str());
    SSL_set_connect_state(ssl.get());
    SSL_do_handshake(ssl.get());  // wants to read the ServerHello: the hello is in `out`
    char* data = nullptr;
    const long n = BIO_get_mem_data(out, &data);
    return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

TEST_F(HostileTest, MemoryOfATlsHandshakeStormIsGivenBack) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "a sanitizer's allocator keeps freed memory by design (quarantine)";
#endif
    TempDir certs("postern-storm-certs");
    auto ca = TestCa::createRoot(certs.path(), "storm-root");
    const auto cert = ca->issue("storm.example",
                                {"storm.example", {"storm.example"}, {}, KeyType::EcdsaP256, 90});
    TestBackend b(BackendMode::Echo);
    const std::string tls_listener =
        "[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"tls\"\npool = "
        "\"echo\"\n"
        "[listener.tls]\ncertificates = [{ cert = \"" +
        cert.cert.string() + "\", key = \"" + cert.key.string() +
        "\" }]\nhandshake_timeout = \"3s\"\n\n";
    auto& p = runPostern(gatewayToml(2) + tls_listener + poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    const auto hello = clientHello("storm.example");
    ASSERT_FALSE(hello.empty());
    const auto base = readProcStats(p.pid());
    ASSERT_TRUE(base);

    // 1,500 clients send their ClientHello and never answer the server's flight: each holds a
    // half-done handshake (SSL object, buffers, key share) until handshake_timeout.
    constexpr int kClients = 1500;
    std::vector<BlockingClient> clients;
    clients.reserve(kClients);
    for (int i = 0; i < kClients; ++i) {
        clients.push_back(BlockingClient::connect("127.0.0.1", port, kIoTimeout));
        ASSERT_TRUE(clients.back().connected()) << "client " << i;
        ASSERT_EQ(clients.back().sendAll(hello, kIoTimeout), IoStatus::Ok);
    }
    // The peak while they wait, until every one of them has ended at handshake_timeout.
    auto storm = readProcStats(p.pid());
    ASSERT_TRUE(storm);
    const auto waiting = std::chrono::steady_clock::now();
    const auto failed = logLine({{"cause", "tls_failed"}});
    while (p.matchingLines(failed, Stream::Stdout).size() < static_cast<std::size_t>(kClients)) {
        ASSERT_LT(msSince(waiting), 60000.0)
            << "not every stalled handshake ended at handshake_timeout";
        auto now = readProcStats(p.pid());
        ASSERT_TRUE(now);
        storm->rss_bytes = std::max(storm->rss_bytes, now->rss_bytes);
        std::this_thread::sleep_for(50ms);
    }
    clients.clear();

    // The storm raised RSS (else this test proves nothing); once it is over, the freed memory
    // goes back to the system, within a few trim intervals.
    EXPECT_GT(storm->rss_bytes, base->rss_bytes + 30u * 1024 * 1024)
        << "the storm did not raise RSS: " << base->rss_bytes << " -> " << storm->rss_bytes;
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t rss = storm->rss_bytes;
    while (msSince(start) < 30000.0) {
        auto now = readProcStats(p.pid());
        ASSERT_TRUE(now);
        rss = now->rss_bytes;
        if (rss < base->rss_bytes + 15u * 1024 * 1024) break;
        std::this_thread::sleep_for(100ms);
    }
    std::cerr << "RSS before " << base->rss_bytes / 1024 << " KiB, during the storm "
              << storm->rss_bytes / 1024 << " KiB, after " << rss / 1024 << " KiB\n";
    EXPECT_LT(rss, base->rss_bytes + 15u * 1024 * 1024) << "memory freed after the storm is kept";
}

}  // namespace
}  // namespace postern::test
