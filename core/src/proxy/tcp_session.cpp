#include "proxy/tcp_session.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"

namespace postern::proxy {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

TcpSession::TcpSession(WorkerContext& worker, const ListenerContext& listener, net::Fd client_fd,
                       const net::SocketAddress& client)
    : worker_(worker),
      listener_(listener),
      client_addr_(client),
      connect_timer_(this, kConnectTimer),
      idle_timer_(this, kIdleTimer) {
    client_.session = this;
    client_.fd = client_fd;
    client_.is_client = true;
    backend_.session = this;
    started_ = last_activity_ = worker_.loop.now();
    // Link into the worker's list.
    next = worker_.sessions;
    if (next) next->prev = this;
    worker_.sessions = this;
    ++worker_.session_count;
}

TcpSession::~TcpSession() {
    worker_.buffers.put(client_.pending);
    worker_.buffers.put(backend_.pending);
}

std::int64_t TcpSession::msSinceStart() const {
    return duration_cast<milliseconds>(worker_.loop.now() - started_).count();
}

void TcpSession::start() {
    net::setNoDelay(client_.fd);
    worker_.loop.add(client_.fd, &client_);
    snapshot_ = listener_.pool->snapshot();
    connectNext();
}

void TcpSession::connectNext() {
    const auto& pool = *listener_.pool;
    const auto& backend_cfg = pool.config().backend;
    while (state_ == State::Connecting) {
        upstream::PickFailure why = upstream::PickFailure::None;
        auto backend = pool.pick(*snapshot_, client_addr_.ipHash(), worker_.random(), tried_, &backend_index_, &why);
        if (!backend) {
            if (attempts_ > 0) {
                listener_.stats->connect_failed.fetch_add(1, std::memory_order_relaxed);
                return finish("connect_failed");
            }
            if (why == upstream::PickFailure::Capacity) {
                listener_.stats->refused_capacity.fetch_add(1, std::memory_order_relaxed);
                return finish("no_capacity");
            }
            listener_.stats->refused_no_backend.fetch_add(1, std::memory_order_relaxed);
            return finish("no_backend");
        }
        ++attempts_;
        backend_ref_ = std::move(backend);
        tried_.push_back(backend_ref_.get());
        int err = 0;
        backend_.fd = net::connectStart(backend_ref_->address, &err);
        if (backend_.fd == net::kInvalidFd) {
            connectFailed("connect", err);
            continue;  // connectFailed() either released and retries here, or finished
        }
        net::setNoDelay(backend_.fd);
        worker_.loop.add(backend_.fd, &backend_);
        worker_.loop.armAfter(connect_timer_, backend_cfg.connect_timeout);
        return;
    }
}

void TcpSession::connectFailed(const char* why, int err) {
    auto& b = *backend_ref_;
    b.connect_failures.fetch_add(1, std::memory_order_relaxed);
    POSTERN_LOG(Debug, "backend connect failed",
                "listener=" + common::logfmtValue(listener_.config->name) + " pool=" +
                    common::logfmtValue(listener_.pool->name()) + " backend=" + b.address_text + " error=" +
                    common::logfmtValue(std::string(why) + (err ? ": " + net::errorText(err) : "")));
    if (backend_.fd != net::kInvalidFd) {
        worker_.loop.remove(backend_.fd);
        net::closeFd(backend_.fd);
        backend_.fd = net::kInvalidFd;
    }
    backend_.readable = backend_.writable = backend_.peer_closed = false;
    worker_.loop.cancel(connect_timer_);
    listener_.pool->release(*snapshot_, backend_index_, b);
    backend_ref_.reset();
    if (attempts_ > listener_.pool->config().backend.retries) {
        listener_.stats->connect_failed.fetch_add(1, std::memory_order_relaxed);
        finish("connect_failed");
    }
}

void TcpSession::onIo(Side& side, std::uint32_t events) {
    if (state_ == State::Closed) return;
    if (events & net::kReadable) side.readable = true;
    if (events & net::kWritable) side.writable = true;
    if (events & net::kPeerClosed) side.peer_closed = true;
    if (state_ == State::Connecting) {
        if (&side == &backend_ && (events & (net::kWritable | net::kError | net::kHangup))) {
            int err = net::socketError(backend_.fd);
            if (err != 0 || (events & net::kHangup)) {
                connectFailed("connect", err);
                connectNext();
                return;
            }
            onConnected();
        }
        return;
    }
    pump();
}

void TcpSession::onConnected() {
    worker_.loop.cancel(connect_timer_);
    state_ = State::Relaying;
    connect_ms_ = msSinceStart();
    backend_ref_->connections_total.fetch_add(1, std::memory_order_relaxed);
    last_activity_ = worker_.loop.now();
    worker_.loop.arm(idle_timer_, last_activity_ + listener_.config->idle_timeout);
    pump();
}

void TcpSession::onTimer(std::uint32_t tag) {
    if (state_ == State::Closed) return;
    if (tag == kConnectTimer) {
        if (state_ != State::Connecting) return;
        connectFailed("connect timeout", 0);
        connectNext();
        return;
    }
    // Idle timer: re-armed lazily, so activity costs no timer operation.
    auto deadline = last_activity_ + listener_.config->idle_timeout;
    if (worker_.loop.now() >= deadline) return finish("idle_timeout");
    worker_.loop.arm(idle_timer_, deadline);
}

void TcpSession::pump() {
    bool progress = true;
    for (int rounds = 0; progress && state_ == State::Relaying && rounds < 64; ++rounds) {
        progress = transfer(client_, backend_);
        if (state_ != State::Relaying) return;
        progress |= transfer(backend_, client_);
    }
    if (state_ != State::Relaying) return;
    if (client_.eof && backend_.eof && client_.pending_len == 0 && backend_.pending_len == 0)
        finish(first_fin_.empty() ? std::string_view("client_fin") : first_fin_);
}

bool TcpSession::flushPending(Side& dst) {
    while (dst.pending_len > 0) {
        if (!dst.writable) return false;
        auto r = net::sendSome(dst.fd, dst.pending + dst.pending_off, dst.pending_len);
        if (r.status == net::IoStatus::WouldBlock) {
            dst.writable = false;
            return false;
        }
        if (r.status != net::IoStatus::Ok) {
            sideFailed(dst);
            return false;
        }
        dst.pending_off += static_cast<std::uint32_t>(r.bytes);
        dst.pending_len -= static_cast<std::uint32_t>(r.bytes);
        if (&dst == &client_) bytes_out_ += r.bytes;
        last_activity_ = worker_.loop.now();
    }
    worker_.buffers.put(dst.pending);
    dst.pending = nullptr;
    dst.pending_off = 0;
    return true;
}

void TcpSession::stash(Side& dst, const char* data, std::size_t len) {
    if (!dst.pending) dst.pending = worker_.buffers.get();
    std::memcpy(dst.pending, data, len);
    dst.pending_off = 0;
    dst.pending_len = static_cast<std::uint32_t>(len);
}

bool TcpSession::transfer(Side& src, Side& dst) {
    bool progress = false;
    if (dst.pending_len > 0) {
        std::uint32_t before = dst.pending_len;
        bool drained = flushPending(dst);
        if (state_ != State::Relaying) return false;
        progress = dst.pending_len != before;
        if (!drained) return progress;  // backpressure: leave src unread
    }
    while (src.readable && !src.eof) {
        auto r = net::recvSome(src.fd, worker_.scratch, sizeof worker_.scratch);
        if (r.status == net::IoStatus::WouldBlock) {
            src.readable = false;
            break;
        }
        if (r.status == net::IoStatus::Eof) {
            src.eof = true;
            src.readable = false;
            if (first_fin_.empty()) first_fin_ = src.is_client ? "client_fin" : "backend_fin";
            progress = true;
            break;
        }
        if (r.status != net::IoStatus::Ok) {
            sideFailed(src);
            return false;
        }
        progress = true;
        last_activity_ = worker_.loop.now();
        if (src.is_client) {
            bytes_in_ += r.bytes;
        } else if (first_byte_ms_ < 0) {
            first_byte_ms_ = msSinceStart();
        }
        // A short read drained the socket (edge-triggered): unless a FIN is queued behind it,
        // the next byte will raise a new edge.
        if (r.bytes < sizeof worker_.scratch && !src.peer_closed) src.readable = false;
        std::size_t sent = 0;
        if (dst.writable) {
            auto w = net::sendSome(dst.fd, worker_.scratch, r.bytes);
            if (w.status == net::IoStatus::Ok) {
                sent = w.bytes;
            } else if (w.status == net::IoStatus::WouldBlock) {
                dst.writable = false;
            } else {
                sideFailed(dst);
                return false;
            }
        }
        if (&dst == &client_) bytes_out_ += sent;
        if (sent < r.bytes) {
            if (sent > 0) dst.writable = false;  // a short write means the send buffer is full
            stash(dst, worker_.scratch + sent, r.bytes - sent);
            return true;  // backpressure until dst drains
        }
    }
    if (src.eof && !dst.shut && dst.pending_len == 0) {
        net::shutdownWrite(dst.fd);
        dst.shut = true;
        progress = true;
    }
    return progress;
}

void TcpSession::sideFailed(Side& side) {
    if (side.is_client) {
        finish(client_.eof ? std::string_view("client_fin") : std::string_view("client_reset"));
    } else {
        finish("backend_reset");
    }
}

void TcpSession::abortForShutdown() {
    if (state_ != State::Closed) finish("shutdown");
}

void TcpSession::finish(std::string_view cause) {
    if (state_ == State::Closed) return;
    bool was_connected = state_ == State::Relaying;
    state_ = State::Closed;
    worker_.loop.cancel(connect_timer_);
    worker_.loop.cancel(idle_timer_);
    if (backend_.fd != net::kInvalidFd) {
        worker_.loop.remove(backend_.fd);
        net::closeFd(backend_.fd);
        backend_.fd = net::kInvalidFd;
    }
    if (client_.fd != net::kInvalidFd) {
        worker_.loop.remove(client_.fd);
        // A backend reset must not look like a clean end of stream to the client.
        if (cause == "backend_reset") net::closeWithReset(client_.fd);
        else net::closeFd(client_.fd);
        client_.fd = net::kInvalidFd;
    }
    if (backend_ref_) {
        listener_.pool->release(*snapshot_, backend_index_, *backend_ref_);
    }
    auto& stats = *listener_.stats;
    stats.active.fetch_sub(1, std::memory_order_relaxed);
    stats.bytes_in.fetch_add(bytes_in_, std::memory_order_relaxed);
    stats.bytes_out.fetch_add(bytes_out_, std::memory_order_relaxed);
    if (worker_.global_active) worker_.global_active->fetch_sub(1, std::memory_order_relaxed);
    if (worker_.access_log && worker_.access_log->enabled()) {
        std::string client = client_addr_.toString();
        AccessRecord rec;
        rec.listener = listener_.config->name;
        rec.client = client;
        rec.pool = listener_.pool->name();
        rec.backend = (was_connected && backend_ref_) ? std::string_view(backend_ref_->address_text)
                                                      : std::string_view();
        rec.bytes_in = bytes_in_;
        rec.bytes_out = bytes_out_;
        rec.connect_ms = connect_ms_;
        rec.first_byte_ms = first_byte_ms_;
        rec.total_ms = msSinceStart();
        rec.attempts = attempts_;
        rec.cause = cause;
        worker_.access_log->write(rec);
    }
    backend_ref_.reset();
    // Unlink and let the loop free us after this dispatch round.
    if (prev) prev->next = next;
    else worker_.sessions = next;
    if (next) next->prev = prev;
    prev = next = nullptr;
    --worker_.session_count;
    worker_.loop.destroyLater(this);
}

}  // namespace postern::proxy
