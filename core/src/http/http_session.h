// One client connection of an http or https listener (SPEC §3, HTTP / WebSocket): requests read
// one after the other on the kept-alive connection (pipelined ones wait in the socket and in the
// input buffer, and are answered in order, one at a time), each routed by host and path to a
// pool and sent to a backend connection — an idle one from the worker's BackendPool when the
// backend the balancer picked has one, else a new one through a BackendDialer — its body
// streamed with backpressure, the response streamed back; then the next request. A WebSocket
// upgrade that the backend accepts (101) turns the connection into a proxy::Relay for the rest of
// its life. Lives on one worker thread; freed through the loop's deferred list (Session::retire).
//
// Per request:
//   head     the client's bytes are parsed in `cin_` (RequestParser, SPEC §3 limits); an error is
//            answered (400/414/431/501/505) and the connection closed after it; request_timeout
//            bounds the head from its first byte (408).
//   route    ListenerContext::poolForRequest(host, path); none → 404.
//   backend  the balancer picks a backend (503 when none is up with capacity); its most recently
//            used idle connection is taken, else one is connected (502 when every attempt
//            failed). A pooled connection that turns out dead before any byte of the request
//            reached it is replaced by a new one; once a byte was written the request is never
//            sent again: when a reused connection dies before any response byte, a client on a
//            kept-alive connection of its own sees it close without a response (and retries,
//            RFC 9112 §9.3.1), a first request gets 502. The pick's capacity is held until the
//            response ends.
//   request  the rewritten head (X-Forwarded-*, Forwarded; hop-by-hop fields removed) and the
//            body — Content-Length bytes or chunked (followed by a ChunkedDecoder, forwarded as
//            is) — never buffered whole: `cin_` is read only while it has room, and only what the
//            backend took is consumed. Head and the first body bytes leave in one write.
//   response the backend's head, due within request_timeout of the request's last byte (504),
//            parsed (invalid → 502); 1xx heads are relayed (100 Continue for Expect); the head is
//            rewritten for the client and the body streamed (length, chunked, until close; none
//            for HEAD/204/304; de-chunked for an HTTP/1.0 client, whose connection then closes).
//            Head and the first body bytes leave in one write.
//   end      one access-log record; the backend connection goes back to the pool when the
//            response was complete and both sides may keep it, else it is closed.
// Answers of Postern's own end the connection (after reading what the client still sends, so
// the close does not destroy the answer), except 404/502/503/504 to a complete request without
// a body. While a response body streams, idle_timeout bounds the silence; between requests too.
// A drain or the shutdown closes a connection between requests at once, and one with a request
// in flight after its response (or at the cut).
//
// Every event goes through drive(), which runs the state's work until it waits: the streaming
// loops run until a side blocks (edge-triggered readiness gives no second chance), and requests
// answered at once follow each other in its loop rather than in a recursion.
//
// Buffers: `cin_` and `bin_` are BufferPool buffers held only while they hold bytes (an idle
// keep-alive connection holds none); the heads, their header vectors and the staging strings
// keep their capacity across requests, so a steady keep-alive stream allocates nothing per
// request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/proxy_header_reader.h"
#include "http/backend_pool.h"
#include "http/message.h"
#include "http/parser.h"
#include "net/event_loop.h"
#include "net/socket_address.h"
#include "proxy/backend_dialer.h"
#include "proxy/close_cause.h"
#include "proxy/relay.h"
#include "proxy/session.h"
#include "proxy/worker_context.h"
#include "tls/transport.h"

namespace postern::http {

class HttpSession final : public proxy::Session,
                          public net::TimerHandler,
                          public BackendConnection::User,
                          public proxy::BackendDialer::Owner,
                          public proxy::Relay::Owner {
public:
    HttpSession(proxy::WorkerContext& worker,
                std::shared_ptr<const proxy::ListenerContext> listener,
                const proxy::AcceptedConnection& accepted);
    ~HttpSession() override;

    /** The SessionFactory of http and https listeners. */
    static std::unique_ptr<proxy::Session> create(
        proxy::WorkerContext& worker, std::shared_ptr<const proxy::ListenerContext> listener,
        const proxy::AcceptedConnection& accepted);

    void start() override;
    void abortForShutdown() override;
    /** The backend of the request in flight; null between requests. */
    const upstream::Backend* backend() const override;
    config::Millis drainTimeout() const override;
    /** A connection between requests closes now; one with a request in flight says
     * "Connection: close" on its response and ends after it, or is cut at `cut`. */
    void drainBy(net::Clock::time_point cut, proxy::CloseCause cause) override;
    void cancelDrain() override;

    void onTimer(std::uint32_t tag) override;
    void onBackendIo(std::uint32_t events) override;
    void writePreface(const config::BackendSettings& settings, std::string& out) override;
    void onDialed() override;
    void onDialFailed(proxy::CloseCause cause) override;
    void onRelayEnd(proxy::CloseCause cause, bool cut) override;

private:
    enum TimerTag : std::uint32_t { kPhaseTimer = 1, kIdleTimer = 2, kDrainTimer = 3 };
    enum class State : std::uint8_t {
        Preface,   ///< accept_proxy header, then the TLS handshake (https)
        Idle,      ///< between requests: no byte of the next one yet
        Head,      ///< part of a request head received
        Dialing,   ///< the request waits for its backend connection
        Exchange,  ///< request and response streaming (or our own answer being written)
        Closing,   ///< the last bytes for the client are written, then the connection closes
        Relay,     ///< WebSocket after the 101
        Closed,
    };

    /** A BufferPool buffer holding [begin, end). */
    struct Buffer {
        char* data = nullptr;
        std::uint32_t begin = 0;
        std::uint32_t end = 0;
        std::uint32_t size() const { return end - begin; }
        bool empty() const { return begin == end; }
        std::string_view view() const { return {data + begin, size()}; }
    };

    struct ClientIo final : net::IoHandler {
        HttpSession* session = nullptr;
        void onIo(std::uint32_t events) override { session->onClientIo(events); }
    };

    // Client phase.
    void beginProxyHeader();
    void readProxyHeader();
    void afterClientPreface();
    void clientHandshakeStep();
    void clientTlsFailed(std::string_view why);
    void onClientIo(std::uint32_t events);
    /** Between requests: idle_timeout runs, no buffer is held. */
    void enterIdle();
    /** Runs the state's work until it waits for an event: the entry of every event. Re-entered
     * calls only note that another round is due (no recursion per pipelined request). */
    void drive();
    /** Closing: our last answer is out; the client's unread bytes are read and dropped until it
     * closes (or a short deadline), so closing does not reset the connection before the client
     * has read the answer. */
    void linger();

    // Requests.
    /** Parses the next request head from `cin_`, reading the client as needed. */
    void readHead();
    void onRequestHead(std::size_t head_len);
    /** Our own response `status` to the request (its record says `cause`); the connection
     * closes after it unless `keep` and nothing forbids it. */
    void answer(std::uint16_t status, proxy::CloseCause cause, bool keep = false);
    /** Whether answering this request can keep the connection: complete and without a body. */
    bool bodiless() const { return request_body_ == BodyKind::None; }
    /** An idle pooled connection to the backend the balancer picks; false when there is none
     * (nothing held then). */
    bool takePooled();
    void dialFresh();
    /** The backend connection is ready for the request (pooled or new). */
    void beginExchange();
    void pump();
    /** Request head and body towards the backend; true when something moved. */
    bool sendRequest();
    /** Response head and body towards the client; true when something moved. */
    /** Moves a small framed body behind a head still waiting in to_client_. */
    void coalesceResponseBody();
    bool relayResponse();
    /** A complete response head in bin_; false when the exchange has ended. */
    bool onResponseHead(std::size_t head_len);
    void frameRequestBody();
    void frameResponseBody();
    /** The exchange cannot go on: `status` for the client if it has no response head yet
     * (0: none, the client is closed), the record's `cause`. */
    void failExchange(std::uint16_t status, proxy::CloseCause cause);
    /** The backend closed or reset its side during the exchange. */
    void backendEnded();
    /** Writing the request to the backend failed. */
    void backendWriteFailed();
    /** A reused connection ended after the request went out and before any response byte. */
    void reusedConnectionLost(proxy::CloseCause cause);
    /** The request and its response are complete: record, backend connection back to the pool
     * or closed, capacity released; then the next request or the close. */
    void endRequest();
    /** Gives back the capacity held for the request and the connection: to the pool when
     * `reusable`, else closed (cleanly, or with `failed_mode` after a failure). */
    void releaseBackend(bool reusable,
                        tls::Transport::CloseMode failed_mode = tls::Transport::CloseMode::Abrupt);
    /** The backend's 101: the rest of the connection is a byte relay (ws_idle_timeout,
     * ws_max_session). */
    void startWebSocket(std::size_t head_len);

    // I/O.
    /** Reads the client into cin_ while it has room; false at the client's end (client_eof_)
     * or failure (client_failed_). */
    bool fillFromClient();
    bool fillFromBackend();
    /** Writes to_client_ from to_client_off_; true when all of it is out. False as well when
     * the client failed (the session is closed then). */
    bool flushToClient();
    bool ensureRoom(Buffer& b);
    void giveBack(Buffer& b);

    /** The request's access-log record (once) and its counter. */
    void writeRecord(proxy::CloseCause cause);
    /** Ends the connection. `cause` goes into the record of a request still open, or into a
     * connection record when none ever began and the end is a failure worth one (TLS, PROXY). */
    void finish(proxy::CloseCause cause,
                tls::Transport::CloseMode mode = tls::Transport::CloseMode::Clean);
    void cutAtDeadline(proxy::CloseCause cause);
    std::int64_t msSinceRequest() const;
    /** The pool settings this session's requests go by when it names no pool yet. */
    const upstream::Pool* anyPool() const;

    ClientIo client_io_;
    tls::Transport client_;
    net::SocketAddress client_addr_;
    std::string client_ip_;          ///< textual, for X-Forwarded-For / Forwarded
    std::string client_text_;        ///< "ip:port", for the records
    std::string_view tls_error_;     ///< why the client's TLS failed
    net::SocketAddress local_addr_;  ///< what the client connected to (the PROXY-carried one)
    std::uint32_t client_slot_;
    std::unique_ptr<codec::ProxyHeaderReader> proxy_reader_;
    net::Timer phase_timer_;
    net::Timer idle_timer_;
    net::Timer drain_timer_;
    proxy::CloseCause drain_cause_ = proxy::CloseCause::Drained;
    bool draining_ = false;
    State state_ = State::Preface;
    bool driving_ = false;
    bool again_ = false;
    bool lingering_ = false;      ///< Closing: the answer is out, our side is shut
    std::uint32_t requests_ = 0;  ///< requests begun on this connection

    // The request in flight (the small fields are grouped at the end: every session carries
    // them, upgraded WebSocket sessions by the thousand).
    Buffer cin_;  ///< from the client: the head, body bytes, then pipelined requests
    Buffer bin_;  ///< from the backend
    RequestParser request_parser_;
    RequestHead request_;
    ResponseParser response_parser_;
    ResponseHead response_;
    std::string method_;  ///< copies for the record and the response's framing
    std::string host_;
    std::string path_;
    upstream::Pool* pool_ = nullptr;
    std::unique_ptr<BackendConnection> backend_;
    /** A pooled connection's capacity, taken by our own pick (a new connection's is its
     * dialer's). */
    std::shared_ptr<const upstream::Snapshot> held_snapshot_;
    std::string to_backend_;  ///< the rewritten head and first body bytes, until written
    std::size_t to_backend_off_ = 0;
    std::string to_client_;  ///< response head, 1xx heads, de-chunked body, our own answers
    std::size_t to_client_off_ = 0;
    std::uint64_t request_left_ = 0;  ///< Length: body bytes not framed yet
    ChunkedDecoder request_chunks_;
    std::uint64_t response_left_ = 0;
    ChunkedDecoder response_chunks_;
    std::unique_ptr<proxy::Relay> relay_;

    // The record of the request in flight.
    net::Clock::time_point request_start_;
    net::Clock::time_point last_activity_;
    net::Clock::time_point response_due_from_;  ///< the request's last byte went out
    std::uint64_t bytes_in_ = 0;   ///< of this request (client → us)
    std::uint64_t bytes_out_ = 0;  ///< of this response (us → client)
    std::int64_t connect_ms_ = -1;
    std::int64_t first_byte_ms_ = -1;
    std::uint64_t total_in_ = 0;  ///< the connection's, for the listener's counters
    std::uint64_t total_out_ = 0;

    std::uint32_t held_index_ = 0;
    std::uint32_t request_ready_ = 0;   ///< framed body bytes at cin_'s front, not written yet
    std::uint32_t response_ready_ = 0;  ///< framed body bytes at bin_'s front, not written yet
    std::uint32_t attempts_ = 0;
    std::uint16_t status_ = 0;
    Version request_version_ = Version::Http11;
    BodyKind request_body_ = BodyKind::None;
    BodyKind response_body_ = BodyKind::None;
    proxy::CloseCause closing_cause_ = proxy::CloseCause::Complete;
    bool request_end_ = false;      ///< framing reached the body's end
    bool request_error_ = false;    ///< the chunked body is malformed
    bool request_sent_ = false;     ///< all of the request reached the backend
    bool request_written_ = false;  ///< some byte of the request reached the backend
    bool response_head_done_ = false;
    bool response_end_ = false;
    bool response_error_ = false;
    bool response_done_ = false;  ///< everything of the response is written or staged
    bool dechunk_ = false;
    bool close_after_ = false;  ///< the client connection ends after this response
    bool backend_reusable_ = true;
    bool websocket_ = false;  ///< a valid upgrade was forwarded
    bool client_eof_ = false;
    bool client_failed_ = false;
    bool backend_eof_ = false;
    bool backend_failed_ = false;
    bool request_open_ = false;  ///< a request began and has no record yet
    bool reused_ = false;
};

}  // namespace postern::http
