#include "http/http_session.h"

#include <algorithm>
#include <cstring>

#include "common/log.h"
#include "http/error_response.h"
#include "http/rewrite.h"
#include "http/websocket.h"
#include "proxy/access_control.h"
#include "proxy/proxy_preface.h"
#include "proxy/relay.h"
#include "tls/server_tls_context.h"

namespace postern::http {

using proxy::CloseCause;
using CloseMode = tls::Transport::CloseMode;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

namespace {

constexpr std::uint32_t kBufferSize = static_cast<std::uint32_t>(proxy::BufferPool::kBufferSize);
/** A head and at most this many body bytes behind it leave in one write (copied behind the
 * head); more body goes out from the receive buffer directly. */
constexpr std::uint32_t kCoalesceBytes = 16 * 1024;
/** How long a connection we answered and shut reads what the client still sends, so the close
 * does not reset the connection before the client has read the answer. */
constexpr std::chrono::seconds kLingerTime{2};

/** Connection-level ends worth a connection record when no request ever began. */
bool failedBeforeAnyRequest(CloseCause cause) {
    switch (cause) {
        case CloseCause::TlsFailed:
        case CloseCause::ProxyUntrusted:
        case CloseCause::ProxyInvalid:
        case CloseCause::ProxyTimeout:
        case CloseCause::RefusedAcl:
        case CloseCause::RefusedClientRate:
        case CloseCause::RefusedClientLimit:
            return true;
        default:
            return false;
    }
}

}  // namespace

std::unique_ptr<proxy::Session> HttpSession::create(
    proxy::WorkerContext& worker, std::shared_ptr<const proxy::ListenerContext> listener,
    const proxy::AcceptedConnection& accepted) {
    return std::make_unique<HttpSession>(worker, std::move(listener), accepted);
}

HttpSession::HttpSession(proxy::WorkerContext& worker,
                         std::shared_ptr<const proxy::ListenerContext> listener,
                         const proxy::AcceptedConnection& accepted)
    : Session(worker, std::move(listener)),
      client_(accepted.fd),
      client_addr_(accepted.peer),
      client_slot_(accepted.client_slot),
      phase_timer_(this, kPhaseTimer),
      idle_timer_(this, kIdleTimer),
      drain_timer_(this, kDrainTimer) {
    client_io_.session = this;
    last_activity_ = request_start_ = worker_.loop.now();
}

HttpSession::~HttpSession() {
    worker_.buffers.put(cin_.data);
    worker_.buffers.put(bin_.data);
}

std::int64_t HttpSession::msSinceRequest() const {
    return duration_cast<milliseconds>(worker_.loop.now() - request_start_).count();
}

// ---- client phase ------------------------------------------------------------------------------

void HttpSession::start() {
    if (!net::kAcceptInheritsNoDelay) net::setNoDelay(client_.fd);
    worker_.loop.add(client_.fd, &client_io_);
    if (listener_->config->accept_proxy) return beginProxyHeader();
    afterClientPreface();
}

void HttpSession::beginProxyHeader() {
    if (!listener_->config->trusted_proxies.contains(client_addr_)) {
        listener_->stats->worker(worker_.index).proxy_untrusted.add();
        return finish(CloseCause::ProxyUntrusted);
    }
    proxy_reader_ = std::make_unique<codec::ProxyHeaderReader>();
    const auto timeout =
        listener_->config->tls ? listener_->config->tls->handshake_timeout : config::Millis(5000);
    worker_.loop.armAfter(phase_timer_, timeout);
    readProxyHeader();  // the header may be there already
}

void HttpSession::readProxyHeader() {
    using Status = codec::ProxyHeaderReader::Status;
    switch (proxy_reader_->read(client_.fd, {worker_.scratch, sizeof worker_.scratch},
                                client_.peer_closed)) {
        case Status::NeedMore:
            client_.readable = false;
            return;
        case Status::Invalid:
        case Status::Closed:
            if (proxy_reader_->received() == 0) return finish(CloseCause::ClientFin);
            listener_->stats->worker(worker_.index).proxy_invalid.add();
            POSTERN_LOG(Warn, "PROXY header refused",
                        "listener=" + common::logfmtValue(listener_->config->name) +
                            " peer=" + client_addr_.toString() +
                            " error=" + common::logfmtValue(proxy_reader_->reason()));
            return finish(CloseCause::ProxyInvalid);
        case Status::Done:
            break;
    }
    worker_.loop.cancel(phase_timer_);
    const auto& info = proxy_reader_->info();
    if (info.carriesAddresses()) {
        client_addr_ = info.source;
        local_addr_ = info.destination;
    }
    proxy_reader_.reset();
    const proxy::ClientAdmission admission =
        proxy::admitClient(*listener_, worker_.index, client_addr_, worker_.loop.now());
    if (admission.refused != proxy::AccessRefusal::None)
        return finish(proxy::closeCause(admission.refused));
    client_slot_ = admission.slot;
    client_.readable = true;  // the first request may wait behind the header
    afterClientPreface();
}

void HttpSession::afterClientPreface() {
    client_ip_ = client_addr_.ip();
    client_text_ = client_addr_.toString();
    if (local_addr_.family() == AF_UNSPEC) local_addr_ = net::localAddress(client_.fd);
    if (!listener_->tls) {
        enterIdle();
        return drive();
    }
    client_.tls = listener_->tls->accept(client_.fd);
    if (!client_.tls) return clientTlsFailed("cannot allocate a TLS connection");
    worker_.loop.armAfter(phase_timer_, listener_->config->tls->handshake_timeout);
    clientHandshakeStep();  // the ClientHello may be there already
}

void HttpSession::clientHandshakeStep() {
    switch (client_.handshake()) {
        case net::IoStatus::Ok:
            worker_.loop.cancel(phase_timer_);
            // request_start_ is still the accept time: no request has begun.
            listener_->stats->worker(worker_.index)
                .tls_handshake.observe(worker_.loop.now() - request_start_);
            enterIdle();
            return drive();
        case net::IoStatus::WouldBlock:
            return;
        default:
            return clientTlsFailed(client_.tls->failure());
    }
}

void HttpSession::clientTlsFailed(std::string_view why) {
    tls_error_ = why;
    listener_->stats->worker(worker_.index).tls_handshake_failures.add();
    POSTERN_LOG(Debug, "client TLS handshake failed",
                "listener=" + common::logfmtValue(listener_->config->name) +
                    " client=" + client_addr_.toString() + " error=" + common::logfmtValue(why));
    finish(CloseCause::TlsFailed, CloseMode::Abrupt);
}

void HttpSession::enterIdle() {
    state_ = State::Idle;
    last_activity_ = worker_.loop.now();
    // Timers are re-armed lazily (onTimer checks the deadline that applies when one fires), so
    // a request costs no timer operation when one is armed already.
    if (!idle_timer_.armed())
        worker_.loop.arm(idle_timer_, last_activity_ + listener_->config->idle_timeout);
}

// ---- events ------------------------------------------------------------------------------------

void HttpSession::onClientIo(std::uint32_t events) {
    if (state_ == State::Closed) return;
    if (state_ == State::Relay) {
        client_.noteEvents(events);
        if (relay_) relay_->onIo(proxy::Relay::Side::Client, events);
        return;
    }
    client_.noteEvents(events);
    if (state_ == State::Preface) {
        if (proxy_reader_) return readProxyHeader();
        if (client_.tls && client_.handshakeMayProceed()) clientHandshakeStep();
        return;
    }
    // A client that resets while nothing is read from it or written to it (its request waits
    // for a backend, or its upload is stalled) is seen only through this error event.
    if ((events & net::kError) && (state_ == State::Dialing || state_ == State::Exchange)) {
        client_failed_ = true;
        return failExchange(0, CloseCause::ClientReset);
    }
    drive();
}

void HttpSession::onBackendIo(std::uint32_t events) {
    if (state_ == State::Relay) {
        if (relay_) relay_->onIo(proxy::Relay::Side::Backend, events);
        return;
    }
    if (backend_ && backend_->dialer() && backend_->dialer()->dialing())
        return backend_->dialer()->onIo(events);
    if (state_ != State::Exchange && state_ != State::Closing) return;
    drive();
}

void HttpSession::drive() {
    // Requests answered at once (our own answers to pipelined requests) follow each other in
    // this loop, not in a recursion as deep as the pipeline.
    if (driving_) {
        again_ = true;
        return;
    }
    driving_ = true;
    // Unbounded on purpose, like the loops below: each round moves a request on or waits, and
    // with edge-triggered readiness a loop that stopped early could wait for an edge that never
    // comes (a client blocked on our full receive buffer sends nothing more).
    for (;;) {
        again_ = false;
        switch (state_) {
            case State::Idle:
            case State::Head:
                readHead();
                break;
            case State::Exchange:
            case State::Closing:
                pump();
                break;
            default:
                break;
        }
        if (!again_ || state_ == State::Closed) break;
    }
    driving_ = false;
}

// ---- buffers -----------------------------------------------------------------------------------

bool HttpSession::ensureRoom(Buffer& b) {
    if (!b.data) {
        b.data = worker_.buffers.get();
        b.begin = b.end = 0;
    }
    if (b.begin == b.end) b.begin = b.end = 0;
    if (b.end == kBufferSize && b.begin > 0) {
        std::memmove(b.data, b.data + b.begin, b.size());
        b.end -= b.begin;
        b.begin = 0;
    }
    return b.end < kBufferSize;
}

void HttpSession::giveBack(Buffer& b) {
    if (b.data && b.empty()) {
        worker_.buffers.put(b.data);
        b.data = nullptr;
        b.begin = b.end = 0;
    }
}

bool HttpSession::fillFromClient() {
    while (client_.canRead() && !client_.eof) {
        if (!ensureRoom(cin_)) return true;
        const std::size_t room = kBufferSize - cin_.end;
        const auto r = client_.read(cin_.data + cin_.end, room);
        if (r.status == net::IoStatus::WouldBlock) return true;
        if (r.status != net::IoStatus::Ok) {
            client_.readable = false;
            if (r.status == net::IoStatus::Eof) {
                client_.eof = true;
                client_eof_ = true;
            } else {
                client_failed_ = true;
                if (client_.tls && r.status == net::IoStatus::Error)
                    tls_error_ = client_.tls->failure();
            }
            return false;
        }
        cin_.end += static_cast<std::uint32_t>(r.bytes);
        total_in_ += r.bytes;
        last_activity_ = worker_.loop.now();
        if (client_.drainedAfter(r, room)) client_.readable = false;
    }
    return !client_.eof;
}

bool HttpSession::fillFromBackend() {
    tls::Transport& t = backend_->transport();
    while (t.canRead() && !t.eof) {
        if (!ensureRoom(bin_)) return true;
        const std::size_t room = kBufferSize - bin_.end;
        const auto r = t.read(bin_.data + bin_.end, room);
        if (r.status == net::IoStatus::WouldBlock) return true;
        if (r.status != net::IoStatus::Ok) {
            t.readable = false;
            if (r.status == net::IoStatus::Eof) {
                t.eof = true;
                backend_eof_ = true;
            } else {
                backend_failed_ = true;
            }
            return false;
        }
        if (first_byte_ms_ < 0) first_byte_ms_ = msSinceRequest();
        bin_.end += static_cast<std::uint32_t>(r.bytes);
        last_activity_ = worker_.loop.now();
        if (t.drainedAfter(r, room)) t.readable = false;
    }
    return !t.eof;
}

bool HttpSession::flushToClient() {
    while (to_client_off_ < to_client_.size()) {
        if (!client_.canWrite()) return false;
        const auto w =
            client_.write(to_client_.data() + to_client_off_, to_client_.size() - to_client_off_);
        if (w.status == net::IoStatus::WouldBlock) return false;
        if (w.status != net::IoStatus::Ok) {
            client_failed_ = true;
            failExchange(0, CloseCause::ClientReset);
            return false;
        }
        to_client_off_ += w.bytes;
        bytes_out_ += w.bytes;
        total_out_ += w.bytes;
        last_activity_ = worker_.loop.now();
    }
    to_client_.clear();
    to_client_off_ = 0;
    return true;
}

// ---- request head ------------------------------------------------------------------------------

void HttpSession::readHead() {
    for (;;) {
        if (!cin_.empty()) {
            if (state_ == State::Idle) {
                // The first byte of a request: its clock and its head's deadline start.
                state_ = State::Head;
                request_start_ = worker_.loop.now();
                request_open_ = true;
                ++requests_;
                // What the record says until the head is read (a refused or unfinished head).
                method_.clear();
                host_.clear();
                path_.clear();
                pool_ = nullptr;
                status_ = 0;
                bytes_in_ = bytes_out_ = 0;
                connect_ms_ = first_byte_ms_ = -1;
                attempts_ = 0;
                reused_ = false;
                if (!phase_timer_.armed())
                    worker_.loop.armAfter(phase_timer_, listener_->config->request_timeout);
            }
            const ParseResult r = request_parser_.parse(cin_.view(), request_);
            if (r.status == ParseStatus::Complete) return onRequestHead(r.consumed);
            if (r.status == ParseStatus::Error) {
                POSTERN_LOG(Debug, "request refused",
                            "listener=" + common::logfmtValue(listener_->config->name) +
                                " client=" + client_text_ +
                                " status=" + std::to_string(r.error_status) +
                                " error=" + common::logfmtValue(r.error));
                bytes_in_ = cin_.size();
                return answer(r.error_status, CloseCause::BadRequest);
            }
            // The limits are far below the buffer's size; a full buffer is a head too large.
            if (cin_.size() == kBufferSize) return answer(431, CloseCause::BadRequest);
        }
        const std::uint32_t before = cin_.end;
        if (!fillFromClient()) {
            // The client ended or failed between requests (a normal end of a kept-alive
            // connection), or in the middle of a head (nothing to answer).
            if (state_ == State::Head) bytes_in_ = cin_.size();
            return finish(client_failed_ ? CloseCause::ClientReset : CloseCause::ClientFin,
                          client_failed_ ? CloseMode::Abrupt : CloseMode::Clean);
        }
        if (cin_.end == before) {
            giveBack(cin_);  // an idle connection holds no buffer
            return;
        }
    }
}

void HttpSession::onRequestHead(std::size_t head_len) {
    const RequestHead& req = request_;
    // Copies for the record and the response's framing: the head's views die when cin_ moves.
    method_.assign(req.method);
    host_.assign(req.host);
    path_.assign(req.path);
    request_version_ = req.version;
    bytes_in_ = head_len;
    bytes_out_ = 0;
    request_body_ = req.body;
    request_left_ = req.content_length;
    request_ready_ = 0;
    request_end_ = request_error_ = request_sent_ = request_written_ = false;
    request_chunks_.reset();
    response_head_done_ = response_end_ = response_error_ = response_done_ = false;
    response_ready_ = 0;
    dechunk_ = false;
    backend_reusable_ = true;
    backend_eof_ = backend_failed_ = false;
    status_ = 0;
    connect_ms_ = first_byte_ms_ = -1;
    attempts_ = 0;
    reused_ = false;
    pool_ = nullptr;
    close_after_ = !req.keep_alive || draining_;
    to_backend_.clear();
    to_backend_off_ = 0;

    const UpgradeCheck ws = checkWebSocketUpgrade(req);
    websocket_ = ws == UpgradeCheck::Valid;
    if (ws == UpgradeCheck::Invalid) return answer(400, CloseCause::BadRequest);
    if (ws == UpgradeCheck::WrongVersion) return answer(426, CloseCause::BadRequest);

    pool_ = listener_->poolForRequest(req.host, req.path);
    if (!pool_) {
        cin_.begin += static_cast<std::uint32_t>(head_len);
        request_parser_.reset();
        return answer(404, CloseCause::NoRoute, bodiless());
    }

    ForwardContext ctx;
    ctx.client_ip = client_ip_;
    ctx.client_port = client_addr_.port();
    ctx.proto = listener_->tls ? "https" : "http";
    ctx.listener_port = local_addr_.port();
    ctx.websocket = websocket_;
    writeBackendRequestHead(req, ctx, to_backend_);
    cin_.begin += static_cast<std::uint32_t>(head_len);
    request_parser_.reset();
    // Body bytes that came with the head are framed now: a malformed chunked body found here
    // is refused before any backend sees the request.
    frameRequestBody();
    if (request_error_) return answer(400, CloseCause::BadRequest);
    if (takePooled()) return beginExchange();
    dialFresh();
}

void HttpSession::answer(std::uint16_t status, CloseCause cause, bool keep) {
    worker_.loop.cancel(phase_timer_);
    if (!keep || draining_) close_after_ = true;
    to_client_.clear();
    to_client_off_ = 0;
    writeErrorResponse(status, close_after_, to_client_);
    if (method_ == "HEAD") {
        // The answer to a HEAD has no body (its Content-Length says what a GET would get); a
        // body here would be read as the next response on a kept-alive connection.
        const std::size_t head_end = to_client_.find("\r\n\r\n");
        if (head_end != std::string::npos) to_client_.resize(head_end + 4);
    }
    status_ = status;
    bytes_out_ = to_client_.size();  // written after the record
    writeRecord(cause);
    if (backend_) releaseBackend(false);
    response_head_done_ = response_end_ = response_done_ = true;
    response_ready_ = 0;
    request_sent_ = true;
    if (close_after_) {
        state_ = State::Closing;
        closing_cause_ = cause;
    } else {
        state_ = State::Exchange;  // pump() writes it, then endRequest() takes the next request
    }
    drive();
}

// ---- backend -----------------------------------------------------------------------------------

bool HttpSession::takePooled() {
    BackendPool* idle = worker_.http_backends;
    if (!idle || idle->idleCount() == 0) return false;
    auto snapshot = pool_->snapshot();
    // A PROXY header speaks for one client: such connections are never shared.
    if (snapshot->config->backend.proxy_protocol != config::ProxyProtocol::Off) return false;
    std::uint32_t index = 0;
    upstream::PickFailure why = upstream::PickFailure::None;
    auto backend =
        pool_->pick(*snapshot, client_addr_.ipHash(), worker_.random(), {}, &index, &why);
    if (!backend) return false;  // the dialer finds the same and says why
    auto conn = idle->take(*backend, snapshot->config.get());
    if (!conn) {
        pool_->release(*snapshot, index, *backend);
        return false;
    }
    backend_ = std::move(conn);
    backend_->setUser(this);
    backend_->countUse();
    held_snapshot_ = std::move(snapshot);
    held_index_ = index;
    reused_ = true;
    ++attempts_;
    return true;
}

void HttpSession::dialFresh() {
    state_ = State::Dialing;
    auto conn = std::make_unique<BackendConnection>(worker_.loop);
    conn->setUser(this);
    conn->setDialer(std::make_unique<proxy::BackendDialer>(worker_, *listener_, *this,
                                                           conn->transport(), conn.get()));
    backend_ = std::move(conn);
    backend_->dialer()->start(*pool_, client_addr_.ipHash());  // may report at once
}

void HttpSession::writePreface(const config::BackendSettings& settings, std::string& out) {
    proxy::ClientFacts facts;
    facts.source = client_addr_;
    facts.destination = local_addr_;
    facts.tls = client_.tls.get();
    char id[32];
    facts.unique_id = proxy::formatUniqueId(worker_.random(), worker_.random(), id);
    proxy::buildProxyPreface(settings, facts, out);
}

void HttpSession::onDialed() {
    proxy::BackendDialer& dialer = *backend_->dialer();
    attempts_ += dialer.attempts();
    backend_->bind(dialer.backendRef(), pool_->snapshot()->config);
    backend_->countUse();
    beginExchange();
    drive();
}

void HttpSession::onDialFailed(CloseCause cause) {
    attempts_ += backend_->dialer()->attempts();
    // The dialer that reports this is on the stack: the connection goes after this round.
    BackendConnection::discard(std::move(backend_), CloseMode::Abrupt);
    switch (cause) {
        case CloseCause::NoBackend:
        case CloseCause::NoCapacity:
            return answer(503, cause, bodiless());
        case CloseCause::NoResources:
            return answer(503, cause);
        default:
            return answer(502, cause, bodiless());
    }
}

void HttpSession::beginExchange() {
    state_ = State::Exchange;
    if (connect_ms_ < 0) connect_ms_ = msSinceRequest();
    last_activity_ = worker_.loop.now();
    // The response head is due request_timeout after the request's last byte; while the body
    // streams the timer is pushed on (onTimer re-arms it lazily).
    if (!phase_timer_.armed())
        worker_.loop.armAfter(phase_timer_, listener_->config->request_timeout);
    if (!idle_timer_.armed())
        worker_.loop.arm(idle_timer_, last_activity_ + listener_->config->idle_timeout);
    // The first body bytes behind the head, in the same write.
    if (request_ready_ > 0 && request_ready_ <= kCoalesceBytes) {
        to_backend_.append(cin_.data + cin_.begin, request_ready_);
        cin_.begin += request_ready_;
        request_ready_ = 0;
    }
    again_ = true;
}

void HttpSession::frameRequestBody() {
    if (request_ready_ > 0 || request_end_ || request_error_) return;
    switch (request_body_) {
        case BodyKind::None:
        case BodyKind::UntilClose:
            request_end_ = true;
            return;
        case BodyKind::Length: {
            const std::uint64_t n = std::min<std::uint64_t>(cin_.size(), request_left_);
            request_ready_ = static_cast<std::uint32_t>(n);
            request_left_ -= n;
            bytes_in_ += n;
            if (request_left_ == 0) request_end_ = true;
            return;
        }
        case BodyKind::Chunked: {
            if (cin_.empty()) return;
            const auto r = request_chunks_.feed(cin_.view());
            if (r.error) {
                POSTERN_LOG(Debug, "request body refused",
                            "listener=" + common::logfmtValue(listener_->config->name) +
                                " client=" + client_text_ + " error=" + common::logfmtValue(r.why));
                request_error_ = true;
                return;
            }
            request_ready_ = static_cast<std::uint32_t>(r.consumed);
            bytes_in_ += r.consumed;
            if (r.done) request_end_ = true;
            return;
        }
    }
}

bool HttpSession::sendRequest() {
    tls::Transport& t = backend_->transport();
    bool progress = false;
    for (;;) {  // until the backend or the client blocks (see drive())
        if (to_backend_off_ < to_backend_.size()) {
            if (!t.canWrite()) return progress;
            const auto w =
                t.write(to_backend_.data() + to_backend_off_, to_backend_.size() - to_backend_off_);
            if (w.status == net::IoStatus::WouldBlock) return progress;
            if (w.status != net::IoStatus::Ok) {
                backendWriteFailed();
                return false;
            }
            request_written_ = true;
            to_backend_off_ += w.bytes;
            progress = true;
            last_activity_ = worker_.loop.now();
            if (to_backend_off_ < to_backend_.size()) return progress;
            to_backend_.clear();
            to_backend_off_ = 0;
        }
        if (request_ready_ > 0) {
            if (!t.canWrite()) return progress;
            const auto w = t.write(cin_.data + cin_.begin, request_ready_);
            if (w.status == net::IoStatus::WouldBlock) return progress;
            if (w.status != net::IoStatus::Ok) {
                backendWriteFailed();
                return false;
            }
            request_written_ = true;
            cin_.begin += static_cast<std::uint32_t>(w.bytes);
            request_ready_ -= static_cast<std::uint32_t>(w.bytes);
            progress = true;
            last_activity_ = worker_.loop.now();
            if (request_ready_ > 0) return progress;
            continue;
        }
        if (request_end_) {
            request_sent_ = true;
            response_due_from_ = worker_.loop.now();
            return true;
        }
        frameRequestBody();
        if (request_error_) {
            // Part of a malformed chunked body may have reached the backend: the exchange is
            // dead (the backend connection is closed, never reused).
            failExchange(400, CloseCause::BadRequest);
            return false;
        }
        if (request_ready_ > 0 || request_end_) continue;
        const std::uint32_t before = cin_.end;
        if (!fillFromClient()) {
            failExchange(0, client_failed_ ? CloseCause::ClientReset : CloseCause::ClientFin);
            return false;
        }
        if (cin_.end == before) return progress;  // backpressure ends here: wait for the client
        progress = true;
    }
    return progress;
}

// ---- response ----------------------------------------------------------------------------------

bool HttpSession::onResponseHead(std::size_t head_len) {
    const ResponseHead& resp = response_;
    if (resp.status >= 100 && resp.status < 200) {
        if (resp.status == 101) {
            if (!websocket_) {
                failExchange(502, CloseCause::BadResponse);
                return false;
            }
            startWebSocket(head_len);
            return false;
        }
        // 100 Continue and other interim heads go to the client as they came (never to an
        // HTTP/1.0 client: RFC 9110 §15.2); the final head follows.
        if (request_version_ == Version::Http11)
            to_client_.append(bin_.data + bin_.begin, head_len);
        bin_.begin += static_cast<std::uint32_t>(head_len);
        response_parser_.reset();
        return true;
    }
    response_head_done_ = true;
    status_ = resp.status;
    response_body_ = resp.body;
    response_left_ = resp.content_length;
    response_chunks_.reset();
    dechunk_ = request_version_ == Version::Http10 && resp.body == BodyKind::Chunked;
    // A body delimited by the backend's close reaches the client the same way.
    if (resp.body == BodyKind::UntilClose || dechunk_ || draining_) close_after_ = true;
    if (resp.body == BodyKind::UntilClose) backend_reusable_ = false;
    writeClientResponseHead(resp, request_version_, close_after_, dechunk_, to_client_);
    bin_.begin += static_cast<std::uint32_t>(head_len);
    response_parser_.reset();
    return true;
}

void HttpSession::frameResponseBody() {
    if (response_ready_ > 0 || response_end_ || response_error_) return;
    switch (response_body_) {
        case BodyKind::None:
            response_end_ = true;
            return;
        case BodyKind::Length: {
            const std::uint64_t n = std::min<std::uint64_t>(bin_.size(), response_left_);
            response_ready_ = static_cast<std::uint32_t>(n);
            response_left_ -= n;
            if (response_left_ == 0) response_end_ = true;
            return;
        }
        case BodyKind::UntilClose:
            response_ready_ = bin_.size();
            return;
        case BodyKind::Chunked: {
            if (bin_.empty()) return;
            const auto r = dechunk_ ? response_chunks_.feed(bin_.view(), &to_client_)
                                    : response_chunks_.feed(bin_.view());
            if (r.error) {
                POSTERN_LOG(Debug, "invalid response body",
                            "listener=" + common::logfmtValue(listener_->config->name) +
                                " backend=" + backend_->backend().address_text +
                                " error=" + common::logfmtValue(r.why));
                response_error_ = true;
                return;
            }
            if (dechunk_)
                bin_.begin += static_cast<std::uint32_t>(r.consumed);
            else
                response_ready_ = static_cast<std::uint32_t>(r.consumed);
            if (r.done) response_end_ = true;
            return;
        }
    }
}

void HttpSession::coalesceResponseBody() {
    // A head waiting with a small body: one write for both (a 1 KiB response is one send, not two).
    if (!to_client_.empty() && response_ready_ > 0 && response_ready_ <= kCoalesceBytes) {
        to_client_.append(bin_.data + bin_.begin, response_ready_);
        bin_.begin += response_ready_;
        response_ready_ = 0;
    }
}

bool HttpSession::relayResponse() {
    bool progress = false;
    for (;;) {  // until the client or the backend blocks (see drive())
        if (!to_client_.empty()) {
            const std::size_t before = to_client_off_;
            if (!flushToClient()) return progress || to_client_off_ != before;
            progress = true;
        }
        if (response_ready_ > 0) {
            if (!client_.canWrite()) return progress;
            const auto w = client_.write(bin_.data + bin_.begin, response_ready_);
            if (w.status == net::IoStatus::WouldBlock) return progress;
            if (w.status != net::IoStatus::Ok) {
                client_failed_ = true;
                failExchange(0, CloseCause::ClientReset);
                return false;
            }
            bin_.begin += static_cast<std::uint32_t>(w.bytes);
            response_ready_ -= static_cast<std::uint32_t>(w.bytes);
            bytes_out_ += w.bytes;
            total_out_ += w.bytes;
            last_activity_ = worker_.loop.now();
            progress = true;
            if (response_ready_ > 0) return progress;
        }
        if (response_done_) return progress;
        if (response_head_done_) {
            if (response_end_) {
                response_done_ = true;
                return true;
            }
            frameResponseBody();
            if (response_error_) {
                failExchange(502, CloseCause::BadResponse);
                return false;
            }
            if (response_ready_ > 0 || !to_client_.empty() || response_end_) {
                coalesceResponseBody();
                continue;
            }
        } else if (!bin_.empty()) {
            const ParseResult r = response_parser_.parse(bin_.view(), method_, response_);
            if (r.status == ParseStatus::Error) {
                POSTERN_LOG(Debug, "invalid response",
                            "listener=" + common::logfmtValue(listener_->config->name) +
                                " backend=" + backend_->backend().address_text +
                                " error=" + common::logfmtValue(r.error));
                failExchange(502, CloseCause::BadResponse);
                return false;
            }
            if (r.status == ParseStatus::Complete) {
                if (!onResponseHead(r.consumed)) return false;
                progress = true;
                // The body bytes that came with the head leave with it, in one write.
                if (response_head_done_) frameResponseBody();
                if (response_error_) {
                    failExchange(502, CloseCause::BadResponse);
                    return false;
                }
                coalesceResponseBody();
                continue;
            }
            if (bin_.size() == kBufferSize) {
                failExchange(502, CloseCause::BadResponse);
                return false;
            }
        }
        const std::uint32_t before = bin_.end;
        if (!fillFromBackend()) {
            if (bin_.end != before) continue;  // bytes came with the end: take them first
            if (response_head_done_ && response_body_ == BodyKind::UntilClose && backend_eof_) {
                response_ready_ = bin_.size();
                response_end_ = true;
                continue;
            }
            backendEnded();
            return false;
        }
        if (bin_.end == before) return progress;
        progress = true;
    }
    return progress;
}

void HttpSession::pump() {
    if (state_ == State::Closing) {
        if (!lingering_) {
            if (!flushToClient()) return;
            if (!client_.closeWrite()) return;  // TLS: the close_notify waits for the socket
            lingering_ = true;
            worker_.loop.armAfter(phase_timer_, kLingerTime);
        }
        return linger();
    }
    while (state_ == State::Exchange) {
        bool progress = false;
        if (backend_ && !request_sent_) progress |= sendRequest();
        if (state_ != State::Exchange) return;
        if (backend_ || !to_client_.empty()) progress |= relayResponse();
        if (state_ != State::Exchange) return;
        if (response_done_ && to_client_.empty() && response_ready_ == 0) {
            if (!request_sent_) {
                // The backend answered before the whole request was sent (413, say): what is
                // left cannot be told apart from a next request, so both connections end.
                close_after_ = true;
                backend_reusable_ = false;
            }
            return endRequest();
        }
        if (!progress) return;
    }
}

void HttpSession::linger() {
    for (int rounds = 0; rounds < 64 && client_.canRead(); ++rounds) {
        const auto r = client_.read(worker_.scratch, sizeof worker_.scratch);
        if (r.status == net::IoStatus::WouldBlock) return;
        if (r.status != net::IoStatus::Ok) return finish(closing_cause_);
        total_in_ += r.bytes;
    }
}

void HttpSession::failExchange(std::uint16_t status, CloseCause cause) {
    if (state_ == State::Closed) return;
    backend_reusable_ = false;
    if (status != 0 && !response_head_done_ && !client_failed_ && state_ != State::Closing) {
        // Nothing of a response went to the client yet: it gets ours (answer() closes the
        // backend connection once the record has named it).
        response_ready_ = 0;
        return answer(status, cause, request_sent_ && bodiless());
    }
    // The client has part of a response, or is gone: a reset tells it the stream is cut.
    writeRecord(cause);
    finish(cause, client_failed_ ? CloseMode::Abrupt : CloseMode::Reset);
}

void HttpSession::backendEnded() {
    const CloseCause cause = backend_failed_ ? CloseCause::BackendReset : CloseCause::BackendFin;
    if (reused_ && !response_head_done_ && bin_.empty() && first_byte_ms_ < 0) {
        if (!request_written_) {
            // An idle connection the backend had closed: nothing of the request went out, so
            // it goes on a new one.
            releaseBackend(false);
            reused_ = false;
            return dialFresh();
        }
        return reusedConnectionLost(cause);
    }
    failExchange(response_head_done_ ? 0 : 502, cause);
}

void HttpSession::backendWriteFailed() {
    backend_failed_ = true;
    if (reused_ && !request_written_) {
        releaseBackend(false);
        reused_ = false;
        return dialFresh();
    }
    if (reused_ && !response_head_done_ && first_byte_ms_ < 0)
        return reusedConnectionLost(CloseCause::BackendReset);
    failExchange(response_head_done_ ? 0 : 502, CloseCause::BackendReset);
}

void HttpSession::reusedConnectionLost(CloseCause cause) {
    // The request went out on an idle connection that the backend was closing (its keep-alive
    // timeout, or a backend that closes after each response without saying so): it may never
    // have read it, but it may have, so Postern does not send it again. A client on a kept-alive
    // connection of its own sees that connection close without a response — what it sees when a
    // server closes an idle connection as a request leaves — and clients retry then (RFC 9112
    // §9.3.1; browsers for idempotent requests, curl always). Only a client's first request,
    // which no client retries, gets the 502.
    if (requests_ > 1) {
        writeRecord(cause);
        return finish(cause, CloseMode::Clean);
    }
    failExchange(502, cause);
}

void HttpSession::endRequest() {
    writeRecord(CloseCause::Complete);
    const bool reusable =
        backend_reusable_ && response_.keep_alive && request_sent_ && bin_.empty();
    if (backend_) releaseBackend(reusable);
    giveBack(bin_);
    if (close_after_) {
        // Unread client bytes (an upload the backend did not wait for, pipelined requests)
        // would make the close a reset that can destroy the response before the client reads
        // it: shut our side and drain them first.
        if (!request_sent_ || !cin_.empty() || client_.canRead()) {
            state_ = State::Closing;
            closing_cause_ = CloseCause::Complete;
            again_ = true;
            return;
        }
        return finish(CloseCause::Complete);
    }
    // The next request (perhaps already in cin_: pipelined).
    enterIdle();
    again_ = true;
}

void HttpSession::releaseBackend(bool reusable, CloseMode failed_mode) {
    if (!backend_) return;
    if (held_snapshot_) {
        pool_->release(*held_snapshot_, held_index_, *backend_->backendRef());
        held_snapshot_.reset();
    } else if (proxy::BackendDialer* dialer = backend_->dialer()) {
        if (dialer->dialing()) dialer->cancel();  // the session ends while it connects
        dialer->release();
    }
    auto conn = std::move(backend_);
    conn->setUser(nullptr);
    const bool proxy_header =
        conn->settings() && conn->settings()->backend.proxy_protocol != config::ProxyProtocol::Off;
    if (reusable && !proxy_header && worker_.http_backends && conn->backendRef()) {
        worker_.http_backends->put(std::move(conn));
        return;
    }
    BackendConnection::discard(std::move(conn), backend_failed_ ? failed_mode : CloseMode::Clean);
}

// ---- WebSocket ---------------------------------------------------------------------------------

void HttpSession::startWebSocket(std::size_t head_len) {
    worker_.loop.cancel(phase_timer_);
    worker_.loop.cancel(idle_timer_);
    status_ = 101;
    response_head_done_ = true;
    state_ = State::Relay;
    // What is here already goes first: the 101 head and any frames behind it to the client,
    // frames the client sent behind its request to the backend.
    to_client_.clear();
    to_client_off_ = 0;
    writeClientResponseHead(response_, request_version_, false, false, to_client_);
    bin_.begin += static_cast<std::uint32_t>(head_len);
    to_client_.append(bin_.data + bin_.begin, bin_.size());
    bytes_in_ += cin_.size();
    relay_ = std::make_unique<proxy::Relay>(worker_, *this, client_, backend_->transport());
    if (!relay_->preload(proxy::Relay::Side::Client, to_client_) ||
        !relay_->preload(proxy::Relay::Side::Backend, cin_.view())) {
        relay_.reset();
        state_ = State::Exchange;
        return failExchange(502, CloseCause::BadResponse);
    }
    bin_.begin = bin_.end;
    cin_.begin = cin_.end;
    giveBack(cin_);
    giveBack(bin_);
    // An upgraded connection holds only what the relay needs (SPEC: many idle WebSocket
    // sessions): the HTTP staging goes.
    std::string().swap(to_client_);
    std::string().swap(to_backend_);
    std::vector<Header>().swap(request_.headers);
    std::vector<Header>().swap(response_.headers);
    proxy::Relay::Settings settings;
    settings.idle_timeout = listener_->config->ws_idle_timeout;
    settings.idle_cause = CloseCause::WsIdleTimeout;
    settings.max_session = listener_->config->ws_max_session;
    settings.max_session_cause = CloseCause::WsMaxSession;
    relay_->start(settings);
}

void HttpSession::onRelayEnd(CloseCause cause, bool cut) {
    bytes_in_ += relay_->bytesFromClient();
    bytes_out_ += relay_->bytesToClient();
    total_in_ += relay_->bytesFromClient();
    total_out_ += relay_->bytesToClient();
    // A reset from the backend, or a cut mid-stream, must not look like a clean end to the
    // client.
    const CloseMode mode = cut || cause == CloseCause::BackendReset ? CloseMode::Reset
                           : proxy::isAbrupt(cause)                 ? CloseMode::Abrupt
                                                                    : CloseMode::Clean;
    finish(cause, mode);
}

// ---- timers, draining, the end -----------------------------------------------------------------

void HttpSession::onTimer(std::uint32_t tag) {
    if (state_ == State::Closed) return;
    const auto now = worker_.loop.now();
    if (tag == kDrainTimer) return cutAtDeadline(drain_cause_);
    if (tag == kPhaseTimer) {
        switch (state_) {
            case State::Preface:
                if (proxy_reader_) {
                    listener_->stats->worker(worker_.index).proxy_timeout.add();
                    return finish(CloseCause::ProxyTimeout);
                }
                return clientTlsFailed("handshake timeout");
            case State::Head: {
                const auto deadline = request_start_ + listener_->config->request_timeout;
                if (now < deadline) return worker_.loop.arm(phase_timer_, deadline);
                return answer(408, CloseCause::RequestTimeout);
            }
            case State::Closing:
                // The linger's end; before it, a deadline of an earlier phase (the idle timer
                // bounds the last flush).
                if (lingering_) return finish(closing_cause_);
                return;
            case State::Exchange: {
                if (response_head_done_) return;
                // While the request still streams, its last byte moves the deadline on.
                const auto from = request_sent_ ? response_due_from_ : last_activity_;
                const auto deadline = from + listener_->config->request_timeout;
                if (now < deadline) return worker_.loop.arm(phase_timer_, deadline);
                return failExchange(504, CloseCause::RequestTimeout);
            }
            default:
                return;
        }
    }
    // The idle timer: between requests, while a request or response streams, while our last
    // answer waits for the client to read it. Re-armed lazily.
    const auto idle = listener_->config->idle_timeout;
    const auto deadline = last_activity_ + idle;
    if (now < deadline) return worker_.loop.arm(idle_timer_, deadline);
    switch (state_) {
        case State::Idle:
            return finish(CloseCause::IdleTimeout);
        case State::Exchange:
            return failExchange(response_head_done_ ? 0 : 504, CloseCause::IdleTimeout);
        case State::Closing:
            if (!lingering_) return finish(closing_cause_, CloseMode::Reset);
            break;
        default:
            break;
    }
    worker_.loop.arm(idle_timer_, now + idle);  // the phase's own deadline bounds it meanwhile
}

const upstream::Backend* HttpSession::backend() const {
    if (!backend_) return nullptr;
    if (backend_->backendRef()) return backend_->backendRef().get();
    const proxy::BackendDialer* dialer = backend_->dialer();
    return dialer ? dialer->backend() : nullptr;  // still dialing
}

const upstream::Pool* HttpSession::anyPool() const {
    if (pool_) return pool_;
    if (listener_->pool) return listener_->pool.get();
    for (const auto& p : listener_->route_pools)
        if (p) return p.get();
    return nullptr;
}

config::Millis HttpSession::drainTimeout() const {
    const upstream::Pool* pool = anyPool();
    return pool ? pool->snapshot()->config->drain_timeout : config::Millis(0);
}

void HttpSession::drainBy(net::Clock::time_point cut, CloseCause cause) {
    if (state_ == State::Closed) return;
    draining_ = true;
    // A kept-alive connection between requests carries nothing: it closes now (as nginx and
    // HAProxy close idle keep-alive connections when they stop); one with a request in flight
    // ends after its response, or at the cut.
    if (state_ == State::Idle && cin_.empty()) return finish(cause);
    if (cut <= worker_.loop.now()) return cutAtDeadline(cause);
    if (drain_timer_.armed() && drain_timer_.deadline() <= cut) return;
    drain_cause_ = cause;
    worker_.loop.arm(drain_timer_, cut);
}

void HttpSession::cancelDrain() {
    if (state_ == State::Closed) return;
    worker_.loop.cancel(drain_timer_);
}

void HttpSession::abortForShutdown() {
    if (state_ != State::Closed) cutAtDeadline(CloseCause::Shutdown);
}

void HttpSession::cutAtDeadline(CloseCause cause) {
    if (state_ == State::Relay && relay_ && relay_->active()) return relay_->cut(cause);
    // A FIN would tell a client mid-download that the response is complete (one delimited by
    // the close): with part of a response out, or bytes in flight, the cut is a reset.
    const bool mid_response =
        (state_ == State::Exchange && response_head_done_ && !response_done_) ||
        !to_client_.empty() || response_ready_ > 0;
    const bool busy = mid_response || client_.bytesInFlight() ||
                      (backend_ && backend_->transport().bytesInFlight());
    finish(cause, busy ? CloseMode::Reset : CloseMode::Clean);
}

void HttpSession::writeRecord(CloseCause cause) {
    if (!request_open_) return;
    request_open_ = false;
    auto& stats = listener_->stats->worker(worker_.index);
    stats.countClose(cause);
    stats.request_duration.observe(worker_.loop.now() - request_start_);
    if (!worker_.access_log || !worker_.access_log->enabled()) return;
    proxy::RequestRecord rec;
    rec.listener = listener_->config->name;
    rec.client = client_text_;
    rec.method = method_;
    rec.host = host_;
    rec.path = path_;
    rec.status = status_;
    if (pool_) rec.pool = pool_->name();
    if (backend_ && backend_->backendRef()) rec.backend = backend_->backendRef()->address_text;
    rec.bytes_in = bytes_in_;
    rec.bytes_out = bytes_out_;
    rec.connect_ms = connect_ms_;
    rec.first_byte_ms = first_byte_ms_;
    rec.total_ms = msSinceRequest();
    rec.attempts = attempts_;
    rec.reused = reused_;
    rec.cause = proxy::closeCauseName(cause);
    worker_.access_log->write(rec);
}

void HttpSession::finish(CloseCause cause, CloseMode mode) {
    if (state_ == State::Closed) return;
    const bool any_request = requests_ > 0;
    if (request_open_) writeRecord(cause);
    state_ = State::Closed;
    worker_.loop.cancel(phase_timer_);
    worker_.loop.cancel(idle_timer_);
    worker_.loop.cancel(drain_timer_);
    if (relay_) relay_->stop();
    if (backend_) {
        if (mode != CloseMode::Clean) backend_failed_ = true;
        releaseBackend(false, mode == CloseMode::Reset ? CloseMode::Reset : CloseMode::Abrupt);
    }
    client_.close(worker_.loop, mode);
    proxy::releaseClient(*listener_, client_slot_);
    client_slot_ = proxy::ClientLimits::kNoSlot;
    listener_->stats->active.fetch_sub(1, std::memory_order_relaxed);
    auto& stats = listener_->stats->worker(worker_.index);
    stats.bytes_in.add(total_in_);
    stats.bytes_out.add(total_out_);
    if (worker_.global_active) worker_.global_active->fetch_sub(1, std::memory_order_relaxed);
    if (!any_request && failedBeforeAnyRequest(cause)) {
        stats.countClose(cause);
        if (worker_.access_log && worker_.access_log->enabled()) {
            const std::string client = client_addr_.toString();
            proxy::AccessRecord rec;
            rec.listener = listener_->config->name;
            rec.client = client;
            if (listener_->pool) rec.pool = listener_->pool->name();
            rec.total_ms = msSinceRequest();
            rec.cause = proxy::closeCauseName(cause);
            if (listener_->tls) {
                rec.tls = true;
                rec.tls_error = tls_error_;
                if (client_.tls) {
                    rec.sni = client_.tls->serverName();
                    rec.alpn = client_.tls->alpn();
                }
            }
            worker_.access_log->write(rec);
        }
    }
    retire();
}

}  // namespace postern::http
