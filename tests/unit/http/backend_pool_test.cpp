// The per-worker pool of idle keep-alive backend connections, over real loopback connections and
// a real event loop: most recently used first, keepalive_max per backend, keepalive_idle, a
// connection the backend closes while idle leaves at once, other settings are not reused.
#include "http/backend_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "net/event_loop.h"
#include "net/socket_ops.h"

namespace postern::http {
namespace {

using namespace std::chrono_literals;

class BackendPoolTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string err;
        auto any = net::SocketAddress::fromIp("127.0.0.1", 0);
        ASSERT_TRUE(any);
        listener_ = net::listenSocket(*any, false, 64, &err);
        ASSERT_NE(listener_, net::kInvalidFd) << err;
        address_ = net::localAddress(listener_);
        backend_ = std::make_shared<upstream::Backend>();
        backend_->up = true;
        settings_ = settings(10s, 2);
    }
    void TearDown() override {
        pool_.closeAll();
        loop_.runOnce(1ms);  // frees what was discarded
        for (net::Fd fd : peers_) net::closeFd(fd);
        net::closeFd(listener_);
    }
    std::shared_ptr<const config::PoolConfig> settings(config::Millis idle, std::uint32_t max) {
        auto c = std::make_shared<config::PoolConfig>();
        c->backend.keepalive_idle = idle;
        c->backend.keepalive_max = max;
        return c;
    }
    /** A connected BackendConnection (its peer accepted and kept in peers_). */
    std::unique_ptr<BackendConnection> connect(std::shared_ptr<const config::PoolConfig> s) {
        auto conn = std::make_unique<BackendConnection>(loop_);
        int err = 0;
        const net::Fd fd = net::connectStart(address_, &err);
        EXPECT_NE(fd, net::kInvalidFd) << err;
        conn->transport().fd = fd;
        loop_.add(fd, conn.get());
        net::Fd peer = net::kInvalidFd;
        for (int i = 0; i < 500 && peer == net::kInvalidFd; ++i) {
            loop_.runOnce(10ms);
            peer = net::acceptConnection(listener_, nullptr, nullptr);
        }
        EXPECT_NE(peer, net::kInvalidFd);
        peers_.push_back(peer);
        conn->bind(backend_, std::move(s));
        return conn;
    }
    void runUntil(const std::function<bool()>& done) {
        for (int i = 0; i < 500 && !done(); ++i) loop_.runOnce(10ms);
    }

    net::EventLoop loop_;
    BackendPool pool_{loop_};
    net::Fd listener_ = net::kInvalidFd;
    net::SocketAddress address_;
    std::vector<net::Fd> peers_;
    std::shared_ptr<upstream::Backend> backend_;
    std::shared_ptr<const config::PoolConfig> settings_;
};

TEST_F(BackendPoolTest, TakesTheMostRecentlyUsedAndKeepsAtMostKeepaliveMax) {
    auto a = connect(settings_);
    auto b = connect(settings_);
    auto c = connect(settings_);
    BackendConnection* b_ptr = b.get();
    BackendConnection* c_ptr = c.get();
    pool_.put(std::move(a));
    pool_.put(std::move(b));
    pool_.put(std::move(c));  // max 2: the oldest (a) is closed
    EXPECT_EQ(pool_.idleCount(*backend_), 2u);
    auto first = pool_.take(*backend_, settings_.get());
    EXPECT_EQ(first.get(), c_ptr);
    auto second = pool_.take(*backend_, settings_.get());
    EXPECT_EQ(second.get(), b_ptr);
    EXPECT_EQ(pool_.take(*backend_, settings_.get()), nullptr);
    EXPECT_EQ(pool_.idleCount(), 0u);
    // a's peer sees the close.
    char buf[16];
    net::IoResult r{net::IoStatus::WouldBlock};
    for (int i = 0; i < 500 && r.status == net::IoStatus::WouldBlock; ++i) {
        loop_.runOnce(5ms);
        r = net::recvSome(peers_[0], buf, sizeof buf);
    }
    EXPECT_EQ(r.status, net::IoStatus::Eof);
}

TEST_F(BackendPoolTest, AConnectionTheBackendClosesWhileIdleLeavesAtOnce) {
    pool_.put(connect(settings_));
    ASSERT_EQ(pool_.idleCount(), 1u);
    net::closeFd(peers_[0]);
    peers_.clear();
    runUntil([&] { return pool_.idleCount() == 0; });
    EXPECT_EQ(pool_.idleCount(), 0u);
    EXPECT_EQ(pool_.take(*backend_, settings_.get()), nullptr);
}

TEST_F(BackendPoolTest, IdleConnectionsExpireAfterKeepaliveIdle) {
    const auto brief = settings(50ms, 8);
    pool_.put(connect(brief));
    const auto start = std::chrono::steady_clock::now();
    runUntil([&] { return pool_.idleCount() == 0; });
    EXPECT_EQ(pool_.idleCount(), 0u);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 40ms);
}

TEST_F(BackendPoolTest, NothingIsKeptWhenReuseIsOffOrTheBackendTakesNoConnections) {
    pool_.put(connect(settings(10s, 0)));
    EXPECT_EQ(pool_.idleCount(), 0u);
    backend_->draining = true;
    pool_.put(connect(settings_));
    EXPECT_EQ(pool_.idleCount(), 0u);
}

TEST_F(BackendPoolTest, ConnectionsMadeWithOtherSettingsAreNotReused) {
    pool_.put(connect(settings_));
    const auto reloaded = settings(10s, 2);
    EXPECT_EQ(pool_.take(*backend_, reloaded.get()), nullptr);
    EXPECT_EQ(pool_.idleCount(), 0u);  // closed on the way
}

TEST_F(BackendPoolTest, CloseBackendClosesItsIdleConnections) {
    pool_.put(connect(settings_));
    pool_.put(connect(settings_));
    pool_.closeBackend(backend_.get());
    EXPECT_EQ(pool_.idleCount(), 0u);
}

}  // namespace
}  // namespace postern::http
