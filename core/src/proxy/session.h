// What a worker holds for every live client connection, whatever its listener's protocol: a TCP
// or TLS relay (TcpSession), an HTTP connection (http::HttpSession). The worker makes one with
// its listener's factory (ListenerContext::make_session, chosen by the gateway from the
// listener's protocol), starts it, and reaches it again only through this interface: to drain
// it (reload, backend removal), to cut it at shutdown. Control calls only (a few per
// connection): the data path runs on the session's own I/O handlers, never through here.
//
// Lifetime: a session owns itself once started. It is linked into its worker's intrusive list
// while it lives (the constructor links it) and, when it ends, calls retire(): unlinked, then
// freed by the loop after the current dispatch round (so handlers of that round never see a
// freed object). Worker thread only.
#pragma once

#include <cstdint>
#include <memory>

#include "config/model.h"
#include "net/event_loop.h"
#include "net/socket_address.h"
#include "proxy/client_limits.h"
#include "proxy/close_cause.h"

namespace postern::upstream {
struct Backend;
}

namespace postern::proxy {

struct ListenerContext;
struct WorkerContext;

/** A connection a listener accepted, handed to its session. */
struct AcceptedConnection {
    net::Fd fd = net::kInvalidFd;
    net::SocketAddress peer;
    /** The per-client concurrency entry taken at accept (ClientLimits::kNoSlot: none); the
     * session gives it back when it ends. */
    std::uint32_t client_slot = ClientLimits::kNoSlot;
};

class Session : public net::Deferred {
public:
    ~Session() override = default;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /** Begins serving the connection (it may end within this call). */
    virtual void start() = 0;
    /** Closes the connection now (worker shutdown after the drain deadline), cause=shutdown: with
     * a reset when bytes are in flight, else cleanly. */
    virtual void abortForShutdown() = 0;

    /** The listener generation this connection was accepted with. */
    const ListenerContext& listener() const { return *listener_; }
    /** The backend this connection uses or is connecting to; null when none (before a pick,
     * between HTTP requests). A backend's drain cuts the sessions that name it here. */
    virtual const upstream::Backend* backend() const = 0;
    /** The drain_timeout of the pool it uses (config::kUnlimited: never cut). */
    virtual config::Millis drainTimeout() const = 0;
    /** Closes the connection at `cut` (at once if it has passed) with `cause` (Drained,
     * Shutdown); an earlier cut already scheduled stays. */
    virtual void drainBy(net::Clock::time_point cut, CloseCause cause) = 0;
    /** Its backend came back: no cut any more. */
    virtual void cancelDrain() = 0;

    // The worker's intrusive list of live sessions.
    Session* prev = nullptr;
    Session* next = nullptr;

protected:
    /** Links the session into `worker`'s list. */
    Session(WorkerContext& worker, std::shared_ptr<const ListenerContext> listener);
    /** The session has ended (its sockets closed, its access-log record written): unlinks it and
     * lets the loop free it after this dispatch round. Call once, last. */
    void retire();

    WorkerContext& worker_;
    std::shared_ptr<const ListenerContext> listener_;
};

/** Makes the session of one accepted connection, not started yet. */
using SessionFactory = std::unique_ptr<Session> (*)(WorkerContext& worker,
                                                    std::shared_ptr<const ListenerContext> listener,
                                                    const AcceptedConnection& accepted);

}  // namespace postern::proxy
