// A session's way to a backend of one pool: pick (the pool's balancer, capacity and locality
// rules) → BackendConnector (connect, preface, TLS within the pool's connect_timeout) → on
// failure, passive health is told, the capacity taken is given back, and the next pick skips the
// backends already tried, up to the pool's `retries`. Ends once, through Owner: dialed (the
// transport is ready) or failed with the access-log cause (ConnectFailed, NoBackend, NoCapacity,
// NoResources), each counted in the listener's stats as before the split.
//
// The pool is a parameter of start(), not of the dialer: a TCP session dials its listener's pool,
// an HTTP session the pool its route chose, once per connection or per request. Capacity taken
// on the chosen backend is held until release() (the session's end, or an HTTP connection going
// back to an idle pool's care).
//
// Embedded in its session; the session's worker thread only. No allocation on a connect that
// succeeds at the first try, except the preface when the pool sends PROXY headers and the list of
// backends tried (one entry).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "net/event_loop.h"
#include "proxy/close_cause.h"
#include "tls/transport.h"
#include "upstream/backend_connector.h"
#include "upstream/pool.h"

namespace postern::proxy {

struct ListenerContext;
struct WorkerContext;

class BackendDialer final : public upstream::BackendConnector::Handler {
public:
    class Owner {
    public:
        /** Replaces `out` with the PROXY header for `settings` (the pool's [pool.backend]);
         * called once per dial, only when the pool sends one. */
        virtual void writePreface(const config::BackendSettings& settings, std::string& out) = 0;
        /** The transport is connected (TLS established when the pool's backends speak TLS). */
        virtual void onDialed() = 0;
        /** No backend connection: ConnectFailed, NoBackend, NoCapacity or NoResources. */
        virtual void onDialFailed(CloseCause cause) = 0;

    protected:
        ~Owner() = default;
    };

    /** `transport`: the session's backend side, closed; `io`: its event handler, which forwards
     * events to onIo() while dialing(). */
    BackendDialer(WorkerContext& worker, const ListenerContext& listener, Owner& owner,
                  tls::Transport& transport, net::IoHandler* io);
    BackendDialer(const BackendDialer&) = delete;
    BackendDialer& operator=(const BackendDialer&) = delete;

    /** Dials a backend of `pool` (its current snapshot); `affinity` is the client's hash for
     * balancers that keep a client on one backend. The outcome is reported through Owner, maybe
     * before this returns. `pool` must outlive the dial and the release(). */
    void start(upstream::Pool& pool, std::uint64_t affinity);
    /** An event on the transport while dialing(), already noted on the transport. */
    void onIo(std::uint32_t events) { connector_.onIo(events); }
    bool dialing() const { return connector_.connecting(); }
    /** Stops a dial in progress (its socket closed); the capacity stays held until release(). */
    void cancel() { connector_.cancel(); }
    /** Gives back the capacity held on the backend; nothing when none is held. */
    void release();

    /** The backend connected or being connected; null before a pick, after a failure or a
     * release(). */
    const upstream::Backend* backend() const { return backend_.get(); }
    /** The same, shared: what a connection that outlives the dial keeps alive (an HTTP keep-alive
     * connection in its worker's idle pool). */
    const std::shared_ptr<upstream::Backend>& backendRef() const { return backend_; }
    /** The pool of the last start() (a route's or the listener's); null before one. */
    upstream::Pool* pool() const { return pool_; }
    /** Backends tried by the last start(). */
    std::uint32_t attempts() const { return attempts_; }
    /** The drain_timeout of the pool as the dial found it; that of `fallback`'s current settings
     * before any dial. */
    config::Millis drainTimeout(const upstream::Pool& fallback) const;

private:
    void onConnected() override;
    void onConnectFailed(const upstream::ConnectFailure& failure) override;
    /** Picks and starts connecting until an attempt is under way or the dial has ended. */
    void connectNext();
    /** Logs and counts a failed attempt and gives its backend back; false when the dial has
     * ended (no retry left). */
    bool attemptFailed(const upstream::ConnectFailure& failure);
    /** The backend socket could not be made (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
    void outOfResources(int err);

    WorkerContext& worker_;
    const ListenerContext& listener_;
    Owner& owner_;
    tls::Transport& transport_;
    net::IoHandler* io_;
    upstream::BackendConnector connector_;

    upstream::Pool* pool_ = nullptr;
    std::shared_ptr<const upstream::Snapshot> snapshot_;
    std::shared_ptr<upstream::Backend> backend_;
    std::uint32_t backend_index_ = 0;
    std::uint64_t affinity_ = 0;
    std::vector<const upstream::Backend*> tried_;
    std::uint32_t attempts_ = 0;
    net::Clock::time_point attempt_started_{};  ///< the connect under way began (loop time)
    /** Raw bytes every connection of this dial starts with (a PROXY header); empty and
     * unallocated unless the pool asks for one. */
    std::string preface_;
};

}  // namespace postern::proxy
