#include "proxy/tcp_session.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "proxy/access_control.h"
#include "proxy/proxy_preface.h"
#include "tls/client_tls_context.h"
#include "tls/server_tls_context.h"

namespace postern::proxy {

using codec::ProxyHeaderInfo;

using std::chrono::duration_cast;
using std::chrono::milliseconds;

TcpSession::TcpSession(WorkerContext& worker, std::shared_ptr<const ListenerContext> listener,
                       const AcceptedConnection& accepted)
    : Session(worker, std::move(listener)),
      client_addr_(accepted.peer),
      client_slot_(accepted.client_slot),
      phase_timer_(this, kPhaseTimer),
      idle_timer_(this, kIdleTimer),
      drain_timer_(this, kDrainTimer),
      dialer_(worker, *listener_, *this, backend_.io, &backend_) {
    client_.session = this;
    client_.io.fd = accepted.fd;
    client_.is_client = true;
    backend_.session = this;
    started_ = last_activity_ = worker_.loop.now();
}

std::unique_ptr<Session> TcpSession::create(WorkerContext& worker,
                                            std::shared_ptr<const ListenerContext> listener,
                                            const AcceptedConnection& accepted) {
    return std::make_unique<TcpSession>(worker, std::move(listener), accepted);
}

TcpSession::~TcpSession() {
    worker_.buffers.put(client_.pending);
    worker_.buffers.put(backend_.pending);
#ifdef __linux__
    // Empty pipes went back to the pool as they emptied; these still hold bytes nobody takes.
    net::PipePool::discard(client_.pipe);
    net::PipePool::discard(backend_.pipe);
#endif
}

std::int64_t TcpSession::msSinceStart() const {
    return duration_cast<milliseconds>(worker_.loop.now() - started_).count();
}

void TcpSession::start() {
    if (!net::kAcceptInheritsNoDelay) net::setNoDelay(client_.io.fd);
    worker_.loop.add(client_.io.fd, &client_);
    if (listener_->config->accept_proxy) return beginProxyHeader();
    afterClientPreface();
}

// ---- PROXY header (accept_proxy) ---------------------------------------------------------------

void TcpSession::beginProxyHeader() {
    if (!listener_->config->trusted_proxies.contains(client_addr_)) {
        // Anyone else could claim to be anyone: refused, counted (not logged one by one: the
        // access log line says it, and a scan must not flood the log).
        listener_->stats->proxy_untrusted.fetch_add(1, std::memory_order_relaxed);
        return finish(CloseCause::ProxyUntrusted);
    }
    state_ = State::ProxyHeader;
    proxy_reader_ = std::make_unique<ProxyHeaderReader>();
    // The listener's own handshake timeout when it has one, else 5 s (the specification asks
    // for at least 3 s, to cover a TCP retransmit).
    const auto timeout =
        listener_->config->tls ? listener_->config->tls->handshake_timeout : config::Millis(5000);
    worker_.loop.armAfter(phase_timer_, timeout);
    readProxyHeader();  // the header may be there already
}

void TcpSession::readProxyHeader() {
    using Status = ProxyHeaderReader::Status;
    switch (proxy_reader_->read(client_.io.fd, {worker_.scratch, sizeof worker_.scratch},
                                client_.io.peer_closed)) {
        case Status::NeedMore:
            client_.io.readable = false;
            return;
        case Status::Invalid:
            return proxyHeaderFailed(CloseCause::ProxyInvalid, proxy_reader_->reason());
        case Status::Closed:
            // A peer that connects and leaves without a byte (a load balancer's TCP check) is
            // no error; one that stops halfway through a header is.
            if (proxy_reader_->received() == 0) return finish(CloseCause::ClientFin);
            return proxyHeaderFailed(CloseCause::ProxyInvalid, proxy_reader_->reason());
        case Status::Done:
            break;
    }
    worker_.loop.cancel(phase_timer_);
    const ProxyHeaderInfo& info = proxy_reader_->info();
    // PROXY UNKNOWN and v2 LOCAL keep the real endpoints, as the specification says.
    if (info.carriesAddresses()) {
        client_addr_ = info.source;
        proxy_destination_ = info.destination;
    }
    proxy_reader_.reset();
    // Access control applies to the carried address, so it waits for the header.
    const ClientAdmission admission = admitClient(*listener_, client_addr_, worker_.loop.now());
    if (admission.refused != AccessRefusal::None) return finish(closeCause(admission.refused));
    client_slot_ = admission.slot;
    client_.io.readable = true;  // the payload may already wait behind the header
    afterClientPreface();
}

void TcpSession::proxyHeaderFailed(CloseCause cause, std::string_view why) {
    auto& stats = *listener_->stats;
    (cause == CloseCause::ProxyTimeout ? stats.proxy_timeout : stats.proxy_invalid)
        .fetch_add(1, std::memory_order_relaxed);
    POSTERN_LOG(Warn, "PROXY header refused",
                "listener=" + common::logfmtValue(listener_->config->name) +
                    " peer=" + client_addr_.toString() + " error=" + common::logfmtValue(why));
    finish(cause);
}

// ---- client phase ------------------------------------------------------------------------------

void TcpSession::afterClientPreface() {
    if (!listener_->tls) return beginBackend();
    client_.io.tls = listener_->tls->accept(client_.io.fd);
    if (!client_.io.tls) return clientTlsFailed("cannot allocate a TLS connection");
    state_ = State::ClientHandshake;
    worker_.loop.armAfter(phase_timer_, listener_->config->tls->handshake_timeout);
    // The ClientHello may already be there: try now rather than wait for the first edge.
    clientHandshakeStep();
}

void TcpSession::clientHandshakeStep() {
    switch (client_.io.handshake()) {
        case net::IoStatus::Ok:
            worker_.loop.cancel(phase_timer_);
            tls_handshake_ms_ = msSinceStart();
            last_activity_ = worker_.loop.now();
            return beginBackend();
        case net::IoStatus::WouldBlock:
            return;
        default:
            return clientTlsFailed(client_.io.tls->failure());
    }
}

void TcpSession::clientTlsFailed(std::string_view why) {
    tls_error_ = why;
    listener_->stats->tls_handshake_failures.fetch_add(1, std::memory_order_relaxed);
    POSTERN_LOG(Debug, "client TLS handshake failed",
                "listener=" + common::logfmtValue(listener_->config->name) +
                    " client=" + client_addr_.toString() + " error=" + common::logfmtValue(why));
    finish(CloseCause::TlsFailed);
}

// ---- backend phase -----------------------------------------------------------------------------

void TcpSession::beginBackend() {
    state_ = State::Connecting;
    dialer_.start(*listener_->pool, client_addr_.ipHash());
}

void TcpSession::writePreface(const config::BackendSettings& settings, std::string& out) {
    ClientFacts facts;
    facts.source = client_addr_;
    // The address the client connected to: the one a trusted proxy in front reported, else this
    // listener's (a [::] listener reports the exact local address of each connection).
    facts.destination = proxy_destination_.family() != AF_UNSPEC ? proxy_destination_
                                                                 : net::localAddress(client_.io.fd);
    facts.tls = client_.io.tls.get();
    char id[32];
    facts.unique_id = formatUniqueId(worker_.random(), worker_.random(), id);
    buildProxyPreface(settings, facts, out);
}

void TcpSession::onDialFailed(CloseCause cause) { finish(cause); }

void TcpSession::onDialed() {
    state_ = State::Relaying;
    connect_ms_ = msSinceStart();
    last_activity_ = worker_.loop.now();
    worker_.loop.arm(idle_timer_, last_activity_ + listener_->config->idle_timeout);
    pump();
}

// ---- events ------------------------------------------------------------------------------------

void TcpSession::onIo(Side& side, std::uint32_t events) {
    if (state_ == State::Closed) return;
    side.io.noteEvents(events);
    switch (state_) {
        case State::Relaying:
            pump();
            // A client that resets while its upload is stalled (the backend takes nothing, so we
            // do not read the client) and while we have nothing to write to it is not seen by
            // any recv or send: this error event is the only news of it. Without this check the
            // session kept both connections until idle_timeout.
            if (state_ == State::Relaying && &side == &client_ && (events & net::kError))
                sideFailed(client_, net::IoStatus::Reset);
            return;
        case State::ProxyHeader:
            if (&side == &client_) readProxyHeader();
            return;
        case State::ClientHandshake:
            if (&side == &client_ && client_.io.handshakeMayProceed()) clientHandshakeStep();
            return;
        case State::Connecting:
            if (&side == &backend_ && dialer_.dialing()) dialer_.onIo(events);
            return;
        case State::Closed: return;
    }
}

void TcpSession::onTimer(std::uint32_t tag) {
    if (state_ == State::Closed) return;
    if (tag == kDrainTimer) return cutAtDeadline(drain_cause_);
    if (tag == kPhaseTimer) {
        if (state_ == State::ClientHandshake) return clientTlsFailed("handshake timeout");
        if (state_ == State::ProxyHeader)
            return proxyHeaderFailed(CloseCause::ProxyTimeout, "no complete PROXY header in time");
        return;
    }
    // Idle timer: re-armed lazily, so activity costs no timer operation.
    auto deadline = last_activity_ + listener_->config->idle_timeout;
    if (worker_.loop.now() >= deadline) return finish(CloseCause::IdleTimeout);
    worker_.loop.arm(idle_timer_, deadline);
}

// ---- relay -------------------------------------------------------------------------------------

void TcpSession::pump() {
    bool progress = true;
    for (int rounds = 0; progress && state_ == State::Relaying && rounds < 64; ++rounds) {
        progress = transfer(client_, backend_);
        if (state_ != State::Relaying) return;
        progress |= transfer(backend_, client_);
    }
    if (state_ != State::Relaying) return;
    if (client_.io.eof && backend_.io.eof && client_.io.shut && backend_.io.shut &&
        client_.pending_len == 0 && backend_.pending_len == 0 && client_.pipe_len == 0 &&
        backend_.pipe_len == 0)
        finish(first_fin_);
}

bool TcpSession::flushPending(Side& dst) {
    while (dst.pending_len > 0) {
        if (!dst.io.canWrite()) return false;
        auto r = dst.io.write(dst.pending + dst.pending_off, dst.pending_len);
        if (r.status == net::IoStatus::WouldBlock) return false;
        if (r.status != net::IoStatus::Ok) {
            sideFailed(dst, r.status);
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
#ifdef __linux__
    if (dst.splicing) return spliceTransfer(src, dst) || progress;
#endif
    while (src.io.canRead() && !src.io.eof) {
        auto r = src.io.read(worker_.scratch, sizeof worker_.scratch);
        if (r.status == net::IoStatus::WouldBlock) break;
        if (r.status != net::IoStatus::Ok) {
            if (!readEnded(src, r)) return false;  // failed: the session is closed
            progress = true;
            break;
        }
        progress = true;
        last_activity_ = worker_.loop.now();
        if (src.is_client) {
            bytes_in_ += r.bytes;
        } else if (first_byte_ms_ < 0) {
            first_byte_ms_ = msSinceStart();
        }
        // A short read drained the socket (edge-triggered): the next byte raises a new edge.
        if (src.io.drainedAfter(r, sizeof worker_.scratch)) src.io.readable = false;
        // A full buffer: bulk data. Between two plain sockets the rest of it moves through a
        // pipe (from the next round on: these bytes are in user space already). Small
        // request/response traffic never fills the buffer and keeps recv/send (one call each;
        // a splice costs two and a pipe).
        if (r.bytes == sizeof worker_.scratch && worker_.splice && !src.io.tls && !dst.io.tls)
            dst.splicing = true;
        std::size_t sent = 0;
        if (dst.io.canWrite()) {
            auto w = dst.io.write(worker_.scratch, r.bytes);
            if (w.status == net::IoStatus::Ok) {
                sent = w.bytes;
            } else if (w.status != net::IoStatus::WouldBlock) {
                sideFailed(dst, w.status);
                return false;
            }
        }
        if (&dst == &client_) bytes_out_ += sent;
        if (sent < r.bytes) {
            stash(dst, worker_.scratch + sent, r.bytes - sent);
            return true;  // backpressure until dst drains
        }
        if (dst.splicing) return true;  // pump() calls again: spliceTransfer from now on
    }
    return endDirection(src, dst) || progress;
}

#ifdef __linux__
bool TcpSession::spliceTransfer(Side& src, Side& dst) {
    bool progress = false;
    for (;;) {
        if (dst.pipe_len > 0) {
            if (!dst.io.writable)
                break;  // backpressure: src stays unread while the pipe holds bytes
            auto w = net::spliceFromPipe(*dst.pipe, dst.io.fd, dst.pipe_len);
            if (w.status == net::IoStatus::WouldBlock) {
                dst.io.writable = false;
                break;
            }
            if (w.status != net::IoStatus::Ok) {
                sideFailed(dst, w.status);
                return false;
            }
            dst.pipe_len -= static_cast<std::uint32_t>(w.bytes);
            if (&dst == &client_) bytes_out_ += w.bytes;
            progress = true;
            last_activity_ = worker_.loop.now();
            if (dst.pipe_len > 0) {
                // A short splice stopped at a full send buffer (the kernel tried again and got
                // EAGAIN): the next writable edge resumes it.
                dst.io.writable = false;
                break;
            }
        }
        if (!src.io.readable || src.io.eof) break;
        if (!dst.pipe) {
            dst.pipe = worker_.pipes.get();
            if (!dst.pipe) {  // out of descriptors: copy through user space instead
                dst.splicing = false;
                return transfer(src, dst) || progress;
            }
        }
        // Into an empty pipe only, so EAGAIN means the socket has nothing. Unlike recv, a short
        // count does not prove the socket drained (the pipe's slots may have run out first):
        // read on until EAGAIN.
        auto r = net::spliceToPipe(src.io.fd, *dst.pipe, net::PipePool::kPipeSize);
        if (r.status == net::IoStatus::WouldBlock) {
            src.io.readable = false;
            break;
        }
        if (r.status != net::IoStatus::Ok) {
            if (!readEnded(src, r)) return false;  // failed: the session is closed
            progress = true;
            break;
        }
        dst.pipe_len += static_cast<std::uint32_t>(r.bytes);
        if (src.is_client) bytes_in_ += r.bytes;
        progress = true;
        last_activity_ = worker_.loop.now();
    }
    if (dst.pipe && dst.pipe_len == 0) {
        worker_.pipes.put(dst.pipe);
        dst.pipe = nullptr;
    }
    return endDirection(src, dst) || progress;
}
#endif

bool TcpSession::readEnded(Side& src, const net::IoResult& r) {
    if (r.status != net::IoStatus::Eof) {
        sideFailed(src, r.status);
        return false;
    }
    src.io.eof = true;
    src.io.readable = false;
    if (!fin_seen_) {
        fin_seen_ = true;
        first_fin_ = src.is_client ? CloseCause::ClientFin : CloseCause::BackendFin;
    }
    return true;
}

bool TcpSession::endDirection(Side& src, Side& dst) {
    bool progress = false;
    if (src.io.eof && !dst.io.shut && dst.pending_len == 0 && dst.pipe_len == 0) {
        if (!dst.io.tls && dst.io.eof && src.io.shut && src.pending_len == 0 && src.pipe_len == 0) {
            // The other direction has ended too: the session closes in this pump and close()
            // sends the FIN (dst's receive queue is empty: we read it to its end). One
            // shutdown call less per connection.
            dst.io.shut = true;
            progress = true;
        } else if (dst.io.closeWrite()) {
            progress = true;
        }
    }
    return progress;
}

void TcpSession::sideFailed(Side& side, net::IoStatus status) {
    if (side.is_client) {
        if (side.io.tls && status == net::IoStatus::Error) {
            tls_error_ = side.io.tls->failure();  // a TLS protocol error, not a TCP reset
            return finish(CloseCause::TlsFailed);
        }
        finish(client_.io.eof ? CloseCause::ClientFin : CloseCause::ClientReset);
    } else {
        finish(CloseCause::BackendReset);
    }
}

void TcpSession::abortForShutdown() {
    if (state_ != State::Closed) cutAtDeadline(CloseCause::Shutdown);
}

config::Millis TcpSession::drainTimeout() const { return dialer_.drainTimeout(*listener_->pool); }

void TcpSession::drainBy(net::Clock::time_point cut, CloseCause cause) {
    if (state_ == State::Closed) return;
    if (cut <= worker_.loop.now()) return cutAtDeadline(cause);
    // An earlier cut already scheduled (e.g. its backend drains, then its listener) stands.
    if (drain_timer_.armed() && drain_timer_.deadline() <= cut) return;
    drain_cause_ = cause;
    worker_.loop.arm(drain_timer_, cut);
}

void TcpSession::cancelDrain() {
    if (state_ != State::Closed) worker_.loop.cancel(drain_timer_);
}

void TcpSession::cutAtDeadline(CloseCause cause) {
    // A FIN would tell a client mid-download that the stream is complete: while bytes are in
    // flight the cut is a reset, as a backend reset is passed on; an idle connection gets a FIN.
    reset_on_close_ = bytesInFlight();
    finish(cause);
}

bool TcpSession::bytesInFlight() const {
    for (const Side* s : {&client_, &backend_}) {
        if (s->pending_len > 0 || s->pipe_len > 0) return true;
        if (s->io.bytesInFlight()) return true;
    }
    return false;
}

void TcpSession::finish(CloseCause cause) {
    if (state_ == State::Closed) return;
    bool was_connected = state_ == State::Relaying;
    state_ = State::Closed;
    worker_.loop.cancel(phase_timer_);
    worker_.loop.cancel(idle_timer_);
    worker_.loop.cancel(drain_timer_);
    dialer_.cancel();
    // Resets and TLS failures end abruptly; any other end of a TLS side says close_notify first
    // (one non-blocking attempt: an unsent alert is not worth waiting for). A backend reset, or a
    // stream cut mid-flight, must not look like a clean end of stream to the client.
    using Mode = tls::Transport::CloseMode;
    const Mode mode = reset_on_close_ ? Mode::Reset : isAbrupt(cause) ? Mode::Abrupt : Mode::Clean;
    backend_.io.close(worker_.loop, mode);
    client_.io.close(worker_.loop, cause == CloseCause::BackendReset ? Mode::Reset : mode);
    releaseClient(*listener_, client_slot_);
    client_slot_ = ClientLimits::kNoSlot;
    auto& stats = *listener_->stats;
    stats.active.fetch_sub(1, std::memory_order_relaxed);
    stats.bytes_in.fetch_add(bytes_in_, std::memory_order_relaxed);
    stats.bytes_out.fetch_add(bytes_out_, std::memory_order_relaxed);
    stats.countClose(cause);
    if (worker_.global_active) worker_.global_active->fetch_sub(1, std::memory_order_relaxed);
    if (worker_.access_log && worker_.access_log->enabled()) {
        std::string client = client_addr_.toString();
        AccessRecord rec;
        rec.listener = listener_->config->name;
        rec.client = client;
        rec.pool = listener_->pool->name();
        rec.backend = (was_connected && dialer_.backend())
                          ? std::string_view(dialer_.backend()->address_text)
                          : std::string_view();
        rec.bytes_in = bytes_in_;
        rec.bytes_out = bytes_out_;
        rec.connect_ms = connect_ms_;
        rec.first_byte_ms = first_byte_ms_;
        rec.total_ms = msSinceStart();
        rec.attempts = dialer_.attempts();
        rec.cause = closeCauseName(cause);
        if (listener_->tls) {
            rec.tls = true;
            rec.tls_handshake_ms = tls_handshake_ms_;
            rec.tls_error = tls_error_;
            if (client_.io.tls) {
                rec.sni = client_.io.tls->serverName();
                rec.alpn = client_.io.tls->alpn();
                if (tls_handshake_ms_ >= 0) rec.tls_version = client_.io.tls->version();
            }
        }
        worker_.access_log->write(rec);
    }
    dialer_.release();
    retire();
}

}  // namespace postern::proxy
