#include "net/event_loop.h"

#include <gtest/gtest.h>

#ifndef _WIN32
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <memory>
#include <thread>
#include <vector>

using namespace postern::net;
using namespace std::chrono_literals;

namespace {

struct Recorder : TimerHandler {
    std::vector<std::uint32_t> fired;
    std::vector<Clock::time_point> fired_at;
    void onTimer(std::uint32_t tag) override {
        fired.push_back(tag);
        fired_at.push_back(Clock::now());
    }
};

void runFor(EventLoop& loop, Clock::duration d) {
    auto end = Clock::now() + d;
    while (Clock::now() < end) loop.runOnce(5ms);
}

}  // namespace

TEST(EventLoop, TimersFireInDeadlineOrder) {
    EventLoop loop;
    Recorder r;
    Timer a(&r, 1), b(&r, 2), c(&r, 3);
    loop.armAfter(c, 30ms);
    loop.armAfter(a, 10ms);
    loop.armAfter(b, 20ms);
    runFor(loop, 80ms);
    EXPECT_EQ(r.fired, (std::vector<std::uint32_t>{1, 2, 3}));
    EXPECT_FALSE(a.armed());
}

TEST(EventLoop, CancelAndRearm) {
    EventLoop loop;
    Recorder r;
    Timer a(&r, 1), b(&r, 2);
    loop.armAfter(a, 10ms);
    loop.armAfter(b, 15ms);
    loop.cancel(a);
    loop.armAfter(b, 40ms);  // moved later
    // Checked on the event, not on a window of wall time: a late-running test thread (sanitizers,
    // a loaded machine) would otherwise see b's new deadline pass inside "the first 25 ms".
    const auto b_due = b.deadline();
    const auto give_up = Clock::now() + 5s;
    while (r.fired.empty() && Clock::now() < give_up) loop.runOnce(5ms);
    runFor(loop, 20ms);  // a's old deadline is long past: it must not fire now either
    ASSERT_EQ(r.fired, (std::vector<std::uint32_t>{2}));
    EXPECT_GE(r.fired_at[0], b_due) << "b fired at its old deadline";
}

TEST(EventLoop, ManyTimersKeepHeapOrder) {
    EventLoop loop;
    Recorder r;
    std::vector<std::unique_ptr<Timer>> timers;
    for (std::uint32_t i = 0; i < 200; ++i) {
        timers.push_back(std::make_unique<Timer>(&r, i));
        loop.arm(*timers.back(), loop.now() + std::chrono::microseconds((i * 7919) % 200 * 100));
    }
    for (std::uint32_t i = 0; i < 200; i += 3) loop.cancel(*timers[i]);
    runFor(loop, 60ms);
    std::size_t expected = 200 - (200 + 2) / 3;
    ASSERT_EQ(r.fired.size(), expected);
    for (std::size_t i = 1; i < r.fired.size(); ++i)
        EXPECT_LE(timers[r.fired[i - 1]]->deadline(), timers[r.fired[i]]->deadline());
}

TEST(EventLoop, PostedTasksRunOnLoopThread) {
    EventLoop loop;
    int ran = 0;
    std::thread t([&] { loop.post([&] { ++ran; }); });
    t.join();
    loop.runOnce(100ms);
    EXPECT_EQ(ran, 1);
}

#ifndef _WIN32
// AF_UNIX socketpair: Linux only. The same contract over loopback TCP, on both platforms, is
// edge_readiness_test.cpp.
TEST(EventLoop, EdgeTriggeredReadiness) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    struct H : IoHandler {
        std::uint32_t seen = 0;
        int calls = 0;
        void onIo(std::uint32_t e) override {
            seen |= e;
            ++calls;
        }
    } h;
    EventLoop loop;
    ASSERT_TRUE(loop.add(sv[0], &h));
    loop.runOnce(50ms);
    EXPECT_TRUE(h.seen & kWritable);
    h.seen = 0;
    ASSERT_EQ(::write(sv[1], "x", 1), 1);
    loop.runOnce(50ms);
    EXPECT_TRUE(h.seen & kReadable);
    ::close(sv[1]);
    h.seen = 0;
    loop.runOnce(50ms);
    EXPECT_TRUE(h.seen & kPeerClosed);
    loop.remove(sv[0]);
    ::close(sv[0]);
}
#endif
