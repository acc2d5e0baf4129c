// proxy::Relay between two real loopback TCP connections, driven by a real event loop as a
// session drives it: bytes both ways with half-close, bytes preloaded before the relay starts,
// backpressure (a side that cannot take more stops the reading of the other), the idle timeout
// and the maximum session length with the causes the owner chose, resets, and the deadline cut.
#include "proxy/relay.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "net/event_loop.h"
#include "net/socket_ops.h"
#include "proxy/worker_context.h"

namespace postern::proxy {
namespace {

using namespace std::chrono_literals;

/** A connected loopback pair: `inner` (given to the relay) and `outer` (the test's peer). */
struct LoopbackPair {
    net::Fd inner = net::kInvalidFd;
    net::Fd outer = net::kInvalidFd;
    LoopbackPair() {
        std::string err;
        auto any = net::SocketAddress::fromIp("127.0.0.1", 0);
        net::Fd listener = net::listenSocket(*any, false, 4, &err);
        EXPECT_NE(listener, net::kInvalidFd) << err;
        int cerr = 0;
        outer = net::connectStart(net::localAddress(listener), &cerr);
        EXPECT_NE(outer, net::kInvalidFd) << net::errorText(cerr);
        for (int i = 0; i < 5000 && inner == net::kInvalidFd; ++i) {
            inner = net::acceptConnection(listener, nullptr, nullptr);
            if (inner == net::kInvalidFd) std::this_thread::sleep_for(1ms);
        }
        EXPECT_NE(inner, net::kInvalidFd) << "no connection accepted";
        net::closeFd(listener);
    }
};

class RelayUnitTest : public ::testing::Test, public Relay::Owner {
protected:
    struct Handler : net::IoHandler {
        RelayUnitTest* test = nullptr;
        Relay::Side side = Relay::Side::Client;
        tls::Transport io;
        void onIo(std::uint32_t events) override {
            io.noteEvents(events);
            test->relay_->onIo(side, events);
        }
    };

    void SetUp() override {
        worker_ = std::make_unique<WorkerContext>(loop_);
        client_.test = backend_.test = this;
        client_.side = Relay::Side::Client;
        backend_.side = Relay::Side::Backend;
        client_.io.fd = client_pair_.inner;
        backend_.io.fd = backend_pair_.inner;
        ASSERT_TRUE(loop_.add(client_.io.fd, &client_));
        ASSERT_TRUE(loop_.add(backend_.io.fd, &backend_));
        relay_ = std::make_unique<Relay>(*worker_, *this, client_.io, backend_.io);
    }
    void TearDown() override {
        relay_.reset();
        client_.io.close(loop_, tls::Transport::CloseMode::Abrupt);
        backend_.io.close(loop_, tls::Transport::CloseMode::Abrupt);
        net::closeFd(client_pair_.outer);
        net::closeFd(backend_pair_.outer);
    }

    /** As a session does: closes both sides (the relay may leave the last FIN to this). */
    void onRelayEnd(CloseCause cause, bool cut) override {
        ++ends_;
        cause_ = cause;
        cut_ = cut;
        ended_at_ = net::Clock::now();
        using Mode = tls::Transport::CloseMode;
        client_.io.close(loop_, cut ? Mode::Reset : Mode::Clean);
        backend_.io.close(loop_, cut ? Mode::Reset : Mode::Clean);
    }

    /** Runs loop rounds until `done` or ~10 s. */
    void runUntil(const std::function<bool()>& done) {
        for (int i = 0; i < 1000 && !done(); ++i) loop_.runOnce(10ms);
    }
    static void sendAll(net::Fd fd, const std::string& data) {
        const auto r = net::sendSome(fd, data.data(), data.size());
        ASSERT_EQ(r.status, net::IoStatus::Ok);
        ASSERT_EQ(r.bytes, data.size());
    }
    /** Reads `fd` (running the loop meanwhile) until `n` bytes or its end; *eof: it ended. */
    std::string receive(net::Fd fd, std::size_t n, bool* eof = nullptr) {
        std::string got;
        char buf[65536];
        bool ended = false;
        for (int i = 0; i < 2000 && got.size() < n && !ended; ++i) {
            auto r = net::recvSome(fd, buf, sizeof buf);
            if (r.status == net::IoStatus::Ok)
                got.append(buf, r.bytes);
            else if (r.status == net::IoStatus::WouldBlock)
                loop_.runOnce(5ms);
            else
                ended = true;
        }
        if (eof) *eof = ended;
        return got;
    }
    /** Whether `fd` reports its end of stream within ~10 s (no bytes expected before it). */
    bool endsWithin(net::Fd fd) {
        bool eof = false;
        const std::string rest = receive(fd, std::string::npos, &eof);
        EXPECT_EQ(rest, "");
        return eof;
    }

    net::EventLoop loop_;
    std::unique_ptr<WorkerContext> worker_;
    LoopbackPair client_pair_;
    LoopbackPair backend_pair_;
    Handler client_;
    Handler backend_;
    std::unique_ptr<Relay> relay_;
    int ends_ = 0;
    CloseCause cause_ = CloseCause::Shutdown;
    bool cut_ = false;
    net::Clock::time_point ended_at_{};
};

TEST_F(RelayUnitTest, BytesBothWaysAndEachHalfCloseIsPassedOn) {
    relay_->start({});
    sendAll(client_pair_.outer, "ping");
    EXPECT_EQ(receive(backend_pair_.outer, 4), "ping");
    net::shutdownWrite(client_pair_.outer);  // the client is done sending; it still reads
    EXPECT_TRUE(endsWithin(backend_pair_.outer)) << "the client's FIN reached the backend";
    EXPECT_EQ(ends_, 0) << "half-closed: the other direction goes on";
    sendAll(backend_pair_.outer, "pong");
    EXPECT_EQ(receive(client_pair_.outer, 4), "pong");
    net::shutdownWrite(backend_pair_.outer);
    EXPECT_TRUE(endsWithin(client_pair_.outer));
    runUntil([&] { return ends_ > 0; });
    ASSERT_EQ(ends_, 1);
    EXPECT_EQ(cause_, CloseCause::ClientFin) << "the client ended first";
    EXPECT_FALSE(cut_);
    EXPECT_FALSE(relay_->active());
    EXPECT_EQ(relay_->bytesFromClient(), 4u);
    EXPECT_EQ(relay_->bytesToClient(), 4u);
    EXPECT_NE(relay_->firstBackendByte(), net::Clock::time_point{});
}

TEST_F(RelayUnitTest, PreloadedBytesGoFirstInEachDirection) {
    const std::string head_rest = "already read from the backend;";
    ASSERT_TRUE(relay_->preload(Relay::Side::Client, head_rest));
    ASSERT_TRUE(relay_->preload(Relay::Side::Backend, "early"));
    ASSERT_TRUE(relay_->preload(Relay::Side::Backend, "+more"));
    EXPECT_FALSE(relay_->preload(Relay::Side::Backend, std::string(BufferPool::kBufferSize, 'x')))
        << "over one buffer: refused, nothing taken";
    sendAll(backend_pair_.outer, "then live");
    relay_->start({});
    sendAll(client_pair_.outer, ";live");
    EXPECT_EQ(receive(client_pair_.outer, head_rest.size() + 9), head_rest + "then live");
    EXPECT_EQ(receive(backend_pair_.outer, 15), "early+more;live");
    EXPECT_EQ(relay_->bytesToClient(), head_rest.size() + 9) << "preloaded bytes count as sent";
    EXPECT_EQ(ends_, 0);
}

TEST_F(RelayUnitTest, AClientThatDoesNotReadStopsTheReadingOfTheBackend) {
    relay_->start({});
    // The backend writes as long as it can while the loop runs; the client reads nothing.
    const std::string chunk(64 * 1024, 'b');
    std::size_t sent = 0;
    int blocked_rounds = 0;
    for (int i = 0; i < 20000 && blocked_rounds < 50; ++i) {
        auto r = net::sendSome(backend_pair_.outer, chunk.data(), chunk.size());
        if (r.status == net::IoStatus::Ok) {
            sent += r.bytes;
            blocked_rounds = 0;
        } else {
            ASSERT_EQ(r.status, net::IoStatus::WouldBlock);
            ++blocked_rounds;
        }
        loop_.runOnce(1ms);
    }
    ASSERT_EQ(blocked_rounds, 50) << "the backend's writes never blocked: nothing held it back";
    // Bounded: what left the backend is in the socket buffers plus at most one relay buffer.
    EXPECT_LT(sent, 64u * 1024 * 1024);
    EXPECT_TRUE(relay_->bytesInFlight());
    // Once the client reads, everything arrives, byte-exact, and the relay goes on.
    const std::string got = receive(client_pair_.outer, sent);
    EXPECT_EQ(got.size(), sent);
    EXPECT_EQ(got.find_first_not_of('b'), std::string::npos);
    EXPECT_EQ(ends_, 0);
}

#ifdef __linux__
TEST_F(RelayUnitTest, BulkDataThroughSpliceIsExactAndEndsCleanly) {
    worker_->splice = true;  // full buffers switch the direction to splice (kernel pipes)
    relay_->start({});
    std::string big(8 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 23);
    std::size_t off = 0;
    std::string got;
    char buf[65536];
    for (int i = 0; i < 100000 && got.size() < big.size(); ++i) {
        if (off < big.size()) {
            auto r = net::sendSome(backend_pair_.outer, big.data() + off, big.size() - off);
            if (r.status == net::IoStatus::Ok) off += r.bytes;
        }
        loop_.runOnce(0ms);
        auto r = net::recvSome(client_pair_.outer, buf, sizeof buf);
        if (r.status == net::IoStatus::Ok) got.append(buf, r.bytes);
    }
    ASSERT_EQ(got.size(), big.size());
    EXPECT_TRUE(got == big) << "bytes changed or reordered on the way";
    EXPECT_EQ(relay_->bytesToClient(), big.size());
    net::shutdownWrite(backend_pair_.outer);
    EXPECT_TRUE(endsWithin(client_pair_.outer));
    net::shutdownWrite(client_pair_.outer);
    runUntil([&] { return ends_ > 0; });
    EXPECT_EQ(cause_, CloseCause::BackendFin);
}
#endif

TEST_F(RelayUnitTest, TheIdleTimeoutEndsWithTheOwnersCause) {
    Relay::Settings settings;
    settings.idle_timeout = 150ms;
    settings.idle_cause = CloseCause::WsIdleTimeout;
    const auto started = net::Clock::now();
    relay_->start(settings);
    sendAll(client_pair_.outer, "x");
    EXPECT_EQ(receive(backend_pair_.outer, 1), "x");
    runUntil([&] { return ends_ > 0; });
    ASSERT_EQ(ends_, 1);
    EXPECT_EQ(cause_, CloseCause::WsIdleTimeout);
    EXPECT_GE(ended_at_ - started, 140ms);
    EXPECT_FALSE(cut_) << "an idle timeout is not a cut: nothing is in flight";
}

TEST_F(RelayUnitTest, AnUnlimitedIdleTimeoutNeverFires) {
    Relay::Settings settings;
    settings.idle_timeout = config::kUnlimited;
    relay_->start(settings);
    const auto until = net::Clock::now() + 100ms;
    while (net::Clock::now() < until) loop_.runOnce(10ms);
    EXPECT_EQ(ends_, 0);
    EXPECT_TRUE(relay_->active());
}

TEST_F(RelayUnitTest, TheMaximumSessionLengthEndsABusyRelay) {
    Relay::Settings settings;
    settings.idle_timeout = 10s;
    settings.max_session = 200ms;
    settings.max_session_cause = CloseCause::WsMaxSession;
    const auto started = net::Clock::now();
    relay_->start(settings);
    // Traffic every 20 ms: never idle.
    for (int i = 0; i < 100 && ends_ == 0; ++i) {
        sendAll(client_pair_.outer, "m");
        EXPECT_EQ(receive(backend_pair_.outer, 1), "m");
        const auto until = net::Clock::now() + 20ms;
        while (ends_ == 0 && net::Clock::now() < until) loop_.runOnce(5ms);
    }
    ASSERT_EQ(ends_, 1);
    EXPECT_EQ(cause_, CloseCause::WsMaxSession);
    EXPECT_GE(ended_at_ - started, 190ms);
    EXPECT_LT(ended_at_ - started, 5s);
}

TEST_F(RelayUnitTest, ABackendResetEndsTheRelayAsBackendReset) {
    relay_->start({});
    sendAll(client_pair_.outer, "request");
    EXPECT_EQ(receive(backend_pair_.outer, 7), "request");
    net::closeWithReset(backend_pair_.outer);
    backend_pair_.outer = net::kInvalidFd;
#ifdef _WIN32
    // Under wine, WSAPoll reports nothing for a reset on a socket with nothing to read (seen in
    // the Windows unit run; the relay's logic is the one TcpSession had before): the relay
    // learns of it when it next writes there.
    for (int i = 0; i < 3; ++i) loop_.runOnce(10ms);
    sendAll(client_pair_.outer, "more");
#endif
    runUntil([&] { return ends_ > 0; });
    ASSERT_EQ(ends_, 1);
    EXPECT_EQ(cause_, CloseCause::BackendReset);
}

TEST_F(RelayUnitTest, ACutIsAResetOnlyWhileBytesAreInFlight) {
    relay_->start({});
    sendAll(client_pair_.outer, "q");
    EXPECT_EQ(receive(backend_pair_.outer, 1), "q");
    runUntil([&] { return !relay_->bytesInFlight(); });
    relay_->cut(CloseCause::Drained);
    ASSERT_EQ(ends_, 1);
    EXPECT_EQ(cause_, CloseCause::Drained);
    EXPECT_FALSE(cut_) << "at rest: a clean close";
    relay_->cut(CloseCause::Shutdown);
    EXPECT_EQ(ends_, 1) << "ends once";
}

TEST_F(RelayUnitTest, ACutWhileBytesWaitForTheClientAsksForAReset) {
    relay_->start({});
    const std::string big(4 * 1024 * 1024, 'd');
    std::size_t off = 0;
    for (int i = 0; i < 2000 && off < big.size(); ++i) {
        auto r = net::sendSome(backend_pair_.outer, big.data() + off, big.size() - off);
        if (r.status == net::IoStatus::Ok)
            off += r.bytes;
        else
            break;  // blocked: the relay holds back, the client reads nothing
        loop_.runOnce(1ms);
    }
    ASSERT_TRUE(relay_->bytesInFlight());
    relay_->cut(CloseCause::Shutdown);
    ASSERT_EQ(ends_, 1);
    EXPECT_EQ(cause_, CloseCause::Shutdown);
    EXPECT_TRUE(cut_);
}

}  // namespace
}  // namespace postern::proxy
