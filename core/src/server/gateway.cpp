#include "server/gateway.h"

#include <chrono>

#include "common/log.h"
#include "server/tls_startup_log.h"

namespace postern::server {

Gateway::Gateway(std::unique_ptr<plugin::Registry> registry) : registry_(std::move(registry)) {}

Gateway::~Gateway() { shutdown(); }

bool Gateway::start(std::shared_ptr<const config::Config> config, std::string* error) {
    config_ = std::move(config);
    const auto& cfg = *config_;
    common::Log::setLevel(cfg.log.level);
    access_log_ = proxy::AccessLog::open(cfg.log, error);
    if (!access_log_) return false;

    logTlsSetup(cfg, std::chrono::system_clock::now());

    // Pools: first discovery round synchronously, so backends exist before traffic.
    for (const auto& pc : cfg.pools) {
        PoolRuntime rt;
        rt.pool = std::make_unique<upstream::Pool>(pc, config_);
        if (pc.probe) rt.health = std::make_unique<upstream::HealthChecker>(control_loop_, *rt.pool);
        if (pc.backend.passive_failures) {
            rt.passive =
                std::make_unique<upstream::PassiveHealth>(control_loop_, *rt.pool, rt.health.get());
            rt.pool->setPassiveHealth(rt.passive.get());
        }
        rt.discovery = std::make_unique<upstream::DiscoveryRunner>(control_loop_, *rt.pool, rt.health.get());
        pools_.push_back(std::move(rt));
    }
    for (auto& rt : pools_) rt.discovery->runRound();

    // Listener contexts.
    for (const auto& lc : cfg.listeners) {
        listener_stats_.push_back(std::make_unique<proxy::ListenerStats>());
        auto ctx = std::make_unique<proxy::ListenerContext>();
        ctx->config = &lc;
        ctx->pool = pools_.at(lc.pool_index).pool.get();
        ctx->stats = listener_stats_.back().get();
        ctx->tls = lc.tls ? lc.tls->context.get() : nullptr;
        const auto& backend = cfg.pools.at(lc.pool_index).backend;
        if (backend.protocol == config::BackendProtocol::Tls) ctx->backend_tls = backend.tls_context.get();
        if (lc.max_connections_per_client || lc.new_connections_per_client)
            ctx->client_limits = std::make_unique<proxy::ClientLimits>(
                lc.max_connections_per_client, lc.new_connections_per_client);
        listener_contexts_.push_back(std::move(ctx));
    }

    unsigned nworkers = cfg.gateway.workers ? cfg.gateway.workers : 1;
    for (unsigned i = 0; i < nworkers; ++i)
        workers_.push_back(std::make_unique<Worker>(i, access_log_.get(), &global_active_,
                                                    cfg.gateway.max_connections,
                                                    cfg.gateway.splice));

    // Bind: one SO_REUSEPORT socket per worker and address. A plain bind first makes "address in
    // use" an error even when the holder also used SO_REUSEPORT, and resolves port 0 once.
    for (std::size_t li = 0; li < cfg.listeners.size(); ++li) {
        const auto& lc = cfg.listeners[li];
        for (const auto& bind : lc.binds) {
            std::string err;
            auto addr = net::SocketAddress::resolve(bind.host, bind.port, &err);
            std::string where = "listener=" + common::logfmtValue(lc.name) + " address=" +
                                common::logfmtValue(addr ? addr->toString() : bind.text);
            auto fail = [&](const std::string& why) {
                POSTERN_LOG(Error, "cannot bind", where + " error=" + common::logfmtValue(why));
                if (error) *error = "cannot bind listener '" + lc.name + "' to " +
                                    (addr ? addr->toString() : bind.text) + ": " + why;
                workers_.clear();
                return false;
            };
            if (!addr) return fail(err);
            net::Fd probe = net::listenSocket(*addr, false, 1, &err);
            if (probe == net::kInvalidFd) return fail(err);
            addr->setPort(net::localAddress(probe).port());
            net::closeFd(probe);
            net::Fd first = net::kInvalidFd;
            for (auto& w : workers_) {
#ifdef _WIN32
                // No SO_REUSEPORT: the workers share one socket through their own handles.
                net::Fd fd = first == net::kInvalidFd ? net::listenSocket(*addr, true, 4096, &err)
                                                      : net::duplicateSocket(first, &err);
#else
                net::Fd fd = net::listenSocket(*addr, true, 4096, &err);
#endif
                if (fd == net::kInvalidFd) return fail(err);
                if (first == net::kInvalidFd) first = fd;
                w->addListener(listener_contexts_[li].get(), fd);
            }
#ifdef __linux__
            // Only our sockets get this address's connections, even if another program of the
            // same user joins the group later (the kernel allows that to the same user).
            if (!net::restrictReusePortGroup(first, static_cast<unsigned>(workers_.size()), &err))
                return fail("cannot restrict the SO_REUSEPORT group to postern's sockets: " + err);
#endif
            POSTERN_LOG(Info, "listening",
                        "listener=" + common::logfmtValue(lc.name) + " address=" + addr->toString() +
                            " pool=" + common::logfmtValue(lc.pool));
        }
    }

    trimmer_ = std::make_unique<MemoryTrimmer>(control_loop_, [this] {
        std::uint64_t ended = 0;
        for (const auto& st : listener_stats_)
            ended += st->total.load(std::memory_order_relaxed) - st->active.load(std::memory_order_relaxed);
        return ended;
    });
    trimmer_->start();
    control_thread_ = std::thread([this] { control_loop_.run(); });
    for (auto& w : workers_) w->start();
    started_ = true;
    POSTERN_LOG(Info, "ready", "workers=" + std::to_string(workers_.size()));
    return true;
}

void Gateway::shutdown() {
    if (!started_) {
        workers_.clear();
        return;
    }
    started_ = false;
    for (auto& w : workers_) w->stopAccepting();
    config::Millis drain{0};
    for (const auto& p : config_->pools) drain = std::max(drain, p.drain_timeout);
    std::uint64_t open = global_active_.load();
    POSTERN_LOG(Info, "shutting down: listeners closed, draining",
                "connections=" + std::to_string(open) + " drain_timeout=" +
                    (drain == config::kUnlimited ? std::string("unlimited") : std::to_string(drain.count()) + "ms"));
    auto deadline = std::chrono::steady_clock::now();
    bool unlimited = drain == config::kUnlimited;
    if (!unlimited) deadline += drain;
    while (global_active_.load() > 0 && !abort_drain_.load() &&
           (unlimited || std::chrono::steady_clock::now() < deadline))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& w : workers_) w->stopAndJoin();
    workers_.clear();
    control_loop_.stop();
    if (control_thread_.joinable()) control_thread_.join();
    trimmer_.reset();
    // Health checkers and discovery runners touch the control loop: destroy them before it.
    pools_.clear();
    POSTERN_LOG(Info, "stopped", "");
}

ReloadResult Gateway::reload(const std::filesystem::path&, const config::LoadOptions&) {
    // Until in-place reload lands (issue 13), the running config stays and the caller is told.
    ReloadResult r;
    r.errors.push_back("reload is not supported by this build yet; the running configuration is unchanged");
    r.generation = 1;
    return r;
}

}  // namespace postern::server
