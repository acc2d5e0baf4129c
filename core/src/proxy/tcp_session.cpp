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
      drain_timer_(this, kDrainTimer) {
    client_.session = this;
    client_.fd = accepted.fd;
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
    if (!net::kAcceptInheritsNoDelay) net::setNoDelay(client_.fd);
    worker_.loop.add(client_.fd, &client_);
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
    switch (proxy_reader_->read(client_.fd, {worker_.scratch, sizeof worker_.scratch},
                                client_.peer_closed)) {
        case Status::NeedMore:
            client_.readable = false;
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
    client_.readable = true;  // the payload may already wait behind the header
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
    client_.tls = listener_->tls->accept(client_.fd);
    if (!client_.tls) return clientTlsFailed("cannot allocate a TLS connection");
    state_ = State::ClientHandshake;
    worker_.loop.armAfter(phase_timer_, listener_->config->tls->handshake_timeout);
    // The ClientHello may already be there: try now rather than wait for the first edge.
    clientHandshakeStep();
}

void TcpSession::clientHandshakeStep() {
    switch (client_.tls->handshake()) {
        case net::IoStatus::Ok:
            // The read that took the client's Finished may have taken its first records too
            // (read-ahead), and this step may not have run on a readable edge (the first one runs
            // right after accept): the socket is drained, so only OpenSSL knows they are there.
            if (client_.tls->buffered()) client_.readable = true;
            worker_.loop.cancel(phase_timer_);
            tls_handshake_ms_ = msSinceStart();
            last_activity_ = worker_.loop.now();
            return beginBackend();
        case net::IoStatus::WouldBlock:
            noteTlsWait(client_);
            return;
        default:
            return clientTlsFailed(client_.tls->failure());
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
    snapshot_ = listener_->pool->snapshot();
    if (snapshot_->config->backend.proxy_protocol != config::ProxyProtocol::Off)
        buildProxyPreface();
    connectNext();
}

void TcpSession::buildProxyPreface() {
    ClientFacts facts;
    facts.source = client_addr_;
    // The address the client connected to: the one a trusted proxy in front reported, else this
    // listener's (a [::] listener reports the exact local address of each connection).
    facts.destination = proxy_destination_.family() != AF_UNSPEC ? proxy_destination_
                                                                 : net::localAddress(client_.fd);
    facts.tls = client_.tls.get();
    char id[32];
    facts.unique_id = formatUniqueId(worker_.random(), worker_.random(), id);
    proxy::buildProxyPreface(snapshot_->config->backend, facts, backend_preface_);
}

void TcpSession::connectNext() {
    const auto& pool = *listener_->pool;
    const auto& backend_cfg = snapshot_->config->backend;
    while (state_ == State::Connecting) {
        upstream::PickFailure why = upstream::PickFailure::None;
        auto backend = pool.pick(*snapshot_, client_addr_.ipHash(), worker_.random(), tried_, &backend_index_, &why);
        if (!backend) {
            if (attempts_ > 0) {
                listener_->stats->connect_failed.fetch_add(1, std::memory_order_relaxed);
                return finish(CloseCause::ConnectFailed);
            }
            if (why == upstream::PickFailure::Capacity) {
                listener_->stats->refused_capacity.fetch_add(1, std::memory_order_relaxed);
                return finish(CloseCause::NoCapacity);
            }
            listener_->stats->refused_no_backend.fetch_add(1, std::memory_order_relaxed);
            return finish(CloseCause::NoBackend);
        }
        ++attempts_;
        backend_ref_ = std::move(backend);
        tried_.push_back(backend_ref_.get());
        int err = 0;
        backend_.fd = net::connectStart(backend_ref_->address, &err);
        if (backend_.fd == net::kInvalidFd) {
            if (net::classifyAcceptError(err) == net::AcceptFailure::OutOfResources)
                return outOfResources(err);
            connectFailed("connect", err);
            continue;  // connectFailed() either released and retries here, or finished
        }
        net::setNoDelay(backend_.fd);
        worker_.loop.add(backend_.fd, &backend_);
        worker_.loop.armAfter(phase_timer_, backend_cfg.connect_timeout);
        return;
    }
}

void TcpSession::outOfResources(int err) {
    // Our own limit, not the backend's fault: no failure counted against it, no retry elsewhere
    // (the next socket would fail the same way). The worker pauses accepting, so the clients
    // behind this one wait in the backlog instead of being closed one by one.
    POSTERN_LOG(Debug, "cannot open a backend socket",
                "listener=" + common::logfmtValue(listener_->config->name) +
                    " error=" + common::logfmtValue(net::errorText(err)));
    listener_->pool->release(*snapshot_, backend_index_, *backend_ref_);
    backend_ref_.reset();
    worker_.resources_exhausted = err;
    listener_->stats->connect_failed.fetch_add(1, std::memory_order_relaxed);
    finish(CloseCause::NoResources);
}

void TcpSession::onTcpConnected() {
    tcp_connected_ = true;
    // The preface goes out raw, before any TLS byte. A fresh connection's send buffer takes a few
    // hundred bytes at once; a short write still just waits for the next writable edge.
    while (preface_sent_ < backend_preface_.size()) {
        auto r = net::sendSome(backend_.fd, backend_preface_.data() + preface_sent_,
                               backend_preface_.size() - preface_sent_);
        if (r.status == net::IoStatus::WouldBlock) {
            backend_.writable = false;
            return;
        }
        if (r.status != net::IoStatus::Ok) {
            connectFailed("sending the preface", r.error);
            return connectNext();
        }
        preface_sent_ += static_cast<std::uint32_t>(r.bytes);
    }
    const tls::ClientTlsContext* backend_tls =
        snapshot_->config->backend.protocol == config::BackendProtocol::Tls
            ? snapshot_->config->backend.tls_context.get()
            : nullptr;
    if (!backend_tls) return onBackendReady();
    backend_.tls = backend_tls->connect(backend_.fd, backend_ref_->host);
    if (!backend_.tls) {
        connectFailed("tls", 0, "cannot allocate a TLS connection");
        return connectNext();
    }
    state_ = State::BackendHandshake;
    backendHandshakeStep();  // the socket is writable: the ClientHello leaves now
}

void TcpSession::backendHandshakeStep() {
    switch (backend_.tls->handshake()) {
        case net::IoStatus::Ok:
            if (backend_.tls->buffered()) backend_.readable = true;  // as in clientHandshakeStep
            return onBackendReady();
        case net::IoStatus::WouldBlock: noteTlsWait(backend_); return;
        default: {
            // Kept: connectFailed() frees the stream that owns the message.
            const std::string why = backend_.tls->failure();
            state_ = State::Connecting;
            connectFailed("tls handshake", 0, why);
            return connectNext();
        }
    }
}

void TcpSession::connectFailed(const char* why, int err, std::string_view detail) {
    auto& b = *backend_ref_;
    b.connect_failures.fetch_add(1, std::memory_order_relaxed);
    std::string error(why);
    if (err) error += ": " + net::errorText(err);
    if (!detail.empty()) error += ": " + std::string(detail);
    const std::string fields = "listener=" + common::logfmtValue(listener_->config->name) +
                               " pool=" + common::logfmtValue(listener_->pool->name()) +
                               " backend=" + b.address_text +
                               " error=" + common::logfmtValue(error);
    // A TLS failure towards a backend is a configuration or security problem worth a warning, but
    // one per worker per second at most: every client connection would repeat it.
    if (!detail.empty() && worker_.loop.now() >= worker_.next_tls_warning) {
        worker_.next_tls_warning = worker_.loop.now() + std::chrono::seconds(1);
        POSTERN_LOG(Warn, "backend TLS handshake failed", fields);
    } else {
        POSTERN_LOG(Debug, "backend connect failed", fields);
    }
    if (backend_.fd != net::kInvalidFd) {
        worker_.loop.removeBeforeClose(backend_.fd);
        net::closeFd(backend_.fd);
        backend_.fd = net::kInvalidFd;
    }
    backend_.tls.reset();
    backend_.readable = backend_.writable = backend_.peer_closed = false;
    backend_.read_wants_write = backend_.write_wants_read = false;
    tcp_connected_ = false;
    preface_sent_ = 0;
    worker_.loop.cancel(phase_timer_);
    listener_->pool->release(*snapshot_, backend_index_, b);
    listener_->pool->noteConnectFailure(backend_ref_);
    backend_ref_.reset();
    if (attempts_ > snapshot_->config->backend.retries) {
        listener_->stats->connect_failed.fetch_add(1, std::memory_order_relaxed);
        finish(CloseCause::ConnectFailed);
    }
}

void TcpSession::onBackendReady() {
    worker_.loop.cancel(phase_timer_);
    state_ = State::Relaying;
    connect_ms_ = msSinceStart();
    backend_ref_->connections_total.fetch_add(1, std::memory_order_relaxed);
    listener_->pool->noteConnectSuccess(*backend_ref_);
    last_activity_ = worker_.loop.now();
    worker_.loop.arm(idle_timer_, last_activity_ + listener_->config->idle_timeout);
    pump();
}

// ---- events ------------------------------------------------------------------------------------

void TcpSession::onIo(Side& side, std::uint32_t events) {
    if (state_ == State::Closed) return;
    if (events & net::kReadable) {
        side.readable = true;
        if (side.tls) side.tls->noteReadable();
    }
    if (events & net::kWritable) side.writable = true;
    if (events & net::kPeerClosed) side.peer_closed = true;
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
            if (&side == &client_ && handshakeMayProceed(client_)) clientHandshakeStep();
            return;
        case State::Connecting:
            if (&side != &backend_ || backend_.fd == net::kInvalidFd) return;
            if (!tcp_connected_) {
                if (!(events & (net::kWritable | net::kError | net::kHangup))) return;
                // Writable without an error or hang-up means connected: SO_ERROR is read only
                // when the connect failed (one getsockopt less per connection).
                if (events & (net::kError | net::kHangup)) {
                    connectFailed("connect", net::socketError(backend_.fd));
                    return connectNext();
                }
            } else if (events & (net::kError | net::kHangup)) {
                connectFailed("sending the preface", net::socketError(backend_.fd));
                return connectNext();
            } else if (!backend_.writable) {
                return;
            }
            return onTcpConnected();
        case State::BackendHandshake:
            if (&side == &backend_ && handshakeMayProceed(backend_)) backendHandshakeStep();
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
        if (state_ != State::Connecting && state_ != State::BackendHandshake) return;
        const bool tls = state_ == State::BackendHandshake;
        state_ = State::Connecting;
        if (tls) connectFailed("connect timeout", 0, "no TLS handshake in time");
        else connectFailed("connect timeout", 0);
        return connectNext();
    }
    // Idle timer: re-armed lazily, so activity costs no timer operation.
    auto deadline = last_activity_ + listener_->config->idle_timeout;
    if (worker_.loop.now() >= deadline) return finish(CloseCause::IdleTimeout);
    worker_.loop.arm(idle_timer_, deadline);
}

// ---- relay -------------------------------------------------------------------------------------

bool TcpSession::handshakeMayProceed(const Side& s) {
    // Only the readiness the last step waited for can move it on (an EPOLLOUT edge while waiting
    // for the peer's next flight would just cost a recv that returns EAGAIN); errors and hang-ups
    // set both flags.
    return s.tls->want() == tls::TlsStream::Want::Write ? s.writable : s.readable;
}

void TcpSession::noteTlsWait(Side& s) {
    if (s.tls->want() == tls::TlsStream::Want::Write) s.writable = false;
    else s.readable = false;
}

net::IoResult TcpSession::readFrom(Side& s, char* buf, std::size_t len) {
    if (!s.tls) {
        auto r = net::recvSome(s.fd, buf, len);
        if (r.status == net::IoStatus::WouldBlock) s.readable = false;
        return r;
    }
    auto r = s.tls->read(buf, len);
    s.read_wants_write = r.status == net::IoStatus::WouldBlock && s.tls->want() == tls::TlsStream::Want::Write;
    if (r.status == net::IoStatus::WouldBlock) noteTlsWait(s);
    return r;
}

net::IoResult TcpSession::writeTo(Side& s, const char* data, std::size_t len) {
    if (!s.tls) {
        auto r = net::sendSome(s.fd, data, len);
        // A short write means the send buffer is full: wait for the next writable edge.
        if (r.status == net::IoStatus::WouldBlock || (r.status == net::IoStatus::Ok && r.bytes < len))
            s.writable = false;
        return r;
    }
    // SSL_write takes one record (16 KiB) per call in partial-write mode.
    std::size_t total = 0;
    for (int records = 0; records < 64 && total < len; ++records) {
        auto r = s.tls->write(data + total, len - total);
        if (r.status == net::IoStatus::Ok) {
            total += r.bytes;
            continue;
        }
        if (r.status != net::IoStatus::WouldBlock) return r;
        s.write_wants_read = s.tls->want() == tls::TlsStream::Want::Read;
        noteTlsWait(s);
        break;
    }
    if (total == len) s.write_wants_read = false;
    return {total > 0 ? net::IoStatus::Ok : net::IoStatus::WouldBlock, total, 0};
}

bool TcpSession::closeWrite(Side& dst) {
    if (dst.tls) {
        // close_notify, then the TCP FIN; reading from dst stays possible (TLS half-close).
        if (dst.tls->shutdown() == net::IoStatus::WouldBlock) {
            noteTlsWait(dst);
            return false;
        }
    }
    net::shutdownWrite(dst.fd);
    dst.shut = true;
    return true;
}

void TcpSession::pump() {
    bool progress = true;
    for (int rounds = 0; progress && state_ == State::Relaying && rounds < 64; ++rounds) {
        progress = transfer(client_, backend_);
        if (state_ != State::Relaying) return;
        progress |= transfer(backend_, client_);
    }
    if (state_ != State::Relaying) return;
    if (client_.eof && backend_.eof && client_.shut && backend_.shut && client_.pending_len == 0 &&
        backend_.pending_len == 0 && client_.pipe_len == 0 && backend_.pipe_len == 0)
        finish(first_fin_);
}

bool TcpSession::flushPending(Side& dst) {
    while (dst.pending_len > 0) {
        if (!canWrite(dst)) return false;
        auto r = writeTo(dst, dst.pending + dst.pending_off, dst.pending_len);
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
    while (canRead(src) && !src.eof) {
        auto r = readFrom(src, worker_.scratch, sizeof worker_.scratch);
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
        // A short read drained the socket (edge-triggered): unless a FIN is queued behind it,
        // the next byte will raise a new edge. (TLS: a read returns one record at most, so ask
        // the stream whether its last socket read was short and OpenSSL holds nothing more.)
        if (!src.peer_closed &&
            (src.tls ? src.tls->socketDrained() : r.bytes < sizeof worker_.scratch))
            src.readable = false;
        // A full buffer: bulk data. Between two plain sockets the rest of it moves through a
        // pipe (from the next round on: these bytes are in user space already). Small
        // request/response traffic never fills the buffer and keeps recv/send (one call each;
        // a splice costs two and a pipe).
        if (r.bytes == sizeof worker_.scratch && worker_.splice && !src.tls && !dst.tls)
            dst.splicing = true;
        std::size_t sent = 0;
        if (canWrite(dst)) {
            auto w = writeTo(dst, worker_.scratch, r.bytes);
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
            if (!dst.writable) break;  // backpressure: src stays unread while the pipe holds bytes
            auto w = net::spliceFromPipe(*dst.pipe, dst.fd, dst.pipe_len);
            if (w.status == net::IoStatus::WouldBlock) {
                dst.writable = false;
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
                dst.writable = false;
                break;
            }
        }
        if (!src.readable || src.eof) break;
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
        auto r = net::spliceToPipe(src.fd, *dst.pipe, net::PipePool::kPipeSize);
        if (r.status == net::IoStatus::WouldBlock) {
            src.readable = false;
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
    src.eof = true;
    src.readable = false;
    if (!fin_seen_) {
        fin_seen_ = true;
        first_fin_ = src.is_client ? CloseCause::ClientFin : CloseCause::BackendFin;
    }
    return true;
}

bool TcpSession::endDirection(Side& src, Side& dst) {
    bool progress = false;
    if (src.eof && !dst.shut && dst.pending_len == 0 && dst.pipe_len == 0) {
        if (!dst.tls && dst.eof && src.shut && src.pending_len == 0 && src.pipe_len == 0) {
            // The other direction has ended too: the session closes in this pump and close()
            // sends the FIN (dst's receive queue is empty: we read it to its end). One
            // shutdown call less per connection.
            dst.shut = true;
            progress = true;
        } else if (closeWrite(dst)) {
            progress = true;
        }
    }
    return progress;
}

void TcpSession::sideFailed(Side& side, net::IoStatus status) {
    if (side.is_client) {
        if (side.tls && status == net::IoStatus::Error) {
            tls_error_ = side.tls->failure();  // a TLS protocol error, not a TCP reset
            return finish(CloseCause::TlsFailed);
        }
        finish(client_.eof ? CloseCause::ClientFin : CloseCause::ClientReset);
    } else {
        finish(CloseCause::BackendReset);
    }
}

void TcpSession::abortForShutdown() {
    if (state_ != State::Closed) cutAtDeadline(CloseCause::Shutdown);
}

config::Millis TcpSession::drainTimeout() const {
    // The pool's settings as this connection found them; before it picked a backend, the
    // pool's current ones.
    if (snapshot_) return snapshot_->config->drain_timeout;
    return listener_->pool->snapshot()->config->drain_timeout;
}

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
        if (s->tls && s->tls->buffered()) return true;
        if (s->fd == net::kInvalidFd) continue;
        const auto q = net::queuedBytes(s->fd);
        if (q.unread > 0 || q.unacked > 0) return true;
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
    // Resets and TLS failures end abruptly; any other end of a TLS side says close_notify first
    // (one non-blocking attempt: an unsent alert is not worth waiting for).
    const bool abrupt = reset_on_close_ || isAbrupt(cause);
    if (backend_.fd != net::kInvalidFd) {
        if (backend_.tls && !abrupt && !backend_.shut) backend_.tls->shutdown();
        worker_.loop.removeBeforeClose(backend_.fd);
        if (reset_on_close_) net::closeWithReset(backend_.fd);
        else net::closeFd(backend_.fd);
        backend_.fd = net::kInvalidFd;
    }
    if (client_.fd != net::kInvalidFd) {
        if (client_.tls && !abrupt && !client_.shut) client_.tls->shutdown();
        worker_.loop.removeBeforeClose(client_.fd);
        // A backend reset, or a stream cut mid-flight, must not look like a clean end of stream
        // to the client.
        if (cause == CloseCause::BackendReset || reset_on_close_)
            net::closeWithReset(client_.fd);
        else net::closeFd(client_.fd);
        client_.fd = net::kInvalidFd;
    }
    if (backend_ref_) {
        listener_->pool->release(*snapshot_, backend_index_, *backend_ref_);
    }
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
        rec.backend = (was_connected && backend_ref_) ? std::string_view(backend_ref_->address_text)
                                                      : std::string_view();
        rec.bytes_in = bytes_in_;
        rec.bytes_out = bytes_out_;
        rec.connect_ms = connect_ms_;
        rec.first_byte_ms = first_byte_ms_;
        rec.total_ms = msSinceStart();
        rec.attempts = attempts_;
        rec.cause = closeCauseName(cause);
        if (listener_->tls) {
            rec.tls = true;
            rec.tls_handshake_ms = tls_handshake_ms_;
            rec.tls_error = tls_error_;
            if (client_.tls) {
                rec.sni = client_.tls->serverName();
                rec.alpn = client_.tls->alpn();
                if (tls_handshake_ms_ >= 0) rec.tls_version = client_.tls->version();
            }
        }
        worker_.access_log->write(rec);
    }
    backend_ref_.reset();
    retire();
}

}  // namespace postern::proxy
