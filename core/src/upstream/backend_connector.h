// Opens one connection to one given backend address on an event loop, the way every backend
// connection of the gateway starts: a non-blocking TCP connect, then the preface bytes (a PROXY
// header: SPEC §3) written raw before anything else, then the TLS handshake when the backend
// speaks TLS (the pool's ClientTlsContext: CA, verification, client certificate, SNI, ALPN), all
// within one deadline. Used by the sessions (through proxy::BackendDialer, which picks the
// backend and retries elsewhere) and by the health checker's probes.
//
// Sans-policy: it neither picks nor retries nor counts; it reports the outcome once, through
// Handler, with what failed (ConnectFailure), and on failure leaves the transport closed.
//
// The owner registers nothing itself: start() adds the new socket to the loop with the owner's
// `io` handler, which stays the fd's handler for its whole life (no re-registration when the
// connection is handed over). While connecting() the owner records each event on the transport
// (Transport::noteEvents) and forwards it to onIo(). On success the transport is ready in place:
// fd connected, preface written, TLS established, readiness flags current.
//
// Owned by (embedded in) one session, dialer or probe; its loop's thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "net/event_loop.h"
#include "net/socket_address.h"
#include "tls/transport.h"

namespace postern::tls {
class ClientTlsContext;
}

namespace postern::upstream {

/** Where and how to connect. Read by start() only, except `preface`, which must stay valid until
 * the outcome is reported. */
struct ConnectTarget {
    net::SocketAddress address;
    /** The backend's name as discovered: the name TLS checks (and sends as SNI) by default. */
    std::string_view host;
    /** Raw bytes written right after the TCP connect, before any TLS byte; may be empty. */
    std::string_view preface;
    const tls::ClientTlsContext* tls = nullptr;  ///< null: plain TCP
    std::string_view sni;                        ///< TLS: overrides the SNI; empty = default
    std::string_view alpn_wire;                  ///< TLS: ALPN offer (wire format); may be empty
    /** Bounds connect + preface + handshake; zero = no deadline (the owner keeps its own). */
    net::Clock::duration timeout{};
};

struct ConnectFailure {
    enum class Stage : std::uint8_t {
        Socket,    ///< the socket could not be made or the connect refused at once
        Connect,   ///< the TCP connect failed
        Preface,   ///< writing the preface failed
        TlsSetup,  ///< no TLS connection could be allocated (reported by start())
        Tls,       ///< the TLS handshake failed (detail: why, e.g. a certificate check)
        Timeout,   ///< the deadline passed (tls: during the TLS handshake)
    };
    Stage stage = Stage::Connect;
    int error = 0;       ///< errno, 0 when none
    std::string detail;  ///< TLS: the stream's failure text
    bool tls = false;    ///< Timeout: the TCP connect and preface were done, TLS was not
    /** Socket: out of descriptors, buffers or memory (our limit, not the backend's fault). */
    bool out_of_resources = false;
};

class BackendConnector final : public net::TimerHandler {
public:
    class Handler {
    public:
        /** The transport is connected (and TLS established). */
        virtual void onConnected() = 0;
        /** The attempt failed; the transport is closed and reset. The handler may start()
         * another attempt from here. */
        virtual void onConnectFailed(const ConnectFailure& failure) = 0;

    protected:
        ~Handler() = default;
    };

    BackendConnector(net::EventLoop& loop, Handler& handler);
    ~BackendConnector();
    BackendConnector(const BackendConnector&) = delete;
    BackendConnector& operator=(const BackendConnector&) = delete;

    /** Starts connecting `transport` (closed: no fd) to `target`; `io` receives the socket's
     * events. A TLS target gets its TLS stream here, used once the preface is out. False when it
     * failed at once (*failure says why; nothing is reported through the Handler, nothing is
     * left open); true when the outcome will be reported. */
    bool start(const ConnectTarget& target, tls::Transport& transport, net::IoHandler* io,
               ConnectFailure* failure);
    /** An event on the transport's fd while connecting() (already noted on the transport). */
    void onIo(std::uint32_t events);
    bool connecting() const { return transport_ != nullptr; }
    /** Stops an attempt in progress and closes its socket; nothing is reported. */
    void cancel();

    void onTimer(std::uint32_t tag) override;

private:
    /** The TCP connect is done: preface, then TLS or success. */
    void continueAfterConnect();
    void handshakeStep();
    void succeed();
    void fail(ConnectFailure::Stage stage, int error, std::string detail = {});

    enum class Phase : std::uint8_t { Connect, Preface, Handshake };

    // Kept small: one connector is embedded in every session.
    net::EventLoop& loop_;
    Handler& handler_;
    net::Timer deadline_;
    tls::Transport* transport_ = nullptr;  ///< while connecting
    std::string_view preface_;
    std::uint32_t preface_sent_ = 0;
    Phase phase_ = Phase::Connect;
};

}  // namespace postern::upstream
