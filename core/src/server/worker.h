// A worker: one thread, one event loop, its own listening sockets (SO_REUSEPORT on Linux, so the
// kernel spreads connections across workers) and every session accepted on them for their whole
// life. No locks on the data path. Public methods other than the constructor, addListener() and
// start() may be called from any thread; they post to the loop.
//
// Out of descriptors (or buffers, or memory), accept() fails with the connection still in the
// backlog and the listener still readable: retrying would spin. The worker then takes its
// listeners out of its loop for a pause that grows while the failures go on (kFirstAcceptPause
// doubling up to kMaxAcceptPause; nginx pauses 500 ms), logs once when such an episode starts
// and once when an accept succeeds again (with the count). Clients meanwhile wait in the kernel's
// listen backlog and are served as descriptors free up.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "proxy/tcp_session.h"
#include "proxy/worker_context.h"

namespace postern::server {

class Worker final : public net::TimerHandler {
public:
    static constexpr std::chrono::milliseconds kFirstAcceptPause{50};
    static constexpr std::chrono::milliseconds kMaxAcceptPause{1000};

    Worker(unsigned index, proxy::AccessLog* access_log, std::atomic<std::uint64_t>* global_active,
           std::uint64_t global_max, bool splice);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /** Before start(): takes ownership of a listening fd serving `listener`. */
    void addListener(const proxy::ListenerContext* listener, net::Fd fd);
    void start();

    /** Closes this worker's listening sockets (new connections are refused by the OS). */
    void stopAccepting();
    /** Closes every remaining session with cause=shutdown. */
    void abortSessions();
    /** Ends the thread (after abortSessions) and joins it. */
    void stopAndJoin();

    void onTimer(std::uint32_t tag) override;

private:
    struct Acceptor final : net::IoHandler {
        Worker* worker = nullptr;
        const proxy::ListenerContext* listener = nullptr;
        net::Fd fd = net::kInvalidFd;
        void onIo(std::uint32_t events) override;
    };
    void acceptBatch(Acceptor& acceptor);
    void refuse(const proxy::ListenerContext& listener, net::Fd fd, const net::SocketAddress& peer);
    /** accept() failed for want of resources: unregister every listener for a growing pause. */
    void pauseAccepting(const Acceptor& a, int err);
    /** The first accept after an episode of pauses: logs its end. */
    void endAcceptEpisode();
    /** Closes a refused connection at once and writes its access-log line. */
    void closeRefused(const proxy::ListenerContext& listener, net::Fd fd,
                      const net::SocketAddress& peer, std::string_view cause);

    unsigned index_;
    net::EventLoop loop_;
    std::unique_ptr<proxy::WorkerContext> context_;
    std::vector<std::unique_ptr<Acceptor>> acceptors_;
    std::atomic<std::uint64_t>* global_active_;
    std::uint64_t global_max_;
    std::thread thread_;

    // Accept pauses (loop thread only).
    net::Timer accept_timer_{this, 0};
    bool accepts_paused_ = false;  ///< the listeners are out of the loop until accept_timer_
    std::uint64_t episode_failures_ = 0;  ///< since the last successful accept (0: no episode)
    std::chrono::milliseconds accept_pause_{0};
    net::Clock::time_point episode_started_{};
};

}  // namespace postern::server
