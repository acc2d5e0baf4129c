#include "proxy/relay.h"

#include <algorithm>
#include <cstring>

#include "proxy/worker_context.h"

namespace postern::proxy {

namespace {

/** A duration that arms a timer: neither zero nor config::kUnlimited (which would overflow). */
bool limited(config::Millis d) { return d.count() > 0 && d != config::kUnlimited; }

}  // namespace

Relay::Relay(WorkerContext& worker, Owner& owner, tls::Transport& client, tls::Transport& backend)
    : worker_(worker), owner_(owner), client_(client), backend_(backend), timer_(this, 0) {
    to_client_.to_client = true;
}

Relay::~Relay() {
    stop();
    worker_.buffers.put(to_client_.pending);
    worker_.buffers.put(to_backend_.pending);
#ifdef __linux__
    // Empty pipes went back to the pool as they emptied; these still hold bytes nobody takes.
    net::PipePool::discard(to_client_.pipe);
    net::PipePool::discard(to_backend_.pipe);
#endif
}

bool Relay::preload(Side to, std::string_view bytes) {
    Outbox& out = to == Side::Client ? to_client_ : to_backend_;
    const std::size_t end = out.pending_off + out.pending_len;
    if (active_ || bytes.size() > BufferPool::kBufferSize - end) return false;
    if (bytes.empty()) return true;
    if (!out.pending) out.pending = worker_.buffers.get();
    std::memcpy(out.pending + end, bytes.data(), bytes.size());
    out.pending_len += static_cast<std::uint32_t>(bytes.size());
    return true;
}

void Relay::start(const Settings& settings) {
    active_ = true;
    last_activity_ = worker_.loop.now();
    idle_timeout_ = limited(settings.idle_timeout) ? settings.idle_timeout : config::Millis(0);
    idle_cause_ = settings.idle_cause;
    session_end_ = limited(settings.max_session) ? last_activity_ + settings.max_session
                                                 : net::Clock::time_point::max();
    max_session_cause_ = settings.max_session_cause;
    armTimer();
    pump();
}

void Relay::armTimer() {
    auto at = session_end_;
    if (idle_timeout_.count() > 0) at = std::min(at, last_activity_ + idle_timeout_);
    if (at != net::Clock::time_point::max()) worker_.loop.arm(timer_, at);
}

void Relay::onIo(Side side, std::uint32_t events) {
    if (!active_) return;
    pump();
    // A client that resets while its upload is stalled (the backend takes nothing, so we do not
    // read the client) and while we have nothing to write to it is not seen by any recv or send:
    // this error event is the only news of it. Without this check the relay kept both
    // connections until the idle timeout.
    if (active_ && side == Side::Client && (events & net::kError))
        sideFailed(client_, net::IoStatus::Reset);
}

void Relay::onTimer(std::uint32_t) {
    if (!active_) return;
    const auto now = worker_.loop.now();
    if (now >= session_end_) return end(max_session_cause_);
    // The idle deadline moved with every activity since the timer was armed.
    if (idle_timeout_.count() > 0 && now >= last_activity_ + idle_timeout_) return end(idle_cause_);
    armTimer();
}

void Relay::cut(CloseCause cause) {
    if (!active_) return;
    // A FIN would tell a client mid-download that the stream is complete: while bytes are in
    // flight the cut is a reset, as a backend reset is passed on; an idle stream gets a FIN.
    end(cause, bytesInFlight());
}

void Relay::stop() {
    if (!active_) return;
    active_ = false;
    worker_.loop.cancel(timer_);
}

void Relay::end(CloseCause cause, bool cut) {
    stop();
    owner_.onRelayEnd(cause, cut);
}

bool Relay::bytesInFlight() const {
    for (const Outbox* o : {&to_client_, &to_backend_})
        if (o->pending_len > 0 || o->pipe_len > 0) return true;
    return client_.bytesInFlight() || backend_.bytesInFlight();
}

void Relay::pump() {
    bool progress = true;
    for (int rounds = 0; progress && active_ && rounds < 64; ++rounds) {
        progress = transfer(client_, backend_, to_backend_, to_client_);
        if (!active_) return;
        progress |= transfer(backend_, client_, to_client_, to_backend_);
    }
    if (!active_) return;
    if (client_.eof && backend_.eof && client_.shut && backend_.shut &&
        to_client_.pending_len == 0 && to_backend_.pending_len == 0 && to_client_.pipe_len == 0 &&
        to_backend_.pipe_len == 0)
        end(first_fin_);
}

bool Relay::flushPending(tls::Transport& dst, Outbox& out) {
    while (out.pending_len > 0) {
        if (!dst.canWrite()) return false;
        auto r = dst.write(out.pending + out.pending_off, out.pending_len);
        if (r.status == net::IoStatus::WouldBlock) return false;
        if (r.status != net::IoStatus::Ok) {
            sideFailed(dst, r.status);
            return false;
        }
        out.pending_off += static_cast<std::uint32_t>(r.bytes);
        out.pending_len -= static_cast<std::uint32_t>(r.bytes);
        if (out.to_client) bytes_out_ += r.bytes;
        last_activity_ = worker_.loop.now();
    }
    worker_.buffers.put(out.pending);
    out.pending = nullptr;
    out.pending_off = 0;
    return true;
}

void Relay::stash(Outbox& out, const char* data, std::size_t len) {
    if (!out.pending) out.pending = worker_.buffers.get();
    std::memcpy(out.pending, data, len);
    out.pending_off = 0;
    out.pending_len = static_cast<std::uint32_t>(len);
}

bool Relay::transfer(tls::Transport& src, tls::Transport& dst, Outbox& out, const Outbox& back) {
    bool progress = false;
    if (out.pending_len > 0) {
        std::uint32_t before = out.pending_len;
        bool drained = flushPending(dst, out);
        if (!active_) return false;
        progress = out.pending_len != before;
        if (!drained) return progress;  // backpressure: leave src unread
    }
#ifdef __linux__
    if (out.splicing) return spliceTransfer(src, dst, out, back) || progress;
#endif
    while (src.canRead() && !src.eof) {
        auto r = src.read(worker_.scratch, sizeof worker_.scratch);
        if (r.status == net::IoStatus::WouldBlock) break;
        if (r.status != net::IoStatus::Ok) {
            if (!readEnded(src, out, r)) return false;  // failed: the relay has ended
            progress = true;
            break;
        }
        progress = true;
        last_activity_ = worker_.loop.now();
        if (!out.to_client) {
            bytes_in_ += r.bytes;
        } else if (first_backend_byte_ == net::Clock::time_point{}) {
            first_backend_byte_ = last_activity_;
        }
        // A short read drained the socket (edge-triggered): the next byte raises a new edge.
        if (src.drainedAfter(r, sizeof worker_.scratch)) src.readable = false;
        // A full buffer: bulk data. Between two plain sockets the rest of it moves through a
        // pipe (from the next round on: these bytes are in user space already). Small
        // request/response traffic never fills the buffer and keeps recv/send (one call each;
        // a splice costs two and a pipe).
        if (r.bytes == sizeof worker_.scratch && worker_.splice && !src.tls && !dst.tls)
            out.splicing = true;
        std::size_t sent = 0;
        if (dst.canWrite()) {
            auto w = dst.write(worker_.scratch, r.bytes);
            if (w.status == net::IoStatus::Ok) {
                sent = w.bytes;
            } else if (w.status != net::IoStatus::WouldBlock) {
                sideFailed(dst, w.status);
                return false;
            }
        }
        if (out.to_client) bytes_out_ += sent;
        if (sent < r.bytes) {
            stash(out, worker_.scratch + sent, r.bytes - sent);
            return true;  // backpressure until dst drains
        }
        if (out.splicing) return true;  // pump() calls again: spliceTransfer from now on
    }
    return endDirection(src, dst, out, back) || progress;
}

#ifdef __linux__
bool Relay::spliceTransfer(tls::Transport& src, tls::Transport& dst, Outbox& out,
                           const Outbox& back) {
    bool progress = false;
    for (;;) {
        if (out.pipe_len > 0) {
            if (!dst.writable) break;  // backpressure: src stays unread while the pipe holds bytes
            auto w = net::spliceFromPipe(*out.pipe, dst.fd, out.pipe_len);
            if (w.status == net::IoStatus::WouldBlock) {
                dst.writable = false;
                break;
            }
            if (w.status != net::IoStatus::Ok) {
                sideFailed(dst, w.status);
                return false;
            }
            out.pipe_len -= static_cast<std::uint32_t>(w.bytes);
            if (out.to_client) bytes_out_ += w.bytes;
            progress = true;
            last_activity_ = worker_.loop.now();
            if (out.pipe_len > 0) {
                // A short splice stopped at a full send buffer (the kernel tried again and got
                // EAGAIN): the next writable edge resumes it.
                dst.writable = false;
                break;
            }
        }
        if (!src.readable || src.eof) break;
        if (!out.pipe) {
            out.pipe = worker_.pipes.get();
            if (!out.pipe) {  // out of descriptors: copy through user space instead
                out.splicing = false;
                return transfer(src, dst, out, back) || progress;
            }
        }
        // Into an empty pipe only, so EAGAIN means the socket has nothing. Unlike recv, a short
        // count does not prove the socket drained (the pipe's slots may have run out first):
        // read on until EAGAIN.
        auto r = net::spliceToPipe(src.fd, *out.pipe, net::PipePool::kPipeSize);
        if (r.status == net::IoStatus::WouldBlock) {
            src.readable = false;
            break;
        }
        if (r.status != net::IoStatus::Ok) {
            if (!readEnded(src, out, r)) return false;  // failed: the relay has ended
            progress = true;
            break;
        }
        out.pipe_len += static_cast<std::uint32_t>(r.bytes);
        if (!out.to_client) bytes_in_ += r.bytes;
        progress = true;
        last_activity_ = worker_.loop.now();
    }
    if (out.pipe && out.pipe_len == 0) {
        worker_.pipes.put(out.pipe);
        out.pipe = nullptr;
    }
    return endDirection(src, dst, out, back) || progress;
}
#endif

bool Relay::readEnded(tls::Transport& src, const Outbox& out, const net::IoResult& r) {
    if (r.status != net::IoStatus::Eof) {
        sideFailed(src, r.status);
        return false;
    }
    src.eof = true;
    src.readable = false;
    if (!fin_seen_) {
        fin_seen_ = true;
        first_fin_ = out.to_client ? CloseCause::BackendFin : CloseCause::ClientFin;
    }
    return true;
}

bool Relay::endDirection(tls::Transport& src, tls::Transport& dst, const Outbox& out,
                         const Outbox& back) {
    bool progress = false;
    if (src.eof && !dst.shut && out.pending_len == 0 && out.pipe_len == 0) {
        if (!dst.tls && dst.eof && src.shut && back.pending_len == 0 && back.pipe_len == 0) {
            // The other direction has ended too: the relay ends in this pump and the owner's
            // close sends the FIN (dst's receive queue is empty: we read it to its end). One
            // shutdown call less per connection.
            dst.shut = true;
            progress = true;
        } else if (dst.closeWrite()) {
            progress = true;
        }
    }
    return progress;
}

void Relay::sideFailed(tls::Transport& side, net::IoStatus status) {
    if (&side == &client_) {
        // A TLS protocol error, not a TCP reset (the owner finds why in the client's stream).
        if (side.tls && status == net::IoStatus::Error) return end(CloseCause::TlsFailed);
        end(client_.eof ? CloseCause::ClientFin : CloseCause::ClientReset);
    } else {
        end(CloseCause::BackendReset);
    }
}

}  // namespace postern::proxy
