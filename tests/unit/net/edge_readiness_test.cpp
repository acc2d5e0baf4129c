// The readiness contract the sessions rely on, on every platform (epoll with EPOLLET on Linux,
// WSAPoll with emulated edges on Windows), over real loopback TCP through net/socket_ops:
// a readiness is reported once, is not reported again while the handler leaves the socket
// undrained (no busy loop under backpressure), and is reported again once the handler drained it
// to WouldBlock and the peer acts. I/O happens inside the loop's dispatch, as in the sessions.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "net/event_loop.h"
#include "net/socket_ops.h"

namespace postern::net {
namespace {

using namespace std::chrono_literals;

struct Recorder : IoHandler {
    int calls = 0;
    std::uint32_t seen = 0;
    std::function<void(std::uint32_t)> action;  ///< runs inside dispatch, like a session's pump
    void onIo(std::uint32_t e) override {
        ++calls;
        seen |= e;
        if (action) action(e);
    }
};

struct Acceptor : IoHandler {
    Fd listener = kInvalidFd;
    Fd accepted = kInvalidFd;
    void onIo(std::uint32_t) override {
        if (accepted == kInvalidFd) accepted = acceptConnection(listener, nullptr, nullptr);
    }
};

/** A connected loopback pair: `local` registered with the loop under test, `peer` plain. */
class EdgeReadiness : public ::testing::Test {
protected:
    void SetUp() override {
        std::string err;
        auto any = SocketAddress::fromIp("127.0.0.1", 0);
        ASSERT_TRUE(any);
        Fd listener = listenSocket(*any, false, 4, &err);
        ASSERT_NE(listener, kInvalidFd) << err;
        SocketAddress to = localAddress(listener);
        int cerr = 0;
        local_ = connectStart(to, &cerr);
        ASSERT_NE(local_, kInvalidFd) << errorText(cerr);
        Acceptor acceptor;
        acceptor.listener = listener;
        ASSERT_TRUE(loop_.addLevelReadable(listener, &acceptor));
        for (int i = 0; i < 100 && acceptor.accepted == kInvalidFd; ++i) loop_.runOnce(50ms);
        loop_.remove(listener);
        closeFd(listener);
        peer_ = acceptor.accepted;
        ASSERT_NE(peer_, kInvalidFd) << "no connection accepted within 5 s";
        ASSERT_TRUE(loop_.add(local_, &h_));
    }

    void TearDown() override {
        if (local_ != kInvalidFd) {
            loop_.remove(local_);
            closeFd(local_);
        }
        closeFd(peer_);
    }

    /** Runs rounds until `done` or ~5 s. */
    void runUntil(const std::function<bool()>& done) {
        for (int i = 0; i < 250 && !done(); ++i) loop_.runOnce(20ms);
    }

    void peerSend(const std::string& s) {
        std::size_t off = 0;
        for (int i = 0; i < 1000 && off < s.size(); ++i) {
            auto r = sendSome(peer_, s.data() + off, s.size() - off);
            if (r.status == IoStatus::Ok)
                off += r.bytes;
            else
                ASSERT_EQ(r.status, IoStatus::WouldBlock);
            if (off < s.size()) std::this_thread::sleep_for(1ms);
        }
        ASSERT_EQ(off, s.size());
    }

    /** Writes to `local_` inside dispatch (the peer does not read) until WouldBlock; adds
     * what went out to *sent. False if the buffer never filled within ~5 s. */
    bool fillSendBuffer(std::size_t* sent) {
        bool blocked = false;
        const std::string chunk(64 * 1024, 'x');
        loop_.post([&] {
            for (int i = 0; i < 100000 && !blocked; ++i) {
                auto r = sendSome(local_, chunk.data(), chunk.size());
                if (r.status == IoStatus::Ok)
                    *sent += r.bytes;
                else
                    blocked = r.status == IoStatus::WouldBlock;
            }
        });
        runUntil([&] { return blocked; });
        return blocked;
    }

    /** Reads what `local_` has until WouldBlock or EOF (inside dispatch). */
    std::size_t drainLocal(bool* eof = nullptr) {
        std::size_t total = 0;
        char buf[4096];
        for (;;) {
            auto r = recvSome(local_, buf, sizeof buf);
            if (r.status == IoStatus::Ok) {
                total += r.bytes;
                continue;
            }
            if (r.status == IoStatus::Eof && eof) *eof = true;
            return total;
        }
    }

    EventLoop loop_;
    Recorder h_;
    Fd local_ = kInvalidFd;
    Fd peer_ = kInvalidFd;
};

TEST_F(EdgeReadiness, WritableOnceThenQuiet) {
    runUntil([&] { return (h_.seen & kWritable) != 0; });
    ASSERT_TRUE(h_.seen & kWritable);
    int calls = h_.calls;
    for (int i = 0; i < 10; ++i) loop_.runOnce(10ms);
    EXPECT_EQ(h_.calls, calls) << "an idle, already-reported socket must not be reported again";
}

TEST_F(EdgeReadiness, UndrainedReadableIsNotReportedAgain) {
    runUntil([&] { return (h_.seen & kWritable) != 0; });
    h_.seen = 0;
    peerSend("backpressure");
    runUntil([&] { return (h_.seen & kReadable) != 0; });
    ASSERT_TRUE(h_.seen & kReadable);
    // The handler leaves the byte unread (its peer is "full"): no event, no busy loop.
    int calls = h_.calls;
    for (int i = 0; i < 20; ++i) loop_.runOnce(10ms);
    EXPECT_LE(h_.calls, calls + 1) << "level-triggered reporting of an unread socket: busy loop";
}

TEST_F(EdgeReadiness, DrainedToWouldBlockGetsTheNextEdge) {
    std::size_t got = 0;
    h_.action = [&](std::uint32_t e) {
        if (e & kReadable) got += drainLocal();
    };
    peerSend("first");
    runUntil([&] { return got >= 5; });
    ASSERT_EQ(got, 5u);
    int calls = h_.calls;
    peerSend("second");
    runUntil([&] { return got >= 11; });
    EXPECT_EQ(got, 11u) << "data after a drain must raise a new readable edge";
    EXPECT_GT(h_.calls, calls);
}

TEST_F(EdgeReadiness, WritableAgainAfterTheSendBufferDrains) {
    runUntil([&] { return (h_.seen & kWritable) != 0; });
    // Fill the send buffer inside dispatch until WouldBlock (the peer does not read yet).
    std::size_t sent = 0;
    ASSERT_TRUE(fillSendBuffer(&sent)) << "the send buffer never filled";
    h_.seen = 0;
    for (int i = 0; i < 5; ++i) loop_.runOnce(10ms);
    EXPECT_FALSE(h_.seen & kWritable) << "writable reported while the send buffer is full";
    // The peer reads everything: the writable edge comes back.
    std::size_t read = 0;
    char buf[65536];
    for (int i = 0; i < 5000 && read < sent; ++i) {
        auto r = recvSome(peer_, buf, sizeof buf);
        if (r.status == IoStatus::Ok)
            read += r.bytes;
        else if (!(h_.seen & kWritable))
            loop_.runOnce(1ms);
    }
    ASSERT_EQ(read, sent);
    runUntil([&] { return (h_.seen & kWritable) != 0; });
    EXPECT_TRUE(h_.seen & kWritable);
}

TEST_F(EdgeReadiness, PeerHalfCloseIsReadableToEof) {
    bool eof = false;
    std::size_t got = 0;
    h_.action = [&](std::uint32_t e) {
        if (e & kReadable) got += drainLocal(&eof);
    };
    peerSend("bye");
    shutdownWrite(peer_);
    runUntil([&] { return eof; });
    EXPECT_TRUE(eof);
    EXPECT_EQ(got, 3u);
    // Half-closed: this side can still send to the peer.
    auto r = sendSome(local_, "ok", 2);
    EXPECT_EQ(r.status, IoStatus::Ok);
}

// A client that sent its request and half-closed, then reads the response slowly: the relay
// writes to a socket whose peer is gone for reading (WSAPoll reports POLLHUP for it in every
// round, whatever is asked) and whose send buffer is full. That must wait quietly for the
// writable edge, not spin; and the edge must still come when the peer reads.
TEST_F(EdgeReadiness, HalfClosedPeerThatDoesNotReadIsNotBusyLooped) {
    bool eof = false;
    h_.action = [&](std::uint32_t e) {
        if (e & kReadable) drainLocal(&eof);
    };
    shutdownWrite(peer_);
    runUntil([&] { return eof; });
    ASSERT_TRUE(eof);
    std::size_t sent = 0;
    ASSERT_TRUE(fillSendBuffer(&sent)) << "the send buffer never filled";
    // Every report now retries the write, as a session does (and re-arms on WouldBlock).
    const std::string chunk(64 * 1024, 'x');
    h_.action = [&](std::uint32_t e) {
        if (!(e & kWritable)) return;
        auto r = sendSome(local_, chunk.data(), chunk.size());
        if (r.status == IoStatus::Ok) sent += r.bytes;
    };
    int calls = h_.calls;
    for (int i = 0; i < 20; ++i) loop_.runOnce(10ms);
    EXPECT_LE(h_.calls, calls + 2) << "a half-closed peer with a full send buffer: busy loop";
    h_.action = nullptr;
    h_.seen = 0;
    std::size_t read = 0;
    char buf[65536];
    for (int i = 0; i < 20000 && read < sent; ++i) {
        auto r = recvSome(peer_, buf, sizeof buf);
        if (r.status == IoStatus::Ok)
            read += r.bytes;
        else
            loop_.runOnce(1ms);
    }
    ASSERT_EQ(read, sent);
    runUntil([&] { return (h_.seen & kWritable) != 0; });
    EXPECT_TRUE(h_.seen & kWritable) << "no writable edge after the peer read everything";
}

TEST_F(EdgeReadiness, PostWakesABlockedRound) {
    bool ran = false;
    runUntil([&] { return (h_.seen & kWritable) != 0; });
    std::thread t([&] {
        std::this_thread::sleep_for(50ms);
        loop_.post([&] { ran = true; });
    });
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 3 && !ran; ++i) loop_.runOnce(10s);
    t.join();
    EXPECT_TRUE(ran);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

// Linux copies TCP_NODELAY from the listening socket (listenSocket sets it), so the sessions do
// not set it again on each accepted socket; where that is not so, they do.
TEST_F(EdgeReadiness, AcceptedSocketsAreNoDelayWhereTheSessionsRelyOnIt) {
    if (!kAcceptInheritsNoDelay) GTEST_SKIP() << "the sessions set TCP_NODELAY on each socket here";
    EXPECT_TRUE(noDelay(peer_));
}

// Sessions close their sockets with removeBeforeClose() + closeFd() and no EPOLL_CTL_DEL: the
// closed socket must report nothing more, and a new socket that gets the same descriptor number
// reports to its own handler only.
TEST_F(EdgeReadiness, AClosedSocketLeavesTheLoopWithoutRemove) {
    const Fd old_number = local_;
    loop_.removeBeforeClose(local_);
    closeFd(local_);
    local_ = kInvalidFd;
    peerSend("after close");  // may reset: nothing reads it any more
    loop_.runOnce(20ms);
    const int calls_before = h_.calls;

    std::string err;
    auto any = SocketAddress::fromIp("127.0.0.1", 0);
    ASSERT_TRUE(any);
    Fd listener = listenSocket(*any, false, 4, &err);
    ASSERT_NE(listener, kInvalidFd) << err;
    int cerr = 0;
    Fd fresh = connectStart(localAddress(listener), &cerr);
    ASSERT_NE(fresh, kInvalidFd) << errorText(cerr);
    Recorder h2;
    ASSERT_TRUE(loop_.add(fresh, &h2));
    runUntil([&] { return (h2.seen & kWritable) != 0; });
    EXPECT_NE(h2.seen & kWritable, 0u);
    loop_.runOnce(20ms);
    EXPECT_EQ(h_.calls, calls_before) << "the closed socket's handler was called again";
    if (fresh == old_number) SUCCEED() << "the descriptor number was reused, as intended";
    loop_.removeBeforeClose(fresh);
    closeFd(fresh);
    closeFd(listener);
}

}  // namespace
}  // namespace postern::net
