// BackendConnector against real loopback listeners, driven by a real event loop as the sessions
// and probes drive it: success with the preface arriving before any other byte, a refused
// connect, the deadline, and a failed TLS handshake.
#include "upstream/backend_connector.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "net/event_loop.h"
#include "net/socket_ops.h"
#include "tls/client_tls_context.h"

namespace postern::upstream {
namespace {

using namespace std::chrono_literals;

/** The owner of a connection: forwards events to the connector while it connects, records the
 * outcome. */
struct Owner : net::IoHandler, BackendConnector::Handler {
    explicit Owner(net::EventLoop& loop) : connector(loop, *this) {}
    void onIo(std::uint32_t events) override {
        transport.noteEvents(events);
        if (connector.connecting()) connector.onIo(events);
    }
    void onConnected() override { ++connected; }
    void onConnectFailed(const ConnectFailure& f) override {
        ++failed;
        failure = f;
    }
    tls::Transport transport;
    BackendConnector connector;
    int connected = 0;
    int failed = 0;
    ConnectFailure failure;
};

class BackendConnectorTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string err;
        auto any = net::SocketAddress::fromIp("127.0.0.1", 0);
        ASSERT_TRUE(any);
        listener_ = net::listenSocket(*any, false, 16, &err);
        ASSERT_NE(listener_, net::kInvalidFd) << err;
        address_ = net::localAddress(listener_);
    }
    void TearDown() override {
        owner_.connector.cancel();
        owner_.transport.close(loop_, tls::Transport::CloseMode::Abrupt);
        if (accepted_ != net::kInvalidFd) net::closeFd(accepted_);
        if (listener_ != net::kInvalidFd) net::closeFd(listener_);
    }

    /** Runs rounds until `done` or ~10 s. */
    void runUntil(const std::function<bool()>& done) {
        for (int i = 0; i < 500 && !done(); ++i) {
            loop_.runOnce(20ms);
            if (accepted_ == net::kInvalidFd && listener_ != net::kInvalidFd)
                accepted_ = net::acceptConnection(listener_, nullptr, nullptr);
        }
    }

    /** What the accepted peer received, until it holds `n` bytes or ~10 s. */
    std::string peerReceive(std::size_t n) {
        std::string got;
        char buf[4096];
        for (int i = 0; i < 1000 && got.size() < n; ++i) {
            runUntil([&] { return accepted_ != net::kInvalidFd; });
            auto r = net::recvSome(accepted_, buf, sizeof buf);
            if (r.status == net::IoStatus::Ok)
                got.append(buf, r.bytes);
            else if (r.status != net::IoStatus::WouldBlock)
                break;
            else
                std::this_thread::sleep_for(5ms);
        }
        return got;
    }

    net::EventLoop loop_;
    net::Fd listener_ = net::kInvalidFd;
    net::Fd accepted_ = net::kInvalidFd;
    net::SocketAddress address_;
    Owner owner_{loop_};
};

TEST_F(BackendConnectorTest, ConnectsAndWritesThePrefaceBeforeAnythingElse) {
    const std::string preface = "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n";
    ConnectTarget target;
    target.address = address_;
    target.host = "127.0.0.1";
    target.preface = preface;
    target.timeout = 5s;
    ConnectFailure failure;
    ASSERT_TRUE(owner_.connector.start(target, owner_.transport, &owner_, &failure));
    EXPECT_TRUE(owner_.connector.connecting());
    runUntil([&] { return owner_.connected + owner_.failed > 0; });
    ASSERT_EQ(owner_.connected, 1);
    EXPECT_EQ(owner_.failed, 0);
    EXPECT_FALSE(owner_.connector.connecting());
    EXPECT_EQ(owner_.transport.tls, nullptr);
    EXPECT_TRUE(net::noDelay(owner_.transport.fd));
    // The transport is ready in place: the application's bytes follow the preface.
    auto w = owner_.transport.write("hello", 5);
    ASSERT_EQ(w.status, net::IoStatus::Ok);
    EXPECT_EQ(peerReceive(preface.size() + 5), preface + "hello");
    // No deadline left behind: a round past the timeout reports nothing more.
    loop_.runOnce(10ms);
    EXPECT_EQ(owner_.connected, 1);
    EXPECT_EQ(owner_.failed, 0);
}

TEST_F(BackendConnectorTest, ARefusedConnectIsReportedWithItsErrorAndLeavesNothingOpen) {
    net::closeFd(listener_);  // nobody listens on that port any more
    listener_ = net::kInvalidFd;
    ConnectTarget target;
    target.address = address_;
    target.timeout = 5s;
    ConnectFailure failure;
    if (!owner_.connector.start(target, owner_.transport, &owner_, &failure)) {
        // Refused within connect() itself (some platforms): reported by start().
        EXPECT_EQ(failure.stage, ConnectFailure::Stage::Socket);
        EXPECT_NE(failure.error, 0);
        EXPECT_FALSE(failure.out_of_resources);
    } else {
        runUntil([&] { return owner_.connected + owner_.failed > 0; });
        ASSERT_EQ(owner_.failed, 1);
        EXPECT_EQ(owner_.connected, 0);
        EXPECT_EQ(owner_.failure.stage, ConnectFailure::Stage::Connect);
        EXPECT_NE(owner_.failure.error, 0) << "the connect's SO_ERROR";
    }
    EXPECT_EQ(owner_.transport.fd, net::kInvalidFd);
    EXPECT_FALSE(owner_.connector.connecting());
}

TEST_F(BackendConnectorTest, TheDeadlineEndsAHandshakeTheBackendNeverAnswers) {
    // A listener that accepts and says nothing: TCP connects, the TLS handshake waits forever.
    tls::ClientTlsSettings settings;
    settings.name = "test";
    settings.verify = false;
    std::vector<tls::TlsProblem> problems;
    auto ctx = tls::ClientTlsContext::create(settings, &problems);
    ASSERT_TRUE(ctx) << (problems.empty() ? "" : problems.front().message);
    ConnectTarget target;
    target.address = address_;
    target.host = "backend.test";
    target.tls = ctx.get();
    target.timeout = 200ms;
    ConnectFailure failure;
    const auto started = net::Clock::now();
    ASSERT_TRUE(owner_.connector.start(target, owner_.transport, &owner_, &failure));
    runUntil([&] { return owner_.connected + owner_.failed > 0; });
    ASSERT_EQ(owner_.failed, 1);
    // The loop arms timers from the time its round started, a little before `started`.
    EXPECT_GE(net::Clock::now() - started, 150ms);
    EXPECT_EQ(owner_.failure.stage, ConnectFailure::Stage::Timeout);
    EXPECT_TRUE(owner_.failure.tls) << "the TCP connect was done, the handshake was not";
    EXPECT_EQ(owner_.failure.detail, "no TLS handshake in time");
    EXPECT_EQ(owner_.transport.fd, net::kInvalidFd);
    EXPECT_EQ(owner_.transport.tls, nullptr);
    // The peer saw a ClientHello (a TLS record: content type 22), and then the connection end.
    const std::string hello = peerReceive(1);
    ASSERT_FALSE(hello.empty());
    EXPECT_EQ(static_cast<unsigned char>(hello[0]), 22);
}

TEST_F(BackendConnectorTest, APlainBackendAnsweringAHandshakeFailsItWithTheReason) {
    tls::ClientTlsSettings settings;
    settings.name = "test";
    settings.verify = false;
    std::vector<tls::TlsProblem> problems;
    auto ctx = tls::ClientTlsContext::create(settings, &problems);
    ASSERT_TRUE(ctx);
    ConnectTarget target;
    target.address = address_;
    target.host = "backend.test";
    target.tls = ctx.get();
    target.timeout = 5s;
    ConnectFailure failure;
    ASSERT_TRUE(owner_.connector.start(target, owner_.transport, &owner_, &failure));
    runUntil([&] { return accepted_ != net::kInvalidFd; });
    ASSERT_NE(accepted_, net::kInvalidFd);
    const std::string answer = "HTTP/1.1 400 Bad Request\r\n\r\n";
    ASSERT_EQ(net::sendSome(accepted_, answer.data(), answer.size()).status, net::IoStatus::Ok);
    runUntil([&] { return owner_.connected + owner_.failed > 0; });
    ASSERT_EQ(owner_.failed, 1);
    EXPECT_EQ(owner_.failure.stage, ConnectFailure::Stage::Tls);
    EXPECT_FALSE(owner_.failure.detail.empty());
    EXPECT_EQ(owner_.transport.fd, net::kInvalidFd);
}

TEST_F(BackendConnectorTest, CancelClosesTheSocketAndReportsNothing) {
    ConnectTarget target;
    target.address = address_;
    target.timeout = 50ms;
    ConnectFailure failure;
    ASSERT_TRUE(owner_.connector.start(target, owner_.transport, &owner_, &failure));
    owner_.connector.cancel();
    EXPECT_FALSE(owner_.connector.connecting());
    EXPECT_EQ(owner_.transport.fd, net::kInvalidFd);
    for (int i = 0; i < 10; ++i) loop_.runOnce(20ms);  // past the deadline: no timer left
    EXPECT_EQ(owner_.connected + owner_.failed, 0);
}

}  // namespace
}  // namespace postern::upstream
