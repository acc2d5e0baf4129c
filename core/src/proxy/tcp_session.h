// One proxied connection: the client side accepted by a listener (plain TCP, or TLS terminated
// here), the backend side opened through a BackendDialer (pick → connect → preface → TLS →
// retries on other backends), and the byte relay in both directions with half-close,
// backpressure (a side is not read while its peer still holds unsent bytes), the idle timeout,
// and one access-log line at the end. Lives on one worker thread for its whole life; destroyed
// through the loop's deferred list.
//
// Phases (State):
//   ProxyHeader      accept_proxy listeners only: the PROXY header of a trusted sender, peeked off
//                    the raw socket before anything else (TLS included), bounded by a timer; the
//                    client address becomes the one it carries.
//   ClientHandshake  TLS listeners only: the client's handshake, bounded by handshake_timeout.
//   Connecting       the dialer picks and connects a backend of the listener's pool, writes the
//                    preface (a PROXY header) and does the TLS handshake of TLS backends, within
//                    connect_timeout per attempt; a failed attempt tries the next backend.
//   Relaying         bytes both ways until both ends finished, an error, or the idle timeout.
//
// Each side is a tls::Transport: a plain side has no TLS object, its I/O is recv/send on the fd,
// with no virtual call and no allocation; a TLS side goes through tls::TlsStream, whose "wants
// read / wants write" results are folded into the same readable/writable flags.
// Between two plain sides, a direction that moved a full buffer (bulk data) switches to splice
// (gateway.splice, Linux): socket → kernel pipe → socket, the bytes never copied through user
// space; the pipe's contents count as that direction's pending bytes (same backpressure,
// half-close and end rules).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "codec/proxy_header_reader.h"
#include "net/event_loop.h"
#include "net/pipe.h"
#include "net/socket_address.h"
#include "proxy/backend_dialer.h"
#include "proxy/close_cause.h"
#include "proxy/session.h"
#include "proxy/worker_context.h"
#include "tls/tls_stream.h"
#include "tls/transport.h"
#include "upstream/pool.h"

namespace postern::proxy {

using codec::ProxyHeaderReader;

class TcpSession final : public Session, public net::TimerHandler, private BackendDialer::Owner {
public:
    TcpSession(WorkerContext& worker, std::shared_ptr<const ListenerContext> listener,
               const AcceptedConnection& accepted);
    ~TcpSession() override;

    /** The SessionFactory of tcp and tls listeners. */
    static std::unique_ptr<Session> create(WorkerContext& worker,
                                           std::shared_ptr<const ListenerContext> listener,
                                           const AcceptedConnection& accepted);

    /** Starts the client phase (TLS handshake on TLS listeners), then picks a backend and
     * connects (or closes at once when none can take it). */
    void start() override;
    void abortForShutdown() override;
    const upstream::Backend* backend() const override { return dialer_.backend(); }
    config::Millis drainTimeout() const override;
    /** Cuts by cutAtDeadline(). */
    void drainBy(net::Clock::time_point cut, CloseCause cause) override;
    void cancelDrain() override;

    void onTimer(std::uint32_t tag) override;

private:
    /** kPhaseTimer bounds the PROXY header, then the client handshake (the backend connect has
     * the dialer's own deadline). */
    enum TimerTag : std::uint32_t { kPhaseTimer = 1, kIdleTimer = 2, kDrainTimer = 3 };
    enum class State : std::uint8_t { ProxyHeader, ClientHandshake, Connecting, Relaying, Closed };

    struct Side final : net::IoHandler {
        TcpSession* session = nullptr;
        bool is_client = false;
        tls::Transport io;
        /** Bytes to this side move through a kernel pipe (splice): set once the direction
         * carried a full buffer and both sides are plain TCP. */
        bool splicing = false;
        // Bytes waiting to be written TO this side.
        char* pending = nullptr;
        std::uint32_t pending_off = 0;
        std::uint32_t pending_len = 0;
        // Bytes on their way to this side inside a kernel pipe (splicing only; the pipe is held
        // only while it holds bytes).
        std::uint32_t pipe_len = 0;
        net::Pipe* pipe = nullptr;
        void onIo(std::uint32_t events) override { session->onIo(*this, events); }
    };

    void onIo(Side& side, std::uint32_t events);

    // Client phase.
    void beginProxyHeader();
    void readProxyHeader();
    void proxyHeaderFailed(CloseCause cause, std::string_view why);
    void afterClientPreface();
    void clientHandshakeStep();
    void clientTlsFailed(std::string_view why);

    // Backend phase (BackendDialer).
    void beginBackend();
    /** The PROXY header the pool's backends expect, from client_addr_, the listener address
     * and, for v2 TLVs, the client's TLS (SNI, ALPN, version, cipher). */
    void writePreface(const config::BackendSettings& settings, std::string& out) override;
    void onDialed() override;
    void onDialFailed(CloseCause cause) override;

    // Relay.
    void pump();
    /** Moves bytes src → dst; returns true when anything happened. */
    bool transfer(Side& src, Side& dst);
#ifdef __linux__
    /** transfer() for a splicing direction: socket → pipe → socket, no copy. */
    bool spliceTransfer(Side& src, Side& dst);
#endif
    /** A read from src that brought no bytes and cannot be retried: its end of stream (FIN or
     * close_notify: marked, true) or its failure (the session closes: false). */
    bool readEnded(Side& src, const net::IoResult& r);
    /** Once src has ended and everything for dst is written: ends our sending side to dst. */
    bool endDirection(Side& src, Side& dst);
    bool flushPending(Side& dst);
    void stash(Side& dst, const char* data, std::size_t len);
    void sideFailed(Side& side, net::IoStatus status);
    /** Ends the session because a deadline passed (drain, shutdown): reset if bytesInFlight(). */
    void cutAtDeadline(CloseCause cause);
    /** Bytes read but not delivered (buffers, pipes, TLS records), unread in a socket, or sent
     * and not yet acknowledged: the stream is not at rest. */
    bool bytesInFlight() const;
    void finish(CloseCause cause);
    std::int64_t msSinceStart() const;

    net::SocketAddress client_addr_;
    std::uint32_t client_slot_;  ///< per-client concurrency entry held, or ClientLimits::kNoSlot
    Side client_;
    Side backend_;
    net::Timer phase_timer_;
    net::Timer idle_timer_;
    net::Timer drain_timer_;                    ///< armed only while the connection drains
    CloseCause drain_cause_ = CloseCause::Drained;
    State state_ = State::Connecting;
    bool reset_on_close_ = false;  ///< finish() resets both sides (cut mid-stream at a deadline)

    /** Picks and connects the backend side (backend_.io), with retries. */
    BackendDialer dialer_;

    /** accept_proxy: reads the client's PROXY header (then released); the address the client
     * connected to as that header says (AF_UNSPEC: none, use getsockname). */
    std::unique_ptr<ProxyHeaderReader> proxy_reader_;
    net::SocketAddress proxy_destination_;

    net::Clock::time_point started_;
    net::Clock::time_point last_activity_;
    std::int64_t tls_handshake_ms_ = -1;  ///< client handshake done, ms since accept
    std::int64_t connect_ms_ = -1;        ///< backend ready (connected, TLS done), ms since accept
    std::int64_t first_byte_ms_ = -1;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    /** ClientFin or BackendFin: who ended first (ClientFin until one did). */
    CloseCause first_fin_ = CloseCause::ClientFin;
    bool fin_seen_ = false;
    std::string_view tls_error_;  ///< why the client's TLS failed (points into client_.tls or static)
};

}  // namespace postern::proxy
