// Byte relay through the real binary: large payloads both ways, TCP half-close, IPv6 frontends.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <thread>

#include "harness/logfmt.h"
#include "harness/payload.h"
#include "harness/socket_address.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class RelayTest : public IntegrationTest {};

TEST_F(RelayTest, TwentyMebibytesBothWaysOverFourConcurrentConnections) {
    TestBackend b1(BackendMode::Echo), b2(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() + listenerToml("front", "echo") +
                         poolToml("echo", addressesOf({&b1, &b2})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0) << "no msg=listening line for listener front";
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    constexpr std::size_t kSize = 20 * 1024 * 1024;
    constexpr int kConnections = 4;
    struct Result {
        bool connected = false;
        IoStatus status = IoStatus::Error;
        std::size_t received = 0;
        std::uint64_t sent_sum = 0;
        std::uint64_t received_sum = 0;
    };
    std::array<Result, kConnections> results;
    std::vector<std::thread> threads;
    for (int i = 0; i < kConnections; ++i) {
        threads.emplace_back([&, i] {
            const std::string payload = randomBytes(kSize, 1000 + static_cast<unsigned>(i));
            auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
            auto& r = results[static_cast<std::size_t>(i)];
            r.connected = c.connected();
            if (!r.connected) return;
            // Sends and reads at the same time: 20 MiB cannot sit in socket buffers.
            const auto got = c.exchange(payload, kSize, std::chrono::seconds(90));
            r.status = got.status;
            r.received = got.data.size();
            r.sent_sum = checksum(payload);
            r.received_sum = checksum(got.data);
        });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kConnections; ++i) {
        const auto& r = results[static_cast<std::size_t>(i)];
        SCOPED_TRACE("connection " + std::to_string(i));
        ASSERT_TRUE(r.connected);
        EXPECT_EQ(r.status, IoStatus::Ok) << toString(r.status);
        EXPECT_EQ(r.received, kSize);
        EXPECT_EQ(r.received_sum, r.sent_sum);
    }
    EXPECT_EQ(b1.bytesReceived() + b2.bytesReceived(), kConnections * kSize);
    EXPECT_GE(b1.acceptedConnections(), 1u);
    EXPECT_GE(b2.acceptedConnections(), 1u);

    // The access log counts the bytes of each connection once it is closed.
    const auto line = logLine({{"listener", "front"},
                                {"bytes_in", std::to_string(kSize)},
                                {"bytes_out", std::to_string(kSize)}});
    EXPECT_TRUE(p.waitForLine(line, 5s, Stream::Stdout, kConnections))
        << "expected " << kConnections << " access log lines with bytes_in=bytes_out=" << kSize;
}

TEST_F(RelayTest, HalfCloseStillDeliversTheFullReply) {
    // This backend answers only after it has seen the client's EOF, so the reply can only arrive
    // if postern relays the client's FIN and keeps the other direction open.
    TestBackend b(BackendMode::ReplyAfterEof);
    auto& p = runPostern(gatewayToml() + listenerToml("front", "late") +
                         poolToml("late", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    const std::string request = randomBytes(512 * 1024, 7);
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected()) << "errno " << c.error();
    ASSERT_EQ(c.sendAll(request, kIoTimeout), IoStatus::Ok);
    c.shutdownWrite();
    const auto reply = c.recvAll(kIoTimeout);
    EXPECT_EQ(reply.status, IoStatus::Eof) << "the reply must end with an orderly EOF, got "
                                           << toString(reply.status);
    EXPECT_EQ(reply.data.size(), request.size());
    EXPECT_EQ(checksum(reply.data), checksum(request));
    EXPECT_EQ(b.bytesReceived(), request.size());
}

TEST_F(RelayTest, AccessLogLineDescribesTheClosedConnection) {
    TestBackend b(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() + listenerToml("front", "echo") +
                         poolToml("echo", addressesOf({&b})));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    // From 127.0.0.2, so the client field cannot be confused with anything else.
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout, "127.0.0.2");
    ASSERT_TRUE(c.connected()) << "errno " << c.error();
    const auto client = c.localAddress()->toString();
    ASSERT_TRUE(echoRoundTrip(c, std::string(1000, 'x')));
    ASSERT_TRUE(echoRoundTrip(c, std::string(234, 'y')));
    c.shutdownWrite();
    EXPECT_EQ(c.recvAll(kIoTimeout).status, IoStatus::Eof);
    c.close();

    const auto line = p.waitForLine(logLine({{"client", client}}), 5s, Stream::Stdout);
    ASSERT_TRUE(line) << "no access log line with client=" << client;
    const auto f = parseLogfmt(*line);
    EXPECT_EQ(f.count("time"), 1u);
    EXPECT_EQ(f.count("connect_ms"), 1u);
    EXPECT_EQ(f.count("total_ms"), 1u);
    auto field = [&](const char* k) { return f.count(k) ? f.at(k) : std::string("<missing>"); };
    EXPECT_EQ(field("listener"), "front");
    EXPECT_EQ(field("pool"), "echo");
    EXPECT_EQ(field("backend"), b.address());
    EXPECT_EQ(field("bytes_in"), "1234");
    EXPECT_EQ(field("bytes_out"), "1234");
    EXPECT_EQ(field("cause"), "client_fin");
}

bool ipv6LoopbackAvailable() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const auto a = SocketAddress::fromIp("::1", 0);
    const bool ok = ::bind(fd, a->sockaddrPtr(), a->length()) == 0;
    ::close(fd);
    return ok;
}

TEST_F(RelayTest, Ipv6ListenerRelaysToIpv4Backend) {
    if (!ipv6LoopbackAvailable()) GTEST_SKIP() << "no IPv6 loopback on this machine";
    TestBackend b(BackendMode::IdThenEcho, "v4-backend");
    auto& p = runPostern(gatewayToml() + listenerToml("v6", "v4", {}, "\"[::1]:0\"") +
                         poolToml("v4", addressesOf({&b})));
    const auto addrs = p.listeningAddresses("v6", kStartTimeout);
    ASSERT_EQ(addrs.size(), 1u) << "expected one msg=listening line for listener v6";
    EXPECT_EQ(addrs[0].family(), AF_INET6);
    EXPECT_EQ(addrs[0].ip(), "::1");
    ASSERT_TRUE(p.waitReady(kStartTimeout));

    auto c = BlockingClient::connect("::1", addrs[0].port(), kIoTimeout);
    ASSERT_TRUE(c.connected()) << "errno " << c.error();
    EXPECT_EQ(readLine(c, kIoTimeout), std::optional<std::string>("v4-backend"));
    EXPECT_TRUE(echoRoundTrip(c, randomBytes(64 * 1024, 6)));
    c.close();
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "v6"}, {"backend", b.address()}}), 5s,
                              Stream::Stdout))
        << "expected an access log line for the IPv6 connection";
}

}  // namespace
}  // namespace postern::test
