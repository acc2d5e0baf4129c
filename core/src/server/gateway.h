// The running gateway: owns the plugin registry (first member, so plugin libraries outlive every
// object created through them), the active config, the pools, the control thread (discovery and
// health checks) and the workers. start()/shutdown() are called from the main thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "net/event_loop.h"
#include "plugin/registry.h"
#include "proxy/access_log.h"
#include "proxy/listener_stats.h"
#include "proxy/worker_context.h"
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
    std::uint64_t generation = 0;  ///< the generation serving after the call (1 = the first config)
};

class Gateway {
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

    /** Graceful stop: listeners close at once; open connections get up to the largest pool
     * drain_timeout to finish, then are closed (cause=shutdown); threads end. */
    void shutdown();

    /** Re-reads `file` (the options as at start) and applies it in place: the whole new config or
     * nothing. Main thread (the one that called start()). */
    ReloadResult reload(const std::filesystem::path& file, const config::LoadOptions& options);

    /** Any thread (e.g. the signal thread on a second SIGTERM): a shutdown() in progress stops
     * waiting for connections to drain and closes them now. */
    void abortDrain() { abort_drain_.store(true); }

    /** SIGUSR1: opens the access log file again by its path (after a rotation renamed it). False
     * with *error when it cannot; the old file keeps getting the lines. Any thread. */
    bool reopenAccessLog(std::string* error) {
        return access_log_ ? access_log_->reopen(error) : true;
    }

    /** Connections open right now, over all listeners. Any thread. */
    std::uint64_t activeConnections() const { return global_active_.load(); }

private:
    struct PoolRuntime {
        std::unique_ptr<upstream::Pool> pool;
        std::unique_ptr<upstream::HealthChecker> health;
        std::unique_ptr<upstream::PassiveHealth> passive;  ///< null: passive_failures = 0
        std::unique_ptr<upstream::DiscoveryRunner> discovery;
    };

    std::unique_ptr<plugin::Registry> registry_;  // first: destroyed last
    std::shared_ptr<const config::Config> config_;
    std::unique_ptr<proxy::AccessLog> access_log_;
    net::EventLoop control_loop_;
    std::thread control_thread_;
    std::vector<PoolRuntime> pools_;
    std::vector<std::unique_ptr<proxy::ListenerStats>> listener_stats_;
    std::vector<std::unique_ptr<proxy::ListenerContext>> listener_contexts_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<MemoryTrimmer> trimmer_;  ///< on the control loop
    std::atomic<std::uint64_t> global_active_{0};
    std::atomic<bool> abort_drain_{false};
    bool started_ = false;
};

}  // namespace postern::server
