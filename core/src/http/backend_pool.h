// Backend connections of HTTP sessions that outlive a request (keep-alive, SPEC §2 keepalive_idle
// / keepalive_max), and the per-worker pool of the idle ones.
//
// A BackendConnection is registered with the loop once, for its whole life, with itself as the
// handler (BackendConnector::start adds its socket that way): it passes readiness on to whoever
// holds it now (the session serving a request through it, or the pool while it is idle), so
// handing a connection from a session to the pool and back costs no system call.
//
// The pool keeps, per backend, the idle connections whose last response was complete, most
// recently used first, at most keepalive_max of them (the oldest is closed for a new one), each
// closed after keepalive_idle. An idle connection that becomes readable was closed by its backend
// (or sent bytes nobody asked for): it is closed at once, so a request is almost never written to
// a dead connection (when it is, the session sees the write fail before any byte went out and
// connects afresh). An idle connection holds no capacity on its backend (Pool::pick counts the
// requests in flight). Connections to a backend that takes no new connections (down, drained)
// are not kept, nor reused with other pool settings than those they were made with (a reload).
// Worker thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "config/model.h"
#include "net/event_loop.h"
#include "proxy/backend_dialer.h"
#include "tls/transport.h"
#include "upstream/backend.h"

namespace postern::http {

class BackendPool;

class BackendConnection final : public net::IoHandler,
                                public net::TimerHandler,
                                public net::Deferred {
public:
    /** Who receives the connection's readiness while it serves a request (already noted on the
     * transport). */
    class User {
    public:
        virtual void onBackendIo(std::uint32_t events) = 0;

    protected:
        ~User() = default;
    };

    explicit BackendConnection(net::EventLoop& loop) : loop_(loop) {}
    /** Closes the socket (cleanly: close_notify on TLS) if still open. */
    ~BackendConnection() override;
    /** Closes the socket with `mode` and lets the loop free the object after this dispatch round
     * (its handlers, or the dialer inside it, may be on the stack). */
    static void discard(std::unique_ptr<BackendConnection> conn, tls::Transport::CloseMode mode);
    BackendConnection(const BackendConnection&) = delete;
    BackendConnection& operator=(const BackendConnection&) = delete;

    tls::Transport& transport() { return transport_; }
    /** The dialer that connected it (made with this object's transport and handler); it keeps
     * the capacity taken on the backend until its release(). */
    proxy::BackendDialer* dialer() { return dialer_.get(); }
    const proxy::BackendDialer* dialer() const { return dialer_.get(); }
    void setDialer(std::unique_ptr<proxy::BackendDialer> dialer) { dialer_ = std::move(dialer); }
    /** Once connected: the backend and the pool settings it was made with. */
    void bind(std::shared_ptr<upstream::Backend> backend,
              std::shared_ptr<const config::PoolConfig> settings) {
        backend_ = std::move(backend);
        settings_ = std::move(settings);
    }
    const upstream::Backend& backend() const { return *backend_; }
    const std::shared_ptr<upstream::Backend>& backendRef() const { return backend_; }
    const config::PoolConfig* settings() const { return settings_.get(); }
    void setUser(User* user) { user_ = user; }
    /** Requests sent on it so far. */
    std::uint32_t uses() const { return uses_; }
    void countUse() { ++uses_; }
    /** Closes it now, with `mode` (the destructor closes cleanly). */
    void close(tls::Transport::CloseMode mode) { transport_.close(loop_, mode); }

    void onIo(std::uint32_t events) override;
    void onTimer(std::uint32_t tag) override;

private:
    friend class BackendPool;

    net::EventLoop& loop_;
    tls::Transport transport_;
    std::unique_ptr<proxy::BackendDialer> dialer_;  ///< after transport_: destroyed first
    std::shared_ptr<upstream::Backend> backend_;
    std::shared_ptr<const config::PoolConfig> settings_;
    User* user_ = nullptr;
    std::uint32_t uses_ = 0;
    // While idle in the pool.
    BackendPool* pool_ = nullptr;
    BackendConnection* prev_ = nullptr;
    BackendConnection* next_ = nullptr;
    net::Timer idle_timer_{this, 0};
};

class BackendPool {
public:
    explicit BackendPool(net::EventLoop& loop) : loop_(loop) {}
    ~BackendPool();
    BackendPool(const BackendPool&) = delete;
    BackendPool& operator=(const BackendPool&) = delete;

    /** A connection whose response was complete: kept idle for the next request to its backend
     * (after keepalive_idle it is closed), or closed at once (keepalive_max = 0, the backend takes
     * no new connections, the backend closed its side). */
    void put(std::unique_ptr<BackendConnection> conn);
    /** The most recently used idle connection to `backend` made with `settings`, or null (idle
     * ones made with other settings are closed on the way). */
    std::unique_ptr<BackendConnection> take(const upstream::Backend& backend,
                                            const config::PoolConfig* settings);
    /** Closes the idle connections to `backend` (drained, removed from its pool). */
    void closeBackend(const upstream::Backend* backend);
    /** Closes every idle connection (the worker stops). */
    void closeAll();

    std::size_t idleCount() const { return idle_; }
    std::size_t idleCount(const upstream::Backend& backend) const;

private:
    friend class BackendConnection;
    struct Bucket {
        BackendConnection* head = nullptr;  ///< most recently used
        BackendConnection* tail = nullptr;  ///< oldest
        std::uint32_t count = 0;
    };
    void unlink(Bucket& bucket, BackendConnection& conn);
    /** An idle connection ends (closed by its backend, expired). */
    void drop(BackendConnection& conn);

    net::EventLoop& loop_;
    std::unordered_map<const upstream::Backend*, Bucket> buckets_;
    std::size_t idle_ = 0;
};

}  // namespace postern::http
