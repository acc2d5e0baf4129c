// One proxied connection: the client side accepted by a listener (plain TCP, or TLS terminated
// here), the backend side opened by this session (pick → non-blocking connect → optional preface
// bytes → optional TLS handshake → retries on other backends), and the byte relay in both
// directions with half-close, backpressure (a side is not read while its peer still holds unsent
// bytes), the idle timeout, and one access-log line at the end. Lives on one worker thread for
// its whole life; destroyed through the loop's deferred list.
//
// Phases (State):
//   ProxyHeader      accept_proxy listeners only: the PROXY header of a trusted sender, peeked off
//                    the raw socket before anything else (TLS included), bounded by a timer; the
//                    client address becomes the one it carries.
//   ClientHandshake  TLS listeners only: the client's handshake, bounded by handshake_timeout.
//   Connecting       a backend is picked and connected; then backend_preface_ (raw bytes, e.g. a
//                    PROXY header) is written before anything else.
//   BackendHandshake TLS backends only; connect_timeout bounds connect + preface + handshake, and
//                    a failed handshake is a connect failure (the next backend is tried).
//   Relaying         bytes both ways until both ends finished, an error, or the idle timeout.
//
// A plain side has no TLS object (Side::tls is null): its I/O is recv/send on the fd, with no
// virtual call and no allocation; a TLS side goes through tls::TlsStream, whose "wants read /
// wants write" results are folded into the same readable/writable flags.
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
#include "proxy/close_cause.h"
#include "proxy/session.h"
#include "proxy/worker_context.h"
#include "tls/tls_stream.h"
#include "upstream/pool.h"

namespace postern::proxy {

using codec::ProxyHeaderReader;

class TcpSession final : public Session, public net::TimerHandler {
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
    const upstream::Backend* backend() const override { return backend_ref_.get(); }
    config::Millis drainTimeout() const override;
    /** Cuts by cutAtDeadline(). */
    void drainBy(net::Clock::time_point cut, CloseCause cause) override;
    void cancelDrain() override;

    void onTimer(std::uint32_t tag) override;

private:
    /** kPhaseTimer bounds the client handshake, then the backend connect (+ handshake). */
    enum TimerTag : std::uint32_t { kPhaseTimer = 1, kIdleTimer = 2, kDrainTimer = 3 };
    enum class State : std::uint8_t { ProxyHeader, ClientHandshake, Connecting, BackendHandshake, Relaying, Closed };

    struct Side final : net::IoHandler {
        TcpSession* session = nullptr;
        net::Fd fd = net::kInvalidFd;
        bool is_client = false;
        bool readable = false;     ///< edge seen, not yet drained to EAGAIN
        bool writable = false;
        bool peer_closed = false;  ///< RDHUP/HUP seen: keep reading until EOF
        bool eof = false;          ///< read side finished (FIN or close_notify received)
        bool shut = false;         ///< we ended our sending side (close_notify + FIN)
        bool read_wants_write = false;  ///< TLS: the last read waits for the socket to be writable
        bool write_wants_read = false;  ///< TLS: the last write waits for it to be readable
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
        std::unique_ptr<tls::TlsStream> tls;  ///< null: plain TCP
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

    // Backend phase.
    void beginBackend();
    /** backend_preface_ = the PROXY header the pool's backends expect. */
    void buildProxyPreface();
    void connectNext();
    void onTcpConnected();
    void backendHandshakeStep();
    void onBackendReady();
    void connectFailed(const char* why, int err, std::string_view detail = {});
    /** The backend socket could not be created (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
    void outOfResources(int err);

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
    /** Ends our sending side towards `dst` (close_notify first on TLS); false while it waits. */
    bool closeWrite(Side& dst);
    net::IoResult readFrom(Side& s, char* buf, std::size_t len);
    /** As much of `data` as `s` takes now (several TLS records if need be). */
    net::IoResult writeTo(Side& s, const char* data, std::size_t len);
    static bool canRead(const Side& s) { return s.read_wants_write ? s.writable : s.readable; }
    static bool canWrite(const Side& s) { return s.write_wants_read ? s.readable : s.writable; }
    /** Records which readiness a TLS call that returned WouldBlock waits for. */
    static void noteTlsWait(Side& s);
    /** Whether the readiness a waiting handshake needs has been seen since. */
    static bool handshakeMayProceed(const Side& s);
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
    bool tcp_connected_ = false;   ///< Connecting: the TCP connect to the current backend is done
    bool reset_on_close_ = false;  ///< finish() resets both sides (cut mid-stream at a deadline)

    std::shared_ptr<const upstream::Snapshot> snapshot_;
    std::shared_ptr<upstream::Backend> backend_ref_;
    std::uint32_t backend_index_ = 0;
    std::vector<const upstream::Backend*> tried_;
    std::uint32_t attempts_ = 0;

    /** Raw bytes written to every backend connection right after its TCP connect and before
     * anything else (its TLS handshake included). Empty (and unallocated) unless a feature needs
     * it: this is where a PROXY protocol header goes (SPEC §3), built from client_addr_, the
     * listener address and, for v2 TLVs, client_.tls (SNI, ALPN, version, cipher). */
    std::string backend_preface_;
    /** accept_proxy: reads the client's PROXY header (then released); the address the client
     * connected to as that header says (AF_UNSPEC: none, use getsockname). */
    std::unique_ptr<ProxyHeaderReader> proxy_reader_;
    net::SocketAddress proxy_destination_;
    std::uint32_t preface_sent_ = 0;

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
