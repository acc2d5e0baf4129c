#include "http/backend_pool.h"

namespace postern::http {

BackendConnection::~BackendConnection() {
    loop_.cancel(idle_timer_);
    if (dialer_) dialer_->cancel();
    transport_.close(loop_, tls::Transport::CloseMode::Clean);
}

void BackendConnection::discard(std::unique_ptr<BackendConnection> conn,
                                tls::Transport::CloseMode mode) {
    if (!conn) return;
    conn->transport_.close(conn->loop_, mode);
    conn->user_ = nullptr;
    conn->loop_.destroyLater(conn.release());
}

void BackendConnection::onIo(std::uint32_t events) {
    transport_.noteEvents(events);
    if (!pool_) {
        if (user_) user_->onBackendIo(events);
        return;
    }
    // Idle: nothing is expected from the backend. A TLS backend may still send records that
    // carry no data (TLS 1.3 session tickets); anything else, or the end of the stream, ends it.
    if (events & (net::kError | net::kHangup | net::kPeerClosed)) return pool_->drop(*this);
    char probe[512];
    for (int i = 0; i < 8 && transport_.canRead(); ++i) {
        const auto r = transport_.read(probe, sizeof probe);
        if (r.status != net::IoStatus::WouldBlock) return pool_->drop(*this);
    }
}

void BackendConnection::onTimer(std::uint32_t) {
    if (pool_) pool_->drop(*this);
}

BackendPool::~BackendPool() { closeAll(); }

void BackendPool::put(std::unique_ptr<BackendConnection> conn) {
    const config::BackendSettings& settings = conn->settings_->backend;
    const std::uint32_t max = settings.keepalive_max;
    if (max == 0 || !conn->backend_->takesNewConnections() || conn->transport_.peer_closed ||
        conn->transport_.eof)
        return BackendConnection::discard(std::move(conn), tls::Transport::CloseMode::Clean);
    Bucket& b = buckets_[conn->backend_.get()];
    if (b.count >= max) {
        BackendConnection* oldest = b.tail;
        unlink(b, *oldest);
        delete oldest;  // not on the stack: idle
    }
    BackendConnection* c = conn.release();  // owned by the pool while idle
    c->pool_ = this;
    c->user_ = nullptr;
    c->prev_ = nullptr;
    c->next_ = b.head;
    if (b.head) b.head->prev_ = c;
    b.head = c;
    if (!b.tail) b.tail = c;
    ++b.count;
    ++idle_;
    loop_.armAfter(c->idle_timer_, settings.keepalive_idle);
}

std::unique_ptr<BackendConnection> BackendPool::take(const upstream::Backend& backend,
                                                     const config::PoolConfig* settings) {
    auto it = buckets_.find(&backend);
    if (it == buckets_.end()) return nullptr;
    Bucket& b = it->second;
    for (BackendConnection* c = b.head; c;) {
        BackendConnection* next = c->next_;
        unlink(b, *c);
        std::unique_ptr<BackendConnection> conn(c);
        if (conn->settings_.get() != settings) {  // a reload changed them
            BackendConnection::discard(std::move(conn), tls::Transport::CloseMode::Clean);
            c = next;
            continue;
        }
        loop_.cancel(conn->idle_timer_);
        return conn;
    }
    return nullptr;
}

void BackendPool::unlink(Bucket& b, BackendConnection& c) {
    if (c.prev_)
        c.prev_->next_ = c.next_;
    else
        b.head = c.next_;
    if (c.next_)
        c.next_->prev_ = c.prev_;
    else
        b.tail = c.prev_;
    c.prev_ = c.next_ = nullptr;
    c.pool_ = nullptr;
    --b.count;
    --idle_;
}

void BackendPool::drop(BackendConnection& c) {
    const std::shared_ptr<upstream::Backend> backend = c.backend_;  // outlives `c`
    auto it = buckets_.find(backend.get());
    unlink(it->second, c);
    // The pool owned it while idle; its own handler may be on the stack.
    BackendConnection::discard(std::unique_ptr<BackendConnection>(&c),
                               tls::Transport::CloseMode::Clean);
    // A backend that takes no new connections (drained, removed) is forgotten once it has
    // nothing idle, so the table does not grow with every backend ever seen.
    if (it->second.count == 0 && !backend->takesNewConnections()) buckets_.erase(it);
}

void BackendPool::closeBackend(const upstream::Backend* backend) {
    auto it = buckets_.find(backend);
    if (it == buckets_.end()) return;
    while (BackendConnection* c = it->second.head) {
        unlink(it->second, *c);
        delete c;
    }
    buckets_.erase(it);
}

void BackendPool::closeAll() {
    for (auto& [backend, bucket] : buckets_) {
        while (BackendConnection* c = bucket.head) {
            unlink(bucket, *c);
            delete c;
        }
    }
    buckets_.clear();
}

std::size_t BackendPool::idleCount(const upstream::Backend& backend) const {
    auto it = buckets_.find(&backend);
    return it == buckets_.end() ? 0 : it->second.count;
}

}  // namespace postern::http
