// A worker: one thread, one event loop, its own listening sockets (SO_REUSEPORT on Linux, so the
// kernel spreads connections across workers) and every session accepted on them for their whole
// life. No locks on the data path. Public methods other than the constructor and start() may be
// called from any thread; once the thread runs they post to the loop (a reload changes listeners
// and drains connections that way: acceptors are never touched from another thread).
//
// Draining: drain*() find the sessions concerned (a walk of this worker's session list, only when
// something drains) and give each its own cut time, uniform in the last 10 % of its pool's
// drain_timeout, so that a drained set of connections is not closed in one millisecond; the
// session arms a timer of its own. Nothing is paid on the data path while nothing drains.
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
#include <functional>
#include <future>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "http/backend_pool.h"
#include "net/event_loop.h"
#include "proxy/session.h"
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

    /** Takes ownership of a listening fd serving `listener`; `group` names the bound address it
     * belongs to (one socket per worker and address). */
    void addListener(std::uint64_t group, std::shared_ptr<const proxy::ListenerContext> listener,
                     net::Fd fd);
    /** New connections on `group` get `listener` (a reload's next generation; the socket stays). */
    void setListener(std::uint64_t group, std::shared_ptr<const proxy::ListenerContext> listener);
    /** Closes the socket of `group` (a reload removed the address): refused by the OS from then. */
    void removeListener(std::uint64_t group);
    void start();

    /** Sessions accepted by listener `listener_id` (any generation) drain (cause=drained). */
    void drainListener(std::uint64_t listener_id);
    /** Sessions using `backend` are closed after `timeout` (its pool's drain_timeout). */
    void drainBackend(std::shared_ptr<const upstream::Backend> backend, config::Millis timeout);
    /** `backend` came back: its sessions are not cut any more. */
    void undrainBackend(std::shared_ptr<const upstream::Backend> backend);
    /** Shutdown: every session drains for its own pool's drain_timeout, then cause=shutdown. */
    void drainAll();
    /** A reload changed [log] access or [gateway] max_connections. `log` must outlive the worker.
     */
    void setAccessLog(proxy::AccessLog* log);
    void setGlobalMax(std::uint64_t max);
    /** Ready once every change asked of this worker before the call has been applied (a reload
     * returns only when every worker serves the new generation). */
    std::future<void> applied();

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
        std::uint64_t group = 0;
        std::shared_ptr<const proxy::ListenerContext> listener;
        net::Fd fd = net::kInvalidFd;
        void onIo(std::uint32_t events) override;
    };
    /** Runs `task` on the loop: at once before start(), else posted. */
    void onLoop(std::function<void()> task);
    void addListenerNow(std::uint64_t group, std::shared_ptr<const proxy::ListenerContext> listener,
                        net::Fd fd);
    /** When a session with drain_timeout `timeout` is cut if a drain starts now (max(): never). */
    net::Clock::time_point cutTime(config::Millis timeout);
    void acceptBatch(Acceptor& acceptor);
    void refuse(const proxy::ListenerContext& listener, net::Fd fd, const net::SocketAddress& peer);
    /** accept() failed for want of resources: unregister every listener for a growing pause. */
    void pauseAccepting(const Acceptor& a, int err);
    /** The first accept after an episode of pauses: logs its end. */
    void endAcceptEpisode();
    /** Closes a refused connection at once and writes its access-log line. */
    void closeRefused(const proxy::ListenerContext& listener, net::Fd fd,
                      const net::SocketAddress& peer, proxy::CloseCause cause);

    unsigned index_;
    net::EventLoop loop_;
    std::unique_ptr<proxy::WorkerContext> context_;
    /** Idle keep-alive connections of the HTTP sessions (context_->http_backends); destroyed
     * before the loop they are registered with. */
    std::unique_ptr<http::BackendPool> http_backends_;
    std::vector<std::unique_ptr<Acceptor>> acceptors_;
    std::atomic<std::uint64_t>* global_active_;
    std::uint64_t global_max_;  ///< loop thread
    std::thread thread_;
    /** Set by start(); read by any thread that asks for a change (posted once it runs). */
    std::atomic<bool> started_{false};

    // Accept pauses (loop thread only).
    net::Timer accept_timer_{this, 0};
    bool accepts_paused_ = false;  ///< the listeners are out of the loop until accept_timer_
    std::uint64_t episode_failures_ = 0;  ///< since the last successful accept (0: no episode)
    std::chrono::milliseconds accept_pause_{0};
    net::Clock::time_point episode_started_{};
};

}  // namespace postern::server
