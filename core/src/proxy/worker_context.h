// What a worker thread lends to the sessions it runs: its loop, scratch buffer, buffer pool,
// random numbers, access log, and the list of live sessions (for shutdown). Worker thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "config/model.h"
#include "net/event_loop.h"
#include "net/pipe.h"
#include "proxy/access_log.h"
#include "proxy/buffer_pool.h"
#include "proxy/client_limits.h"
#include "proxy/listener_stats.h"
#include "proxy/router.h"
#include "proxy/session.h"
#include "upstream/pool.h"

namespace postern::tls {
class ServerTlsContext;
class ClientTlsContext;
}  // namespace postern::tls

namespace postern::http {
class BackendPool;
}  // namespace postern::http

namespace postern::proxy {

/** One listener of one config generation as a worker's sessions see it. Immutable once built;
 * shared (shared_ptr) by the acceptors that hand it out and by every session accepted with it,
 * which keeps the generation (the listener's settings, its TLS context, its pool) alive until the
 * last of them ends. A reload builds a new one for a kept listener; the old sessions keep theirs.
 */
struct ListenerContext {
    /** The config generation `config` and `tls` point into. */
    std::shared_ptr<const config::Config> generation;
    const config::ListenerConfig* config = nullptr;
    /** Same for every generation of a kept listener: sessions are found by it when the listener
     * is removed (drained). */
    std::uint64_t id = 0;
    /** The listener's own pool: the catch-all. Null when the listener has only routes. */
    std::shared_ptr<upstream::Pool> pool;
    /** config->routes, and the pool of each (same index): a pool only a route names stays alive
     * as long as a session of this generation may still pick it. */
    Router router;
    std::vector<std::shared_ptr<upstream::Pool>> route_pools;
    /** Kept across reloads while the listener stays. */
    std::shared_ptr<ListenerStats> stats;
    const tls::ServerTlsContext* tls = nullptr;  ///< TLS listener; null = plain TCP
    /** Per-client limits, shared by every worker (and by the next generation when the limits stay
     * the same); null unless the listener sets one. */
    std::shared_ptr<ClientLimits> client_limits;
    /** Makes the session of each connection accepted with this listener, for its protocol (set
     * by the gateway; TcpSession::create for tcp and tls). */
    SessionFactory make_session = nullptr;

    /** The pool for a TLS client that sent `sni` ("" = none): the first matching route's, else
     * the listener's; null when neither (the connection is closed, cause no_route). */
    upstream::Pool* poolForSni(std::string_view sni) const {
        const std::size_t i = router.matchSni(sni);
        return i != Router::kNoRoute ? route_pools[i].get() : pool.get();
    }
    /** The same for an HTTP request (Router::matchHttp); null = 404. */
    upstream::Pool* poolForRequest(std::string_view host, std::string_view path) const {
        const std::size_t i = router.matchHttp(host, path);
        return i != Router::kNoRoute ? route_pools[i].get() : pool.get();
    }
};

struct WorkerContext {
    explicit WorkerContext(net::EventLoop& l) : loop(l) {}

    net::EventLoop& loop;
    /** This worker's index (0 .. workers-1): the block of every per-worker counter it writes
     * (ListenerStats::worker, Backend::counters, Pool::connect_time). */
    unsigned index = 0;
    /** Swapped by a reload (a task on this worker's loop); the Gateway keeps every log it opened
     * alive until it stops. */
    AccessLog* access_log = nullptr;
    BufferPool buffers;
#ifdef __linux__
    net::PipePool pipes;
#endif
    bool splice = false;  ///< gateway.splice, where the OS has splice
    char scratch[BufferPool::kBufferSize];
    std::atomic<std::uint64_t>* global_active = nullptr;

    /** xorshift64*: cheap per-worker randomness for balancers. */
    std::uint64_t random() {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return rng * 2685821657736338717ull;
    }
    std::uint64_t rng = 0x9E3779B97F4A7C15ull;

    /** Set by a session that could not open its backend socket for want of descriptors or
     * memory (the errno): the worker then pauses accepting, as when accept() itself fails. */
    int resources_exhausted = 0;

    /** The idle keep-alive backend connections of this worker's HTTP sessions (owned by the
     * worker; null where none was made, e.g. in unit tests without HTTP). */
    http::BackendPool* http_backends = nullptr;

    /** Backend TLS failures are logged as warnings at most once a second per worker. */
    net::Clock::time_point next_tls_warning{};

    // Intrusive list of live sessions.
    Session* sessions = nullptr;
    std::size_t session_count = 0;
};

}  // namespace postern::proxy
