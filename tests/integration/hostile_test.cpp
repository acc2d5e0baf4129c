// Hostile conditions the gateway must ride out (issue 12): running out of descriptors, a drain
// deadline that cuts streams in flight, another program binding the listener's port.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <future>
#include <thread>

#include "harness/proc_stats.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class HostileTest : public IntegrationTest {};

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
    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml(2) + listenerToml("front", "echo") +
                         poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
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
    auto& p = runPostern(gatewayToml(1) + listenerToml("front", "echo") +
                         poolToml("echo", addressesOf({&b}), "drain_timeout = \"1s\""));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

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
    auto& p = runPostern(gatewayToml(2) + listenerToml("front", "echo") +
                         poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

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

}  // namespace
}  // namespace postern::test
