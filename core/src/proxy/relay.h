// Bytes both ways between two connected transports — a client and a backend — until the stream
// ends: what a TCP or TLS session does once its backend is connected, and what an HTTP session's
// connection becomes after a WebSocket `101`. Ends once, through Owner, with the CloseCause and
// whether the end cut bytes in flight (then the owner resets rather than closes cleanly).
//
// Rules:
// - Bounded buffers: a direction reads into the worker's scratch buffer and writes at once; what
//   the destination does not take waits in a pooled buffer (BufferPool, held only while it holds
//   bytes), and the source is not read again until it drained (backpressure: memory per
//   connection is fixed, nothing is dropped).
// - Half-close: an end of stream (FIN or close_notify) from one side is passed on, once
//   everything for the other side is written, as close_notify + FIN; the other direction goes
//   on. The stream ends when both directions ended and everything is delivered (cause ClientFin
//   or BackendFin: whoever ended first), on a reset or TLS failure (ClientReset, BackendReset,
//   TlsFailed), when nothing moved for idle_timeout (idle_cause), or when max_session passed
//   (max_session_cause).
// - Splice: between two plain sides, a direction that moved a full buffer (bulk data) switches to
//   splice (gateway.splice, Linux): socket → kernel pipe → socket, the bytes never copied through
//   user space; the pipe's contents count as that direction's pending bytes (same backpressure,
//   half-close and end rules). Small request/response traffic keeps one recv and one send.
// - Initial pending bytes (preload): bytes the owner already read and that belong to the relayed
//   stream (the backend's first bytes after a `101` head, the client's bytes after its upgrade
//   request) are written to their destination first.
//
// The hot path: no allocation (buffers and pipes come from the worker's pools), no virtual call
// per event (the owner forwards its transports' events to onIo(), a direct call), plain sides
// use recv/send/splice on the fd. Timers: the idle timer is re-armed lazily (activity costs no
// timer operation). Embedded in its owner (the transports belong to the owner, which also closes
// them); the worker thread only.
#pragma once

#include <cstdint>
#include <string_view>

#include "config/model.h"
#include "net/event_loop.h"
#include "net/pipe.h"
#include "proxy/close_cause.h"
#include "tls/transport.h"

namespace postern::proxy {

struct WorkerContext;

class Relay final : public net::TimerHandler {
public:
    enum class Side : std::uint8_t { Client, Backend };

    struct Settings {
        /** Nothing moved in either direction for this long: ends with idle_cause (zero or
         * config::kUnlimited: never). */
        config::Millis idle_timeout{std::chrono::minutes(4)};
        CloseCause idle_cause = CloseCause::IdleTimeout;
        /** The relay ends this long after start() whatever moves (zero or config::kUnlimited:
         * never), with max_session_cause. */
        config::Millis max_session{0};
        CloseCause max_session_cause = CloseCause::WsMaxSession;
    };

    class Owner {
    public:
        /** The relay has ended (called once; the relay is inactive already). `cut` = bytes were
         * in flight when a deadline ended it (cut()): the owner resets both sides instead of
         * closing them cleanly. The owner closes the transports now: on a clean end the relay
         * leaves the last FIN of a plain side to that close (one shutdown call less). */
        virtual void onRelayEnd(CloseCause cause, bool cut) = 0;

    protected:
        ~Owner() = default;
    };

    Relay(WorkerContext& worker, Owner& owner, tls::Transport& client, tls::Transport& backend);
    ~Relay();
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    /** Bytes to write to `to` before anything the relay reads; before start(), at most
     * BufferPool::kBufferSize per side. False (nothing taken) when too long. */
    bool preload(Side to, std::string_view bytes);
    /** Starts relaying (at once: bytes may wait already). The transports are connected. */
    void start(const Settings& settings);
    /** An event on `side`'s transport, already noted on it (Transport::noteEvents). */
    void onIo(Side side, std::uint32_t events);
    /** Ends the relay now because a deadline passed (drain, shutdown) with `cause`; cut when
     * bytesInFlight(). */
    void cut(CloseCause cause);
    /** Ends the relay without reporting (the owner ends for its own reasons). */
    void stop();

    bool active() const { return active_; }
    /** Bytes read but not delivered (buffers, pipes, TLS records), unread in a socket, or sent
     * and not yet acknowledged: the stream is not at rest. */
    bool bytesInFlight() const;
    std::uint64_t bytesFromClient() const { return bytes_in_; }
    std::uint64_t bytesToClient() const { return bytes_out_; }
    /** When the first byte from the backend was read; time_point{} before any. */
    net::Clock::time_point firstBackendByte() const { return first_backend_byte_; }

    void onTimer(std::uint32_t tag) override;

private:
    /** Bytes on their way to one side. */
    struct Outbox {
        bool to_client = false;
        /** Bytes to this side move through a kernel pipe (splice): set once the direction
         * carried a full buffer and both sides are plain TCP. */
        bool splicing = false;
        // Bytes waiting to be written (a pooled buffer, held only while it holds bytes).
        char* pending = nullptr;
        std::uint32_t pending_off = 0;
        std::uint32_t pending_len = 0;
        // Bytes inside a kernel pipe (splicing only; the pipe is held only while it holds bytes).
        std::uint32_t pipe_len = 0;
        net::Pipe* pipe = nullptr;
    };

    void pump();
    /** Moves bytes src → dst (`out`: bytes waiting for dst; `back`: for src); true when
     * anything happened. */
    bool transfer(tls::Transport& src, tls::Transport& dst, Outbox& out, const Outbox& back);
#ifdef __linux__
    /** transfer() for a splicing direction: socket → pipe → socket, no copy. */
    bool spliceTransfer(tls::Transport& src, tls::Transport& dst, Outbox& out, const Outbox& back);
#endif
    /** A read from src that brought no bytes and cannot be retried: its end of stream (FIN or
     * close_notify: marked, true) or its failure (the relay ends: false). */
    bool readEnded(tls::Transport& src, const Outbox& out, const net::IoResult& r);
    /** Once src has ended and everything for dst is written: ends our sending side to dst. */
    bool endDirection(tls::Transport& src, tls::Transport& dst, const Outbox& out,
                      const Outbox& back);
    bool flushPending(tls::Transport& dst, Outbox& out);
    /** Arms the one timer for the nearer of the idle deadline and the session's end. */
    void armTimer();
    void stash(Outbox& out, const char* data, std::size_t len);
    void sideFailed(tls::Transport& side, net::IoStatus status);
    void end(CloseCause cause, bool cut = false);

    // Kept small: one relay is embedded in every TCP session.
    WorkerContext& worker_;
    Owner& owner_;
    tls::Transport& client_;
    tls::Transport& backend_;
    Outbox to_client_;
    Outbox to_backend_;
    /** One timer for both limits, re-armed lazily (activity costs no timer operation). */
    net::Timer timer_;
    config::Millis idle_timeout_{0};  ///< zero: none
    net::Clock::time_point session_end_ = net::Clock::time_point::max();
    net::Clock::time_point last_activity_{};
    net::Clock::time_point first_backend_byte_{};
    std::uint64_t bytes_in_ = 0;   ///< read from the client
    std::uint64_t bytes_out_ = 0;  ///< written to the client
    CloseCause idle_cause_ = CloseCause::IdleTimeout;
    CloseCause max_session_cause_ = CloseCause::WsMaxSession;
    /** ClientFin or BackendFin: who ended first. */
    CloseCause first_fin_ = CloseCause::ClientFin;
    bool fin_seen_ = false;
    bool active_ = false;
};

}  // namespace postern::proxy
