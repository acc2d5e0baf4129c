// One proxied connection of a tcp or tls listener, put together from the pieces every session
// uses: the client side accepted by the listener (its PROXY header on accept_proxy listeners,
// then TLS terminated here on tls listeners), the backend side opened by a BackendDialer (pick →
// connect → preface → TLS → retries on other backends), a Relay moving the bytes both ways
// (half-close, backpressure, splice, the idle timeout), and one access-log line at the end.
// Lives on one worker thread for its whole life; destroyed through the loop's deferred list.
//
// Phases (State):
//   ProxyHeader      accept_proxy listeners only: the PROXY header of a trusted sender, peeked off
//                    the raw socket before anything else (TLS included), bounded by a timer; the
//                    client address becomes the one it carries.
//   ClientHandshake  TLS listeners only: the client's handshake, bounded by handshake_timeout.
//   ClientHello      tcp listeners with SNI routes only: the client's ClientHello is peeked (not
//                    taken off the socket: the backend gets every byte untouched) until its SNI is
//                    known, within the listener's idle_timeout (at most 10 s).
//   (routing)        the pool: the first [[listener.route]] matching the SNI (the handshake's on
//                    tls listeners, the peeked one on tcp), else the listener's pool; none =
//                    closed with cause no_route (beginBackend()).
//   Connecting       the dialer picks and connects a backend of the chosen pool, writes the
//                    preface (a PROXY header) and does the TLS handshake of TLS backends, within
//                    connect_timeout per attempt; a failed attempt tries the next backend.
//   Relaying         the relay, until both ends finished, an error, or the idle timeout.
// A drain (reload, backend removal, shutdown) cuts the session in any phase at its deadline.
//
// Each side is a tls::Transport (a plain side: recv/send on the fd, no virtual call, no
// allocation); both are registered with the loop once, with this session's Side handlers, which
// forward events to the piece at work (the dialer, then the relay).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codec/proxy_header_reader.h"
#include "net/event_loop.h"
#include "net/socket_address.h"
#include "proxy/backend_dialer.h"
#include "proxy/close_cause.h"
#include "proxy/relay.h"
#include "proxy/session.h"
#include "proxy/worker_context.h"
#include "tls/tls_stream.h"
#include "tls/transport.h"
#include "upstream/pool.h"

namespace postern::proxy {

using codec::ProxyHeaderReader;

class TcpSession final : public Session,
                         public net::TimerHandler,
                         private BackendDialer::Owner,
                         private Relay::Owner {
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
    enum TimerTag : std::uint32_t { kPhaseTimer = 1, kDrainTimer = 2 };
    enum class State : std::uint8_t {
        ProxyHeader,
        ClientHandshake,
        ClientHello,
        Connecting,
        Relaying,
        Closed
    };

    struct Side final : net::IoHandler {
        TcpSession* session = nullptr;
        tls::Transport io;
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

    // SNI routing (tls listeners: after the handshake; tcp listeners with SNI routes: peeked).
    void beginClientHello();
    void readClientHello();
    /** The server name the client sent: from its TLS handshake, or peeked; "" = none. */
    std::string_view clientSni() const;

    // Backend phase (BackendDialer).
    /** Chooses the pool (routes, else the listener's pool) and dials it; no_route when none. */
    void beginBackend();
    /** The PROXY header the pool's backends expect, from client_addr_, the listener address
     * and, for v2 TLVs, the client's TLS (SNI, ALPN, version, cipher). */
    void writePreface(const config::BackendSettings& settings, std::string& out) override;
    void onDialed() override;
    void onDialFailed(CloseCause cause) override;

    // Relay.
    void onRelayEnd(CloseCause cause, bool cut) override;

    /** Ends the session because a deadline passed (drain, shutdown): reset if bytesInFlight(). */
    void cutAtDeadline(CloseCause cause);
    void finish(CloseCause cause);
    std::int64_t msSinceStart() const;

    net::SocketAddress client_addr_;
    std::uint32_t client_slot_;  ///< per-client concurrency entry held, or ClientLimits::kNoSlot
    Side client_;
    Side backend_;
    net::Timer phase_timer_;
    net::Timer drain_timer_;                    ///< armed only while the connection drains
    CloseCause drain_cause_ = CloseCause::Drained;
    State state_ = State::Connecting;
    bool reset_on_close_ = false;  ///< finish() resets both sides (cut mid-stream at a deadline)

    /** Picks and connects the backend side (backend_.io), with retries. */
    BackendDialer dialer_;
    /** Bytes both ways once the backend is connected. */
    Relay relay_;
    /** The SNI peeked from a passthrough client's ClientHello (tcp listeners with SNI routes
     * only: a pointer, so other sessions pay 8 bytes for it). */
    std::unique_ptr<std::string> peeked_sni_;

    /** accept_proxy: reads the client's PROXY header (then released); the address the client
     * connected to as that header says (AF_UNSPEC: none, use getsockname). */
    std::unique_ptr<ProxyHeaderReader> proxy_reader_;
    net::SocketAddress proxy_destination_;

    net::Clock::time_point started_;
    std::int64_t tls_handshake_ms_ = -1;  ///< client handshake done, ms since accept
    std::int64_t connect_ms_ = -1;        ///< backend ready (connected, TLS done), ms since accept
    std::string_view tls_error_;  ///< why the client's TLS failed (points into client_.tls or static)
};

}  // namespace postern::proxy
