#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "net/event_loop.h"

namespace postern::net {

namespace {
// Token for the wake-up eventfd (never a valid handler pointer).
IoHandler* const kWakeToken = nullptr;
}  // namespace

EventLoop::EventLoop() : now_(Clock::now()) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wakefd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wakefd_ < 0) throw std::runtime_error("cannot create event loop: " + errorText(errno));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = kWakeToken;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, wakefd_, &ev);
    heap_.reserve(1024);
}

EventLoop::~EventLoop() {
    for (Deferred* d : graveyard_) delete d;
    if (wakefd_ >= 0) ::close(wakefd_);
    if (epfd_ >= 0) ::close(epfd_);
}

bool EventLoop::add(Fd fd, IoHandler* handler) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = handler;
    return ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::addLevelReadable(Fd fd, IoHandler* handler) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = handler;
    return ::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

void EventLoop::remove(Fd fd) { ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

void EventLoop::removeBeforeClose(Fd) {}

void EventLoop::post(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        posted_.push_back(std::move(task));
    }
    std::uint64_t one = 1;
    (void)!::write(wakefd_, &one, sizeof one);
}

void EventLoop::runOnce(Clock::duration max_wait) {
    const int timeout_ms = pollTimeoutMs(max_wait);
    constexpr int kMaxEvents = 256;
    epoll_event events[kMaxEvents];
    int n = ::epoll_wait(epfd_, events, kMaxEvents, timeout_ms);
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
        auto* handler = static_cast<IoHandler*>(events[i].data.ptr);
        if (handler == kWakeToken) {
            std::uint64_t v;
            while (::read(wakefd_, &v, sizeof v) > 0) {
            }
            continue;
        }
        std::uint32_t e = 0;
        std::uint32_t raw = events[i].events;
        if (raw & EPOLLIN) e |= kReadable;
        if (raw & EPOLLRDHUP) e |= kReadable | kPeerClosed;
        if (raw & EPOLLOUT) e |= kWritable;
        if (raw & EPOLLERR) e |= kError | kReadable | kWritable;
        if (raw & EPOLLHUP) e |= kHangup | kPeerClosed | kReadable | kWritable;
        handler->onIo(e);
    }
    runTimers();
    runPosted();
    if (!graveyard_.empty()) {
        // Destructors may defer more objects; swap first.
        std::vector<Deferred*> dead;
        dead.swap(graveyard_);
        for (Deferred* d : dead) delete d;
    }
}

}  // namespace postern::net
#endif
