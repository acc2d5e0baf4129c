// The running gateway: owns the plugin registry (first member, so plugin libraries outlive every
// object created through them), the running config generation, the pools, the control thread
// (discovery and health checks) and the workers. start()/shutdown() are called from the main
// thread; reload() from any thread (reloads are serialized).
//
// Config generations (SPEC §3 "Reload"): a loaded Config is one immutable generation held by
// shared_ptr. Each listener's ListenerContext points into its generation and keeps it alive;
// every session holds the context it was accepted with until it ends, so a reload never changes
// what a running connection sees. A reload builds the next generation next to the running one:
//  - listeners are diffed by name and bind list (server/config_diff.h). A kept listener's sockets
//    (one per worker, SO_REUSEPORT) stay open: each worker gets the new context by a task posted
//    to its loop. New addresses are bound before anything changes (a bind that fails rejects the
//    whole reload); a removed listener's sockets close at once and its connections drain;
//  - pools are diffed by name: a kept pool keeps its Pool, its Backends (health, counters,
//    connections) and gets the new settings through its next snapshot; its discovery runner is
//    replaced only when the discovery instance (or refresh, or the default port) changed, its
//    health checker only when the probe changed. Removed pools drain every backend;
//  - plugin instances whose plugin and table did not change are taken over by the loader
//    (LoadOptions::previous), TLS contexts are always built again: certificates are re-read.
// Draining (Pool::retire, removed listeners, shutdown) cuts each connection at its own time in the
// last 10 % of its pool's drain_timeout; see Worker.
//
// The admin endpoint ([admin] bind): an admin::AdminServer on a thread of its own, started after
// the listeners are bound and stopped first at shutdown. The Gateway is its AdminModel: backend
// drain/enable run on the control thread (the DrainObserver path of Pool::retire, but the backend
// stays in its pool: Backend::admin_drained); POST /reload goes through the service's request
// queue (setReloadRequester), serialized with SIGHUP and `postern reload`. The AdminModel methods
// run on the admin thread and never take reload_mutex_ (a shutdown holding it joins that thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_model.h"
#include "admin/admin_server.h"
#include "admin/gateway_snapshot.h"
#include "config/loader.h"
#include "config/model.h"
#include "net/event_loop.h"
#include "plugin/registry.h"
#include "proxy/access_log.h"
#include "proxy/listener_stats.h"
#include "proxy/worker_context.h"
#include "server/config_diff.h"
#include "server/memory_trimmer.h"
#include "server/worker.h"
#include "upstream/discovery_runner.h"
#include "upstream/health_checker.h"
#include "upstream/passive_health.h"
#include "upstream/pool.h"

namespace postern::server {

/** What a reload did: applied, or rejected with every error (`file:line:col: message`, the form of
 * `postern check`). A rejected reload changed nothing. */
struct ReloadResult {
    bool applied = false;
    std::vector<std::string> errors;
    /** Applied, but these keys changed in the file and keep their running value until a restart
     * ("[gateway] workers changed (4 -> 2): needs a restart; still 4"). */
    std::vector<std::string> warnings;
    std::uint64_t generation = 0;  ///< the generation serving after the call (1 = the first config)
};

/** One listening address bound for every worker: a socket each (SO_REUSEPORT; on Windows one
 * socket and a handle per worker). */
struct BoundSockets {
    net::SocketAddress address;  ///< as bound (port 0 resolved)
    std::vector<net::Fd> fds;    ///< one per worker
};

/** Binds `bind` once per worker, exactly as a listener is bound at start: a plain bind first
 * (so "address in use" is an error even when the holder used SO_REUSEPORT; resolves port 0), then
 * one SO_REUSEPORT socket per worker, then (Linux) the group restricted to our sockets. On failure
 * nothing stays open and *error says why (*shown: the address as bound or as written). */
bool bindForWorkers(const config::BindAddress& bind, unsigned workers, BoundSockets* out,
                    std::string* error, std::string* shown);

class Gateway final : private upstream::DrainObserver, public admin::AdminModel {
public:
    explicit Gateway(std::unique_ptr<plugin::Registry> registry);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    plugin::Registry& registry() { return *registry_; }

    /** Runs discovery once, binds every listener address, starts probes and workers. On failure
     * (e.g. an address in use) returns false with *error naming the address; nothing is left
     * listening. */
    bool start(std::shared_ptr<const config::Config> config, std::string* error);

    /** Graceful stop: listeners close at once; each open connection gets its own pool's
     * drain_timeout to finish, then is closed (cause=shutdown; spread over the last 10 %);
     * abortDrain() ends the wait at once; threads end. */
    void shutdown();

    /** Re-reads `file` (the options as at start) and applies it in place: the whole new config or
     * nothing. Any thread; reloads are serialized. */
    ReloadResult reload(const std::filesystem::path& file, const config::LoadOptions& options);

    /** Any thread (e.g. the signal thread on a second SIGTERM): a shutdown() in progress stops
     * waiting for connections to drain and closes them now. */
    void abortDrain() { abort_drain_.store(true); }

    /** SIGUSR1: opens the access log file and the [log] file again by their paths (after a
     * rotation renamed them). False with *error when one cannot be; its old file keeps getting the
     * lines. Any thread. */
    bool reopenLogs(std::string* error);

    /** Asks the service to run a reload (origin "admin API") through the same queue as SIGHUP
     * and `postern reload`, and to call `reply` with the outcome; false when it cannot (the
     * service is stopping): then `reply` is never called. Any thread. */
    using ReloadRequester =
        std::function<bool(std::function<void(const server::ControlReply&)> reply)>;
    /** Set by the service before it waits for requests; without one, POST /reload fails (503).
     * Any thread. */
    void setReloadRequester(ReloadRequester requester);
    /** The admin endpoint's address as bound (port 0 resolved); nullopt when it is off. Any
     * thread. */
    std::optional<net::SocketAddress> adminAddress() const;

    // admin::AdminModel (admin thread). The reads are snapshot() in the Prometheus text format
    // and as the /status JSON.
    std::string metricsText() override;
    std::string statusJson() override;
    void backendAction(std::string_view pool, std::string_view backend, BackendAction action,
                       std::function<void(admin::ActionResult)> done) override;
    void reload(std::function<void(const server::ControlReply&)> done) override;

    /** Connections open right now, over all listeners. Any thread. */
    std::uint64_t activeConnections() const { return global_active_.load(); }
    /** Reloads since start, by result (for the metrics). Any thread. */
    std::uint64_t reloadsApplied() const { return reloads_applied_.load(); }
    std::uint64_t reloadsRejected() const { return reloads_rejected_.load(); }

    /** What /metrics and /status show: every current listener and pool with its counters summed
     * over the workers now, health, the last reloads. Any thread; never waits for a worker or the
     * control thread (a mutex is held only to copy the lists of listeners and pools). */
    admin::GatewaySnapshot snapshot() const;

private:
    struct PoolRuntime {
        std::shared_ptr<upstream::Pool> pool;  ///< shared with the listener contexts using it
        std::unique_ptr<upstream::HealthChecker> health;
        std::unique_ptr<upstream::PassiveHealth> passive;  ///< null: passive_failures = 0 so far
        std::unique_ptr<upstream::DiscoveryRunner> discovery;
    };
    /** One listener while its name and bind list stay. */
    struct ListenerRuntime {
        std::uint64_t id = 0;
        std::shared_ptr<proxy::ListenerStats> stats;
        std::shared_ptr<const proxy::ListenerContext> context;
    };
    /** One address bound for a listener (a socket per worker, named `group` there). */
    struct BoundAddress {
        std::uint64_t group = 0;
        std::uint64_t listener_id = 0;
        config::BindAddress bind;    ///< as configured
        net::SocketAddress address;  ///< as bound
    };

    // DrainObserver (control thread): tells every worker.
    void backendRetired(const std::shared_ptr<upstream::Backend>& backend,
                        config::Millis timeout) override;
    void backendReturned(const std::shared_ptr<upstream::Backend>& backend) override;

    /** A pool with its health checker, passive health and discovery runner (no round yet). */
    PoolRuntime makePool(std::shared_ptr<const config::PoolConfig> config);
    /** Control thread: the pools of `next` (kept ones updated in place, new ones created with a
     * first discovery round, removed ones drained). */
    void applyPools(const std::shared_ptr<const config::Config>& next);
    std::shared_ptr<const proxy::ListenerContext> makeListenerContext(
        const std::shared_ptr<const config::Config>& generation, const config::ListenerConfig& lc,
        const ListenerRuntime& rt, const proxy::ListenerContext* previous) const;
    std::shared_ptr<upstream::Pool> poolNamed(const std::string& name) const;
    /** With reload_mutex_ held, after start or an applied reload: the lists snapshot() reads. */
    void publishView();
    /** Any reload's outcome, for /status (the last admin::kReloadHistory) and the metrics. */
    void recordReload(const ReloadResult& result);
    /** Control thread: drain / enable `backend` of `pool` by hand (POST .../drain|enable). */
    admin::ActionResult backendActionOnControl(const std::string& pool, const std::string& backend,
                                               BackendAction action);
    /** Binds `server` to `config`'s address; false with *error naming the address. */
    static bool bindAdmin(admin::AdminServer& server, const config::AdminConfig& config,
                          std::string* error);
    /** Under reload_mutex_: the admin endpoint as `next` wants it, bound before anything changes
     * (false with *error: nothing changed). */
    bool prepareAdmin(const config::AdminConfig& next, std::string* error);
    /** Under reload_mutex_, once the reload is certain: token rules, start or stop. */
    void applyAdmin(const config::AdminConfig& next);

    std::unique_ptr<plugin::Registry> registry_;  // first: destroyed last
    std::shared_ptr<const config::Config> config_;
    /** Every access log opened (the last is current): workers may still write to an older one
     * until their swap task ran, so none is closed before shutdown. */
    std::vector<std::unique_ptr<proxy::AccessLog>> access_logs_;
    /** access_logs_: a reload appends, a reopen (signal thread) uses the last. Not reload_mutex_,
     * which a shutdown holds while it drains: a reopen is answered then too. */
    std::mutex access_logs_mutex_;
    net::EventLoop control_loop_;
    std::thread control_thread_;
    std::vector<PoolRuntime> pools_;
    /** Removed pools: the Pool lives on in the contexts of its draining sessions; its passive
     * health may still get a report from them. */
    std::vector<PoolRuntime> retired_pools_;
    std::map<std::string, ListenerRuntime> listeners_;
    std::vector<BoundAddress> bound_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<MemoryTrimmer> trimmer_;  ///< on the control loop
    std::mutex stats_mutex_;                  ///< all_stats_: the trimmer reads, a reload appends
    std::vector<std::shared_ptr<proxy::ListenerStats>> all_stats_;
    std::atomic<std::uint64_t> global_active_{0};
    std::atomic<bool> abort_drain_{false};
    std::atomic<std::uint64_t> reloads_applied_{0};
    std::atomic<std::uint64_t> reloads_rejected_{0};
    std::mutex reload_mutex_;  ///< one reload (or shutdown) at a time
    /** The admin endpoint (null: [admin] bind not set). Created, replaced and stopped under
     * reload_mutex_; admin_mutex_ guards the pointer for adminAddress(). */
    std::unique_ptr<admin::AdminServer> admin_;
    /** A server bound by prepareAdmin() for a reload that started the endpoint. */
    std::unique_ptr<admin::AdminServer> admin_pending_;
    mutable std::mutex admin_mutex_;  ///< admin_ (the pointer), reload_requester_
    ReloadRequester reload_requester_;
    std::uint64_t generation_ = 0;
    std::uint64_t next_id_ = 1;  ///< listener ids and socket groups
    bool started_ = false;
    /** [gateway] workers as started (restart-only): every per-worker counter has this many
     * blocks. */
    unsigned worker_count_ = 1;

    /** What snapshot() reads (admin thread), published by start() and reload(). */
    struct ViewListener {
        std::shared_ptr<const proxy::ListenerContext> context;
        std::vector<std::string> bound;  ///< its addresses as bound
    };
    mutable std::mutex view_mutex_;
    std::vector<ViewListener> view_listeners_;
    std::vector<std::shared_ptr<upstream::Pool>> view_pools_;
    std::uint64_t view_generation_ = 0;
    admin::WallClock::time_point started_at_{};
    admin::WallClock::time_point loaded_at_{};
    std::deque<admin::ReloadRecord> reload_history_;  ///< newest first
};

}  // namespace postern::server
