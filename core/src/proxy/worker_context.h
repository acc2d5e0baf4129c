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
#include "upstream/pool.h"

namespace postern::tls {
class ServerTlsContext;
class ClientTlsContext;
}  // namespace postern::tls

namespace postern::proxy {

class TcpSession;

/** One listener as a worker's sessions see it. Immutable after start. */
struct ListenerContext {
    const config::ListenerConfig* config = nullptr;
    upstream::Pool* pool = nullptr;
    ListenerStats* stats = nullptr;
    const tls::ServerTlsContext* tls = nullptr;          ///< TLS listener; null = plain TCP
    const tls::ClientTlsContext* backend_tls = nullptr;  ///< TLS to the pool's backends; null = plain
    /** Per-client limits, shared by every worker; null unless the listener sets one. */
    std::unique_ptr<ClientLimits> client_limits;
};

struct WorkerContext {
    explicit WorkerContext(net::EventLoop& l) : loop(l) {}

    net::EventLoop& loop;
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

    /** Backend TLS failures are logged as warnings at most once a second per worker. */
    net::Clock::time_point next_tls_warning{};

    // Intrusive list of live sessions.
    TcpSession* sessions = nullptr;
    std::size_t session_count = 0;
};

}  // namespace postern::proxy
