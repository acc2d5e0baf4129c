// BackendDialer with a real pool and real loopback listeners: a refused backend is reported to
// passive health and the next one is tried; the capacity taken is given back; the PROXY header
// the owner writes goes first; no backend / no retry left end with their causes and counters.
#include "proxy/backend_dialer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "net/event_loop.h"
#include "net/socket_ops.h"
#include "proxy/worker_context.h"
#include "upstream/passive_health.h"

namespace postern::proxy {
namespace {

using namespace std::chrono_literals;

// A balancer through the C ABI that offers the backends in index order (so the first one is
// tried first, then the next).
struct InOrder {
    std::uint32_t count;
};
void* ioCreate(const postern_config*, const postern_host*) noexcept { return nullptr; }
void ioDestroy(void*) noexcept {}
void* ioBuild(void*, const postern_backend*, std::uint32_t count,
              const postern_backend_load*) noexcept {
    return new InOrder{count};
}
void ioDestroySel(void* s) noexcept { delete static_cast<InOrder*>(s); }
std::uint32_t ioPick(void* s, const postern_pick_context*, std::uint32_t* out,
                     std::uint32_t cap) noexcept {
    const std::uint32_t n = std::min(cap, static_cast<InOrder*>(s)->count);
    for (std::uint32_t i = 0; i < n; ++i) out[i] = i;
    return n;
}
const postern_balancer_ops kInOrderOps{ioCreate, ioDestroy, ioBuild, ioDestroySel,
                                       ioPick,   nullptr,   nullptr};

class BackendDialerTest : public ::testing::Test,
                          public BackendDialer::Owner,
                          public net::IoHandler {
protected:
    void SetUp() override {
        std::string err;
        auto any = net::SocketAddress::fromIp("127.0.0.1", 0);
        live_ = net::listenSocket(*any, false, 16, &err);
        ASSERT_NE(live_, net::kInvalidFd) << err;
        net::Fd gone = net::listenSocket(*any, false, 1, &err);
        ASSERT_NE(gone, net::kInvalidFd) << err;
        refused_address_ = net::localAddress(gone);
        net::closeFd(gone);  // nobody listens there any more: connects are refused
        worker_ = std::make_unique<WorkerContext>(loop_);
        listener_config_.name = "l";
        listener_.config = &listener_config_;
        listener_.stats = std::make_shared<ListenerStats>();
        desc_.abi_version = POSTERN_PLUGIN_ABI_VERSION;
        desc_.descriptor_size = sizeof desc_;
        desc_.kind = POSTERN_KIND_BALANCER;
        desc_.balancer = &kInOrderOps;
        plugin_.kind = POSTERN_KIND_BALANCER;
        plugin_.name = "in_order";
        plugin_.descriptor = &desc_;
        pool_config_.name = "p";
        pool_config_.balancer_factory =
            std::make_shared<plugin::BalancerFactory>(&plugin_, nullptr);
        pool_config_.backend.retries = 1;
        pool_config_.backend.connect_timeout = 2s;
        pool_config_.backend.passive_failures = 3;
    }
    void TearDown() override {
        if (dialer_) {
            dialer_->cancel();
            dialer_->release();
        }
        transport_.close(loop_, tls::Transport::CloseMode::Abrupt);
        if (accepted_ != net::kInvalidFd) net::closeFd(accepted_);
        net::closeFd(live_);
        if (pool_) pool_->setPassiveHealth(nullptr);
    }

    /** A pool of backends at `addresses`, in that order, all up (round robin from the first). */
    void makePool(const std::vector<net::SocketAddress>& addresses) {
        pool_ = std::make_unique<upstream::Pool>(pool_config_, nullptr);
        for (const auto& a : addresses) {
            auto b = std::make_shared<upstream::Backend>();
            b->address = a;
            b->host = "127.0.0.1";
            b->port = a.port();
            b->address_text = a.toString();
            b->up.store(true);
            pool_->backends().push_back(b);
        }
        pool_->republish();
        passive_ = std::make_unique<upstream::PassiveHealth>(loop_, *pool_, nullptr, 10s);
        pool_->setPassiveHealth(passive_.get());
        dialer_ = std::make_unique<BackendDialer>(*worker_, listener_, *this, transport_, this);
    }

    void writePreface(const config::BackendSettings&, std::string& out) override {
        ++prefaces_;
        out = "PREFACE;";
    }
    void onDialed() override { ++dialed_; }
    void onDialFailed(CloseCause cause) override {
        ++failed_;
        cause_ = cause;
    }
    void onIo(std::uint32_t events) override {
        transport_.noteEvents(events);
        if (dialer_->dialing()) dialer_->onIo(events);
    }

    void runUntilDone() {
        for (int i = 0; i < 500 && dialed_ + failed_ == 0; ++i) loop_.runOnce(20ms);
    }
    std::uint64_t active(std::size_t i) const {
        return pool_->backends()[i]->active.load(std::memory_order_relaxed);
    }

    net::EventLoop loop_;
    std::unique_ptr<WorkerContext> worker_;
    config::ListenerConfig listener_config_;
    ListenerContext listener_;
    postern_descriptor desc_{};
    plugin::LoadedPlugin plugin_;
    config::PoolConfig pool_config_;
    std::unique_ptr<upstream::Pool> pool_;
    std::unique_ptr<upstream::PassiveHealth> passive_;
    tls::Transport transport_;
    std::unique_ptr<BackendDialer> dialer_;
    net::Fd live_ = net::kInvalidFd;
    net::Fd accepted_ = net::kInvalidFd;
    net::SocketAddress refused_address_;
    int prefaces_ = 0;
    int dialed_ = 0;
    int failed_ = 0;
    CloseCause cause_ = CloseCause::Shutdown;
};

TEST_F(BackendDialerTest, ARefusedBackendIsCountedAndTheNextOneIsDialed) {
    makePool({refused_address_, net::localAddress(live_)});
    dialer_->start(*pool_, 0);
    runUntilDone();
    ASSERT_EQ(dialed_, 1) << "failed with " << closeCauseName(cause_);
    EXPECT_EQ(failed_, 0);
    EXPECT_EQ(dialer_->attempts(), 2u);
    ASSERT_NE(dialer_->backend(), nullptr);
    EXPECT_EQ(dialer_->backend(), pool_->backends()[1].get());
    EXPECT_EQ(pool_->backends()[0]->connectFailures(), 1u);
    EXPECT_EQ(pool_->backends()[0]->connect_failure_streak.load(), 1u) << "passive health told";
    EXPECT_EQ(active(0), 0u) << "the refused backend's slot was given back";
    EXPECT_EQ(active(1), 1u) << "the dialed backend's slot is held";
    EXPECT_EQ(pool_->backends()[1]->connectionsTotal(), 1u);
    EXPECT_EQ(prefaces_, 0) << "no PROXY header asked for";
    dialer_->release();
    EXPECT_EQ(active(1), 0u);
    EXPECT_EQ(dialer_->backend(), nullptr);
}

TEST_F(BackendDialerTest, ThePrefaceTheOwnerWritesGoesFirst) {
    pool_config_.backend.proxy_protocol = config::ProxyProtocol::V1;
    makePool({net::localAddress(live_)});
    dialer_->start(*pool_, 0);
    runUntilDone();
    ASSERT_EQ(dialed_, 1);
    EXPECT_EQ(prefaces_, 1);
    ASSERT_EQ(transport_.write("data", 4).status, net::IoStatus::Ok);
    for (int i = 0; i < 500 && accepted_ == net::kInvalidFd; ++i) {
        accepted_ = net::acceptConnection(live_, nullptr, nullptr);
        if (accepted_ == net::kInvalidFd) std::this_thread::sleep_for(2ms);
    }
    ASSERT_NE(accepted_, net::kInvalidFd);
    std::string got;
    char buf[64];
    for (int i = 0; i < 500 && got.size() < 12; ++i) {
        auto r = net::recvSome(accepted_, buf, sizeof buf);
        if (r.status == net::IoStatus::Ok)
            got.append(buf, r.bytes);
        else
            std::this_thread::sleep_for(2ms);
    }
    EXPECT_EQ(got, "PREFACE;data");
}

TEST_F(BackendDialerTest, NoRetryLeftEndsWithConnectFailed) {
    pool_config_.backend.retries = 0;
    makePool({refused_address_, net::localAddress(live_)});
    dialer_->start(*pool_, 0);
    runUntilDone();
    ASSERT_EQ(failed_, 1);
    EXPECT_EQ(cause_, CloseCause::ConnectFailed);
    EXPECT_EQ(dialer_->attempts(), 1u);
    EXPECT_EQ(listener_.stats->sum().connect_failed, 1u);
    EXPECT_EQ(active(0) + active(1), 0u) << "nothing held";
    EXPECT_EQ(transport_.fd, net::kInvalidFd);
}

TEST_F(BackendDialerTest, APoolWithNoBackendUpEndsWithNoBackend) {
    makePool({net::localAddress(live_)});
    pool_->backends()[0]->up.store(false);
    pool_->republish();
    dialer_->start(*pool_, 0);
    ASSERT_EQ(failed_, 1) << "reported within start()";
    EXPECT_EQ(cause_, CloseCause::NoBackend);
    EXPECT_EQ(dialer_->attempts(), 0u);
    EXPECT_EQ(listener_.stats->sum().refused_no_backend, 1u);
}

}  // namespace
}  // namespace postern::proxy
