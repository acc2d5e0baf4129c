// One side of a proxied connection: a non-blocking socket and, when TLS runs on it, its
// tls::TlsStream, with the readiness the event loop reported and the state of each direction.
// A plain transport (tls null) reads and writes with recv/send on the fd: no virtual call, no
// allocation. A TLS transport folds the stream's "wants read / wants write" results into the same
// readable/writable flags, so the relay above it asks canRead()/canWrite() and never cares which
// kind it has.
//
// Edge-triggered readiness: `readable`/`writable` are set by noteEvents() and cleared when a call
// proves the socket has nothing more to give or take (EAGAIN, a short read or write).
//
// Owned by one session (or probe) on one thread, which also owns the fd's registration with its
// event loop and closes it with close(). A plain aggregate: its owner and the pieces it lends
// the transport to (BackendConnector, Relay) read and set the flags directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/event_loop.h"
#include "net/socket_ops.h"
#include "tls/tls_stream.h"

namespace postern::tls {

struct Transport {
    /** How close() ends the connection. */
    enum class CloseMode : std::uint8_t {
        Clean,   ///< close_notify (TLS, one non-blocking attempt, unless sent already), then FIN
        Abrupt,  ///< FIN without close_notify (after a TLS failure or a reset by the other side)
        Reset,   ///< RST: the peer must not mistake the end for a complete stream
    };

    net::Fd fd = net::kInvalidFd;
    std::unique_ptr<TlsStream> tls;  ///< null: plain TCP
    bool readable = false;           ///< edge seen, not yet drained to EAGAIN
    bool writable = false;
    bool peer_closed = false;       ///< RDHUP/HUP seen: keep reading until EOF
    bool eof = false;               ///< read side finished (FIN or close_notify received)
    bool shut = false;              ///< we ended our sending side (close_notify + FIN)
    bool read_wants_write = false;  ///< TLS: the last read waits for the socket to be writable
    bool write_wants_read = false;  ///< TLS: the last write waits for it to be readable

    Transport() = default;
    explicit Transport(net::Fd f) : fd(f) {}
    Transport(const Transport&) = delete;
    Transport& operator=(const Transport&) = delete;

    /** Records what the event loop reported for the fd (net::IoEvent bits). */
    void noteEvents(std::uint32_t events) {
        if (events & net::kReadable) {
            readable = true;
            if (tls) tls->noteReadable();
        }
        if (events & net::kWritable) writable = true;
        if (events & net::kPeerClosed) peer_closed = true;
    }

    bool canRead() const { return read_wants_write ? writable : readable; }
    bool canWrite() const { return write_wants_read ? readable : writable; }

    /** Application bytes into `buf`: Ok (bytes > 0), WouldBlock, Eof, Reset, Error. */
    net::IoResult read(char* buf, std::size_t len) {
        if (!tls) {
            auto r = net::recvSome(fd, buf, len);
            if (r.status == net::IoStatus::WouldBlock) readable = false;
            return r;
        }
        return readTls(buf, len);
    }
    /** After a read that returned `r` for a buffer of `len`: nothing more can be read before the
     * next readable edge (unless a FIN is queued behind it). TLS: a read returns one record at
     * most, so the stream says whether its last socket read was short and it holds nothing. */
    bool drainedAfter(const net::IoResult& r, std::size_t len) const {
        if (peer_closed) return false;
        return tls ? tls->socketDrained() : r.bytes < len;
    }
    /** As much of `data` as the socket takes now (several TLS records if need be): Ok (bytes may
     * be short: the send buffer filled, wait for writable), WouldBlock, Reset, Error. */
    net::IoResult write(const char* data, std::size_t len) {
        if (!tls) {
            auto r = net::sendSome(fd, data, len);
            // A short write means the send buffer is full: wait for the next writable edge.
            if (r.status == net::IoStatus::WouldBlock ||
                (r.status == net::IoStatus::Ok && r.bytes < len))
                writable = false;
            return r;
        }
        return writeTls(data, len);
    }
    /** Ends our sending side (close_notify first on TLS, then FIN); reading goes on (half-close).
     * False while the close_notify waits for the socket. */
    bool closeWrite();

    /** One TLS handshake step (tls set): Ok, WouldBlock (the wait is noted in the flags), Reset
     * or Error (tls->failure()). On Ok, records buffered by read-ahead count as readable. */
    net::IoStatus handshake();
    /** Whether the readiness a waiting handshake needs has been seen since. */
    bool handshakeMayProceed() const {
        return tls->want() == TlsStream::Want::Write ? writable : readable;
    }

    /** Bytes the TLS stream holds, unread bytes in the socket, or sent bytes not yet
     * acknowledged: this side of the stream is not at rest. */
    bool bytesInFlight() const;

    /** Closes the fd (after removing it from `loop`; nothing when closed already) and clears
     * every flag. The TLS stream stays for what the access log says of it (SNI, ALPN, version);
     * reset `tls` before reusing the transport. */
    void close(net::EventLoop& loop, CloseMode mode);

private:
    net::IoResult readTls(char* buf, std::size_t len);
    net::IoResult writeTls(const char* data, std::size_t len);
    /** Records which readiness a TLS call that returned WouldBlock waits for. */
    void noteTlsWait();
};

}  // namespace postern::tls
