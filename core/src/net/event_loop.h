// One event loop per thread: readiness polling (edge-triggered epoll on Linux; WSAPoll with
// emulated edges on Windows, see event_loop_wsapoll.cpp), a timer heap,
// cross-thread task posting and deferred destruction. Everything except post() and stop() must be
// called on the loop's own thread; nothing here locks on the hot path.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "net/socket_ops.h"

namespace postern::net {

using Clock = std::chrono::steady_clock;

/** kPeerClosed: the peer half-closed (EOF is queued behind any data still to read). */
enum IoEvent : std::uint32_t { kReadable = 1u, kWritable = 2u, kError = 4u, kHangup = 8u, kPeerClosed = 16u };

/** Receives readiness for one registered fd. Owned elsewhere; must outlive its registration. */
class IoHandler {
public:
    virtual void onIo(std::uint32_t events) = 0;

protected:
    ~IoHandler() = default;
};

class TimerHandler {
public:
    virtual void onTimer(std::uint32_t tag) = 0;

protected:
    ~TimerHandler() = default;
};

/** A timer slot embedded in its owner (no allocation). Arm/cancel through the loop. */
class Timer {
public:
    Timer(TimerHandler* owner, std::uint32_t tag) : owner_(owner), tag_(tag) {}
    ~Timer() = default;
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    bool armed() const { return index_ != kNotArmed; }
    Clock::time_point deadline() const { return deadline_; }

private:
    friend class EventLoop;
    static constexpr std::size_t kNotArmed = static_cast<std::size_t>(-1);
    TimerHandler* owner_;
    std::uint32_t tag_;
    Clock::time_point deadline_{};
    std::size_t index_ = kNotArmed;
};

/** Something destroyed by the loop after the current dispatch round (so handlers of the same
 * batch never see a freed object). */
class Deferred {
public:
    virtual ~Deferred() = default;
};

class EventLoop {
public:
    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /** Registers fd for readable+writable edge notifications (plus errors/hang-ups). */
    bool add(Fd fd, IoHandler* handler);
    /** Registers fd for readable notifications only, level-triggered (listening sockets). */
    bool addLevelReadable(Fd fd, IoHandler* handler);
    void remove(Fd fd);
    /** Call right before closing fd for good. With epoll it costs nothing: closing the last
     *  descriptor of a socket drops its registration (HAProxy and nginx skip the EPOLL_CTL_DEL
     *  too; our sockets are never duplicated and are close-on-exec). Pollers that keep their own
     *  descriptor set (WSAPoll) remove it here. */
    void removeBeforeClose(Fd fd);

    void arm(Timer& t, Clock::time_point deadline);
    void armAfter(Timer& t, Clock::duration d) { arm(t, now_ + d); }
    void cancel(Timer& t);

    void destroyLater(Deferred* d) { graveyard_.push_back(d); }

    /** Any thread: runs `task` on the loop thread soon. */
    void post(std::function<void()> task);
    /** Any thread: makes run() return after the current round. */
    void stop();

    /** Runs until stop(). */
    void run();
    /** One round: wait at most `max_wait`, dispatch I/O, timers, posted tasks. */
    void runOnce(Clock::duration max_wait);

    /** Time at the start of the current round (cheap; use for timestamps on the data path). */
    Clock::time_point now() const { return now_; }

private:
    void siftUp(std::size_t i);
    void siftDown(std::size_t i);
    void removeAt(std::size_t i);
    void runTimers();
    void runPosted();
    /** How long the poller may block: max_wait, or less when the next timer is due sooner
     * (rounded up to whole ms, so a timer is not woken 1 ms early and then spins). */
    int pollTimeoutMs(Clock::duration max_wait) const;

#ifdef _WIN32
    struct WsaPoller;  // event_loop_wsapoll.cpp
    std::unique_ptr<WsaPoller> poller_;
#else
    int epfd_ = -1;
    int wakefd_ = -1;
#endif
    Clock::time_point now_;
    std::vector<Timer*> heap_;
    std::vector<Deferred*> graveyard_;
    std::mutex mutex_;
    std::vector<std::function<void()>> posted_;
    std::vector<std::function<void()>> running_;
    bool stop_ = false;
};

}  // namespace postern::net
