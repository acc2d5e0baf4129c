// EventLoop on Windows: WSAPoll (the Poller STYLE.md names for now; IOCP later).
//
// WSAPoll is level-triggered; the sessions are written for edges (EPOLLET): on a readable or
// writable edge they read or write until WSAEWOULDBLOCK (or a short transfer), and while a peer
// cannot take more they leave the other side unread. Polling levels would report that unread side
// again on every round: a busy loop. So each registration keeps an "armed" mask: a readiness is
// reported once and then no longer polled for, until socket_ops_win.cpp reports on this thread
// that the socket was drained in that direction (detail::noteWouldBlock) — exactly the moment
// epoll would deliver the next edge. Listening sockets (addLevelReadable) stay level-triggered.
//
// Consequence: I/O on a registered socket must happen on its loop's thread inside the loop's
// dispatch (handlers, timers, posted tasks), which is the EventLoop contract anyway.
//
// POLLHUP (the peer sent FIN) cannot be masked: WSAPoll reports it in every round for as long as
// the socket is polled, whatever events are asked for. It is delivered once, as the
// half-close edge (kPeerClosed); after that only real readiness counts. A socket that waits to
// become writable for a half-closed peer that does not read (a slow client that sent its request
// and shut down its side) would make every WSAPoll return at once: it is "parked" instead, left
// out of the rounds and re-checked every kParkedRecheck, so it costs one cheap poll per interval,
// not a busy loop (EdgeReadiness.HalfClosedPeerThatDoesNotReadIsNotBusyLooped).
//
// post() wakes the loop through a loopback UDP socket pair (Windows has no eventfd).
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <unordered_map>

#include "common/log.h"
#include "net/event_loop.h"
#include "net/wsapoll_edges.h"

namespace postern::net {

namespace {

constexpr SHORT kIn = POLLRDNORM;
constexpr SHORT kOut = POLLWRNORM;
constexpr auto kParkedRecheck = std::chrono::milliseconds(10);

struct PollerState {
    struct Reg {
        Fd fd;
        IoHandler* handler;
        SHORT armed;  ///< what WSAPoll is asked for
        bool level;
        bool hup = false;     ///< POLLHUP was delivered (as kPeerClosed) already
        bool parked = false;  ///< only a repeated POLLHUP to report: polled every kParkedRecheck
    };
    struct Ready {
        IoHandler* handler;
        std::uint32_t events;
    };

    std::vector<Reg> regs;
    std::unordered_map<Fd, std::size_t> index;  ///< fd -> position in regs
    std::vector<WSAPOLLFD> pfds;                ///< rebuilt each round from the armed regs
    std::vector<Ready> ready;
    SOCKET wake_rx = INVALID_SOCKET;
    SOCKET wake_tx = INVALID_SOCKET;
    std::atomic<bool> wake_pending{false};
    bool poll_failed_logged = false;
    Clock::time_point next_recheck{};  ///< when parked sockets are polled again

    Reg* find(Fd fd) {
        auto it = index.find(fd);
        return it == index.end() ? nullptr : &regs[it->second];
    }

    bool add(Fd fd, IoHandler* handler, bool level) {
        if (fd == kInvalidFd || index.count(fd)) return false;
        index.emplace(fd, regs.size());
        regs.push_back({fd, handler, static_cast<SHORT>(level ? kIn : (kIn | kOut)), level});
        return true;
    }

    void remove(Fd fd) {
        auto it = index.find(fd);
        if (it == index.end()) return;
        std::size_t i = it->second;
        index.erase(it);
        if (i + 1 != regs.size()) {
            regs[i] = regs.back();
            index[regs[i].fd] = i;
        }
        regs.pop_back();
    }
};

// The loop dispatching on this thread right now (see the file comment).
thread_local PollerState* t_current = nullptr;

void closeSocket(SOCKET& s) {
    if (s != INVALID_SOCKET) ::closesocket(s);
    s = INVALID_SOCKET;
}

}  // namespace

struct EventLoop::WsaPoller : PollerState {};

namespace detail {

void noteWouldBlock(Fd fd, unsigned edge) {
    PollerState* p = t_current;
    if (!p) return;
    if (auto* reg = p->find(fd); reg && !reg->level) {
        if (edge & kReadEdge) reg->armed |= kIn;
        if (edge & kWriteEdge) reg->armed |= kOut;
    }
}

}  // namespace detail

EventLoop::EventLoop() : poller_(std::make_unique<WsaPoller>()), now_(Clock::now()) {
    ensureWinsock();
    auto& p = *poller_;
    // Wake-up pair: wake_rx bound to 127.0.0.1:<any>, wake_tx connected to it.
    p.wake_rx =
        ::WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    p.wake_tx =
        ::WSASocketW(AF_INET, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int len = sizeof a;
    u_long on = 1;
    bool ok = p.wake_rx != INVALID_SOCKET && p.wake_tx != INVALID_SOCKET &&
              ::bind(p.wake_rx, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
              ::getsockname(p.wake_rx, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
              ::connect(p.wake_tx, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
              ::ioctlsocket(p.wake_rx, FIONBIO, &on) == 0 &&
              ::ioctlsocket(p.wake_tx, FIONBIO, &on) == 0;
    if (!ok) {
        int err = ::WSAGetLastError();
        closeSocket(p.wake_rx);
        closeSocket(p.wake_tx);
        throw std::runtime_error("cannot create event loop: " + errorText(err));
    }
    heap_.reserve(1024);
}

EventLoop::~EventLoop() {
    for (Deferred* d : graveyard_) delete d;
    if (t_current == poller_.get()) t_current = nullptr;
    closeSocket(poller_->wake_rx);
    closeSocket(poller_->wake_tx);
}

bool EventLoop::add(Fd fd, IoHandler* handler) { return poller_->add(fd, handler, false); }

bool EventLoop::addLevelReadable(Fd fd, IoHandler* handler) {
    return poller_->add(fd, handler, true);
}

void EventLoop::remove(Fd fd) { poller_->remove(fd); }

void EventLoop::removeBeforeClose(Fd fd) { poller_->remove(fd); }

void EventLoop::post(std::function<void()> task) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        posted_.push_back(std::move(task));
    }
    // One datagram per wake-up round is enough: the flag is cleared before the socket is drained.
    if (!poller_->wake_pending.exchange(true, std::memory_order_acq_rel)) {
        char one = 1;
        ::send(poller_->wake_tx, &one, 1, 0);
    }
}

void EventLoop::runOnce(Clock::duration max_wait) {
    auto& p = *poller_;
    int timeout_ms = pollTimeoutMs(max_wait);

    const auto start = Clock::now();
    const bool recheck = start >= p.next_recheck;
    bool any_parked = false;
    p.pfds.clear();
    p.pfds.push_back({p.wake_rx, kIn, 0});
    for (const auto& r : p.regs) {
        if (!r.armed) continue;
        if (r.parked) {
            any_parked = true;
            if (!recheck) continue;
        }
        p.pfds.push_back({r.fd, r.armed, 0});
    }
    if (any_parked) {
        if (recheck) p.next_recheck = start + kParkedRecheck;
        auto until = std::chrono::ceil<std::chrono::milliseconds>(p.next_recheck - start).count();
        if (until < 0) until = 0;
        if (until < timeout_ms) timeout_ms = static_cast<int>(until);
    }
    int n = ::WSAPoll(p.pfds.data(), static_cast<ULONG>(p.pfds.size()), timeout_ms);
    PollerState* previous = t_current;
    t_current = &p;
    now_ = Clock::now();
    if (n == SOCKET_ERROR && !p.poll_failed_logged) {
        p.poll_failed_logged = true;
        POSTERN_LOG(Error, "WSAPoll failed",
                    "error=" + common::logfmtValue(errorText(::WSAGetLastError())));
    }

    p.ready.clear();
    for (std::size_t i = 1; n > 0 && i < p.pfds.size(); ++i) {
        SHORT rev = p.pfds[i].revents;
        if (!rev) continue;
        auto* reg = p.find(p.pfds[i].fd);
        if (!reg) continue;
        std::uint32_t e = 0;
        if (rev & (POLLRDNORM | POLLRDBAND)) e |= kReadable;
        if (rev & POLLWRNORM) e |= kWritable;
        // POLLHUP also means "the peer sent FIN" (a half-close): readable until EOF, still
        // writable — what EPOLLRDHUP means on Linux. Only an error is a hang-up. Reported once
        // (see the file comment).
        if ((rev & POLLHUP) && !reg->hup) {
            reg->hup = true;
            e |= kPeerClosed | kReadable | kWritable;
        }
        if (rev & (POLLERR | POLLNVAL)) e |= kError | kHangup | kReadable | kWritable;
        // Only what was asked for (a repeated POLLHUP may come with readiness nobody waits for).
        if (!reg->level && !(e & (kError | kPeerClosed))) {
            if (!(reg->armed & kIn)) e &= ~static_cast<std::uint32_t>(kReadable);
            if (!(reg->armed & kOut)) e &= ~static_cast<std::uint32_t>(kWritable);
        }
        reg->parked = e == 0 && (rev & POLLHUP) != 0;
        if (e == 0) continue;
        if (!reg->level) {
            if (e & kReadable) reg->armed &= static_cast<SHORT>(~kIn);
            if (e & kWritable) reg->armed &= static_cast<SHORT>(~kOut);
        }
        p.ready.push_back({reg->handler, e});
    }
    if (n > 0 && p.pfds[0].revents) {
        p.wake_pending.store(false, std::memory_order_release);
        char buf[64];
        while (::recv(p.wake_rx, buf, sizeof buf, 0) > 0) {
        }
    }
    for (const auto& r : p.ready) r.handler->onIo(r.events);
    runTimers();
    runPosted();
    if (!graveyard_.empty()) {
        std::vector<Deferred*> dead;
        dead.swap(graveyard_);
        for (Deferred* d : dead) delete d;
    }
    t_current = previous;
}

}  // namespace postern::net
#endif
