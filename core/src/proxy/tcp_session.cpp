#include "proxy/tcp_session.h"

#include "common/log.h"
#include "proxy/access_control.h"
#include "proxy/proxy_preface.h"
#include "tls/client_hello_sni.h"
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
      drain_timer_(this, kDrainTimer),
      dialer_(worker, *listener_, *this, backend_.io, &backend_),
      relay_(worker, *this, client_.io, backend_.io) {
    client_.session = this;
    client_.io.fd = accepted.fd;
    backend_.session = this;
    started_ = worker_.loop.now();
}

std::unique_ptr<Session> TcpSession::create(WorkerContext& worker,
                                            std::shared_ptr<const ListenerContext> listener,
                                            const AcceptedConnection& accepted) {
    return std::make_unique<TcpSession>(worker, std::move(listener), accepted);
}

TcpSession::~TcpSession() = default;

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
        listener_->stats->worker(worker_.index).proxy_untrusted.add();
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
    const ClientAdmission admission =
        admitClient(*listener_, worker_.index, client_addr_, worker_.loop.now());
    if (admission.refused != AccessRefusal::None) return finish(closeCause(admission.refused));
    client_slot_ = admission.slot;
    client_.io.readable = true;  // the payload may already wait behind the header
    afterClientPreface();
}

void TcpSession::proxyHeaderFailed(CloseCause cause, std::string_view why) {
    auto& stats = listener_->stats->worker(worker_.index);
    (cause == CloseCause::ProxyTimeout ? stats.proxy_timeout : stats.proxy_invalid).add();
    POSTERN_LOG(Warn, "PROXY header refused",
                "listener=" + common::logfmtValue(listener_->config->name) +
                    " peer=" + client_addr_.toString() + " error=" + common::logfmtValue(why));
    finish(cause);
}

// ---- client phase ------------------------------------------------------------------------------

void TcpSession::afterClientPreface() {
    if (!listener_->tls) {
        if (listener_->config->peeksSni()) return beginClientHello();
        return beginBackend();
    }
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
            listener_->stats->worker(worker_.index)
                .tls_handshake.observe(worker_.loop.now() - started_);
            return beginBackend();
        case net::IoStatus::WouldBlock:
            return;
        default:
            return clientTlsFailed(client_.io.tls->failure());
    }
}

void TcpSession::clientTlsFailed(std::string_view why) {
    tls_error_ = why;
    listener_->stats->worker(worker_.index).tls_handshake_failures.add();
    POSTERN_LOG(Debug, "client TLS handshake failed",
                "listener=" + common::logfmtValue(listener_->config->name) +
                    " client=" + client_addr_.toString() + " error=" + common::logfmtValue(why));
    finish(CloseCause::TlsFailed);
}

// ---- SNI routing -------------------------------------------------------------------------------

namespace {
/** Longest wait for a passthrough client's ClientHello (its idle_timeout when shorter). */
constexpr config::Millis kClientHelloTimeout{10000};
}  // namespace

void TcpSession::beginClientHello() {
    state_ = State::ClientHello;
    worker_.loop.armAfter(phase_timer_,
                          std::min(listener_->config->idle_timeout, kClientHelloTimeout));
    readClientHello();  // the hello may be there already
}

void TcpSession::readClientHello() {
    static_assert(sizeof worker_.scratch >= tls::kMaxClientHelloBytes);
    // Peeked, never taken: the backend reads the very bytes the client sent.
    const net::IoResult peek =
        net::peekSome(client_.io.fd, worker_.scratch, tls::kMaxClientHelloBytes);
    switch (peek.status) {
        case net::IoStatus::WouldBlock:
            client_.io.readable = false;
            return;
        case net::IoStatus::Eof:
            return finish(CloseCause::ClientFin);  // left before sending a byte
        case net::IoStatus::Reset:
        case net::IoStatus::Error:
            return finish(CloseCause::ClientReset);
        case net::IoStatus::Ok:
            break;
    }
    const tls::HelloSni hello =
        tls::readHelloSni(reinterpret_cast<const std::uint8_t*>(worker_.scratch), peek.bytes);
    if (hello.status() == tls::HelloStatus::NeedMore && !client_.io.peer_closed) {
        client_.io.readable = false;  // edge-triggered: the next bytes raise a new edge
        return;
    }
    worker_.loop.cancel(phase_timer_);
    if (hello.status() == tls::HelloStatus::Found) {
        peeked_sni_ = std::make_unique<std::string>(hello.name());
    } else if (hello.status() != tls::HelloStatus::NoSni) {
        // Not a ClientHello we can read (or cut short by the client's FIN): no name to route
        // by; the bytes still go, untouched, to the catch-all when there is one.
        POSTERN_LOG(Debug, "no SNI to route by",
                    "listener=" + common::logfmtValue(listener_->config->name) +
                        " client=" + client_addr_.toString() + " reason=" +
                        common::logfmtValue(hello.status() == tls::HelloStatus::NeedMore
                                                ? "closed before the ClientHello was complete"
                                                : hello.why()));
    }
    beginBackend();
}

std::string_view TcpSession::clientSni() const {
    if (client_.io.tls) return client_.io.tls->serverName();
    return peeked_sni_ ? std::string_view(*peeked_sni_) : std::string_view();
}

// ---- backend phase -----------------------------------------------------------------------------

void TcpSession::beginBackend() {
    upstream::Pool* pool = listener_->poolForSni(clientSni());
    if (!pool) return finish(CloseCause::NoRoute);
    state_ = State::Connecting;
    dialer_.start(*pool, client_addr_.ipHash());
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
    Relay::Settings settings;
    settings.idle_timeout = listener_->config->idle_timeout;
    settings.idle_cause = CloseCause::IdleTimeout;
    relay_.start(settings);
}

void TcpSession::onRelayEnd(CloseCause cause, bool cut) {
    reset_on_close_ = cut;
    // A TLS protocol error from the client, not a TCP reset: the access log says which.
    if (cause == CloseCause::TlsFailed && client_.io.tls) tls_error_ = client_.io.tls->failure();
    finish(cause);
}

// ---- events ------------------------------------------------------------------------------------

void TcpSession::onIo(Side& side, std::uint32_t events) {
    if (state_ == State::Closed) return;
    side.io.noteEvents(events);
    switch (state_) {
        case State::Relaying:
            return relay_.onIo(&side == &client_ ? Relay::Side::Client : Relay::Side::Backend,
                               events);
        case State::ProxyHeader:
            if (&side == &client_) readProxyHeader();
            return;
        case State::ClientHandshake:
            if (&side == &client_ && client_.io.handshakeMayProceed()) clientHandshakeStep();
            return;
        case State::ClientHello:
            if (&side == &client_) readClientHello();
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
    // The phase timer.
    if (state_ == State::ClientHandshake) return clientTlsFailed("handshake timeout");
    if (state_ == State::ClientHello) return finish(CloseCause::IdleTimeout);
    if (state_ == State::ProxyHeader)
        return proxyHeaderFailed(CloseCause::ProxyTimeout, "no complete PROXY header in time");
}

// ---- drain and end ----------------------------------------------------------------------------

void TcpSession::abortForShutdown() {
    if (state_ != State::Closed) cutAtDeadline(CloseCause::Shutdown);
}

config::Millis TcpSession::drainTimeout() const {
    // Before a pool is chosen: the listener's, else its first route's (a listener has either).
    const upstream::Pool* pool = dialer_.pool() ? dialer_.pool() : listener_->pool.get();
    if (!pool && !listener_->route_pools.empty()) pool = listener_->route_pools.front().get();
    return pool ? dialer_.drainTimeout(*pool) : config::Millis(0);
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
    if (relay_.active()) return relay_.cut(cause);  // onRelayEnd() finishes
    reset_on_close_ = client_.io.bytesInFlight() || backend_.io.bytesInFlight();
    finish(cause);
}

void TcpSession::finish(CloseCause cause) {
    if (state_ == State::Closed) return;
    bool was_connected = state_ == State::Relaying;
    state_ = State::Closed;
    worker_.loop.cancel(phase_timer_);
    worker_.loop.cancel(drain_timer_);
    dialer_.cancel();
    relay_.stop();
    // Resets and TLS failures end abruptly; any other end of a TLS side says close_notify first
    // (one non-blocking attempt: an unsent alert is not worth waiting for). A backend reset, or a
    // stream cut mid-flight, must not look like a clean end of stream to the client.
    using Mode = tls::Transport::CloseMode;
    const Mode mode = reset_on_close_ ? Mode::Reset : isAbrupt(cause) ? Mode::Abrupt : Mode::Clean;
    backend_.io.close(worker_.loop, mode);
    client_.io.close(worker_.loop, cause == CloseCause::BackendReset ? Mode::Reset : mode);
    releaseClient(*listener_, client_slot_);
    client_slot_ = ClientLimits::kNoSlot;
    const std::uint64_t bytes_in = relay_.bytesFromClient();
    const std::uint64_t bytes_out = relay_.bytesToClient();
    listener_->stats->active.fetch_sub(1, std::memory_order_relaxed);
    auto& stats = listener_->stats->worker(worker_.index);
    stats.bytes_in.add(bytes_in);
    stats.bytes_out.add(bytes_out);
    stats.countClose(cause);
    if (worker_.global_active) worker_.global_active->fetch_sub(1, std::memory_order_relaxed);
    if (worker_.access_log && worker_.access_log->enabled()) {
        std::string client = client_addr_.toString();
        AccessRecord rec;
        rec.listener = listener_->config->name;
        rec.client = client;
        const upstream::Pool* pool = dialer_.pool() ? dialer_.pool() : listener_->pool.get();
        if (pool) rec.pool = pool->name();
        rec.backend = (was_connected && dialer_.backend())
                          ? std::string_view(dialer_.backend()->address_text)
                          : std::string_view();
        rec.bytes_in = bytes_in;
        rec.bytes_out = bytes_out;
        rec.connect_ms = connect_ms_;
        if (relay_.firstBackendByte() != net::Clock::time_point{})
            rec.first_byte_ms =
                duration_cast<milliseconds>(relay_.firstBackendByte() - started_).count();
        rec.total_ms = msSinceStart();
        rec.attempts = dialer_.attempts();
        rec.cause = closeCauseName(cause);
        if (peeked_sni_) rec.sni = *peeked_sni_;  // passthrough: not terminated
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
