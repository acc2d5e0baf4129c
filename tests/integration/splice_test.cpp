// Zero-copy relaying (gateway.splice, Linux): bulk plain-TCP data moves socket → kernel pipe →
// socket. What shows from outside: the pipes postern holds while bytes wait in them (in
// /proc/PID/fd), the bytes arriving exact, backpressure, and no descriptor lost when a peer resets
// while a pipe still holds bytes.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "harness/payload.h"
#include "harness/socket_address.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class SpliceTest : public IntegrationTest, public ::testing::WithParamInterface<bool> {};

struct FdCounts {
    std::size_t all = 0;
    std::size_t pipes = 0;
};

FdCounts fdCounts(pid_t pid) {
    FdCounts n;
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        ++n.all;
        const auto target = std::filesystem::read_symlink(e.path(), ec);
        if (!ec && target.string().rfind("pipe:", 0) == 0) ++n.pipes;
    }
    return n;
}

TEST_P(SpliceTest, BulkDataIsExactAndWaitsInAPipeOnlyWhenSpliceIsOn) {
    const bool splice = GetParam();
    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml(1, splice ? "splice = true" : "splice = false") +
                         listenerToml("front", "echo") + poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));
    const std::size_t pipes_before = fdCounts(p.pid()).pipes;  // stdout/stderr to this test

    // The client sends 16 MiB and reads nothing yet: the echo backend blocks on its replies, so
    // both directions back up inside postern.
    constexpr std::size_t kSize = 16 * 1024 * 1024;
    const std::string payload = randomBytes(kSize, 42);
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected()) << "errno " << c.error();
    std::atomic<int> send_status{-1};
    std::thread sender([&] { send_status = static_cast<int>(c.sendAll(payload, 60s)); });
    std::size_t pipes_held = 0;
    for (int i = 0; i < 40; ++i) {  // up to 2 s for the buffers to fill
        std::this_thread::sleep_for(50ms);
        pipes_held = std::max(pipes_held, fdCounts(p.pid()).pipes - pipes_before);
    }
    const auto got = c.recvExactly(kSize, 60s);
    sender.join();
    EXPECT_EQ(send_status.load(), static_cast<int>(IoStatus::Ok));
    EXPECT_EQ(got.data.size(), kSize);
    EXPECT_EQ(checksum(got.data), checksum(payload));
    if (splice) {
        // One pipe per backed-up direction, two descriptors each.
        EXPECT_GE(pipes_held, 2u) << "no pipe held while the data backed up";
    } else {
        EXPECT_EQ(pipes_held, 0u) << "splice = false must not use pipes";
    }
    c.shutdownWrite();
    EXPECT_EQ(c.recvAll(kIoTimeout).status, IoStatus::Eof);
    const auto sizes = logLine({{"bytes_in", std::to_string(kSize)},
                                {"bytes_out", std::to_string(kSize)},
                                {"cause", "client_fin"}});
    EXPECT_TRUE(p.waitForLine(sizes, 5s, Stream::Stdout));
}

INSTANTIATE_TEST_SUITE_P(OnOff, SpliceTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "SpliceOn" : "SpliceOff"; });

/** A backend that reads `read_first` bytes, then resets the connection (SO_LINGER 0). */
class ResettingBackend {
public:
    explicit ResettingBackend(std::size_t read_first) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const auto a = SocketAddress::fromIp("127.0.0.1", 0);
        if (fd_ < 0 || ::bind(fd_, a->sockaddrPtr(), a->length()) != 0 || ::listen(fd_, 16) != 0)
            throw std::runtime_error("cannot listen");
        sockaddr_in bound{};
        socklen_t len = sizeof bound;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &len);
        port_ = ntohs(bound.sin_port);
        thread_ = std::thread([this, read_first] {
            for (;;) {
                const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0) return;  // the listening socket was shut down
                std::vector<char> buf(64 * 1024);
                std::size_t got = 0;
                while (got < read_first) {
                    const ssize_t n = ::recv(c, buf.data(), buf.size(), 0);
                    if (n <= 0) break;
                    got += static_cast<std::size_t>(n);
                }
                const linger lg{1, 0};
                ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                ::close(c);
                ++resets_;
            }
        });
    }
    ~ResettingBackend() {
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int resets() const { return resets_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<int> resets_{0};
    std::thread thread_;
};

TEST_F(IntegrationTest, SpliceBackendResetMidTransferEndsTheSessionWithoutLosingDescriptors) {
    ResettingBackend b(4 * 1024 * 1024);
    auto& p = runPostern(gatewayToml(1, "splice = true") + listenerToml("front", "rst") +
                         poolToml("rst", {b.address()}));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    const std::string payload = randomBytes(32 * 1024 * 1024, 9);
    const FdCounts base = fdCounts(p.pid());
    constexpr int kRounds = 5;
    for (int round = 1; round <= kRounds; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
        ASSERT_TRUE(c.connected()) << "errno " << c.error();
        // More than the backend reads: the rest is in flight (some of it in a pipe) at the reset.
        // The client learns it from its send (a reset reported once; a recv after it reads 0).
        EXPECT_EQ(c.sendAll(payload, 20s), IoStatus::Reset);
        c.close();
        ASSERT_TRUE(p.waitForLine(logLine({{"cause", "backend_reset"}}), 5s, Stream::Stdout,
                                  static_cast<std::size_t>(round)));
        // The session is freed just after its log line: wait until its sockets are closed.
        FdCounts now = fdCounts(p.pid());
        for (int i = 0; i < 40 && now.all - now.pipes != base.all - base.pipes; ++i) {
            std::this_thread::sleep_for(50ms);
            now = fdCounts(p.pid());
        }
        EXPECT_EQ(now.all - now.pipes, base.all - base.pipes) << "a socket was not closed";
        // One connection at a time uses one pipe: a pipe that was empty at the reset goes back
        // to the pool (kept for reuse), one that still held bytes is closed with its session.
        // Leaking either kind would grow this with every round.
        EXPECT_LE(now.pipes - base.pipes, 2u) << "pipe descriptors grew";
    }
    // The backend counts a reset after its close(), which postern may log first: wait for it.
    const auto start = std::chrono::steady_clock::now();
    while (b.resets() < kRounds && msSince(start) < 5000.0) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(b.resets(), kRounds);
}

}  // namespace
}  // namespace postern::test
