#include "server/gateway.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "admin/prometheus_writer.h"
#include "admin/status_json.h"
#include "common/log.h"
#include "http/http_session.h"
#include "proxy/tcp_session.h"
#include "server/tls_startup_log.h"

namespace postern::server {

namespace {

/** The session each connection of a listener with `protocol` gets. */
proxy::SessionFactory sessionFactoryFor(config::ListenerProtocol protocol) {
    switch (protocol) {
        case config::ListenerProtocol::Tcp:
        case config::ListenerProtocol::Tls:
            return &proxy::TcpSession::create;
        case config::ListenerProtocol::Http:
        case config::ListenerProtocol::Https:
            return &http::HttpSession::create;
    }
    return &proxy::TcpSession::create;
}

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty()) out += ',';
        out += n;
    }
    return out.empty() ? "-" : out;
}

std::string millisText(config::Millis m) {
    return m == config::kUnlimited ? std::string("unlimited") : std::to_string(m.count()) + "ms";
}

/** " pool=NAME routes=N" of a "listening" log line ("-" for a listener with only routes). */
std::string targetsText(const config::ListenerConfig& lc) {
    std::string out =
        " pool=" + (lc.pool.empty() ? std::string("-") : common::logfmtValue(lc.pool));
    if (!lc.routes.empty()) out += " routes=" + std::to_string(lc.routes.size());
    return out;
}

const char* protocolName(config::ListenerProtocol protocol) {
    switch (protocol) {
        case config::ListenerProtocol::Tcp:
            return "tcp";
        case config::ListenerProtocol::Tls:
            return "tls";
        case config::ListenerProtocol::Http:
            return "http";
        case config::ListenerProtocol::Https:
            return "https";
    }
    return "tcp";
}

/** The pool config `index` of `generation`, keeping the whole generation alive. */
std::shared_ptr<const config::PoolConfig> poolOf(
    const std::shared_ptr<const config::Config>& generation, std::size_t index) {
    return std::shared_ptr<const config::PoolConfig>(generation, &generation->pools[index]);
}

}  // namespace

bool bindForWorkers(const config::BindAddress& bind, unsigned workers, BoundSockets* out,
                    std::string* error, std::string* shown) {
    std::string err;
    *shown = bind.text;
    auto addr = net::SocketAddress::resolve(bind.host, bind.port, &err);
    auto fail = [&](const std::string& why) {
        for (net::Fd fd : out->fds) net::closeFd(fd);
        out->fds.clear();
        *error = why;
        return false;
    };
    if (!addr) return fail(err);
    *shown = addr->toString();
    net::Fd probe = net::listenSocket(*addr, false, 1, &err);
    if (probe == net::kInvalidFd) return fail(err);
    addr->setPort(net::localAddress(probe).port());
    net::closeFd(probe);
    *shown = addr->toString();
    out->address = *addr;
    net::Fd first = net::kInvalidFd;
    for (unsigned i = 0; i < workers; ++i) {
#ifdef _WIN32
        // No SO_REUSEPORT: the workers share one socket through their own handles.
        net::Fd fd = first == net::kInvalidFd ? net::listenSocket(*addr, true, 4096, &err)
                                              : net::duplicateSocket(first, &err);
#else
        net::Fd fd = net::listenSocket(*addr, true, 4096, &err);
#endif
        if (fd == net::kInvalidFd) return fail(err);
        if (first == net::kInvalidFd) first = fd;
        out->fds.push_back(fd);
    }
#ifdef __linux__
    // Only our sockets get this address's connections, even if another program of the same user
    // joins the group later (the kernel allows that to the same user).
    if (!net::restrictReusePortGroup(first, workers, &err))
        return fail("cannot restrict the SO_REUSEPORT group to postern's sockets: " + err);
#endif
    return true;
}

Gateway::Gateway(std::unique_ptr<plugin::Registry> registry) : registry_(std::move(registry)) {}

Gateway::~Gateway() { shutdown(); }

Gateway::PoolRuntime Gateway::makePool(std::shared_ptr<const config::PoolConfig> config) {
    const config::PoolConfig& pc = *config;
    PoolRuntime rt;
    rt.pool = std::make_shared<upstream::Pool>(std::move(config), worker_count_);
    rt.pool->setDrainObserver(this);
    if (pc.probe) rt.health = std::make_unique<upstream::HealthChecker>(control_loop_, *rt.pool);
    if (pc.backend.passive_failures) {
        rt.passive =
            std::make_unique<upstream::PassiveHealth>(control_loop_, *rt.pool, rt.health.get());
        rt.pool->setPassiveHealth(rt.passive.get());
    }
    rt.discovery =
        std::make_unique<upstream::DiscoveryRunner>(control_loop_, *rt.pool, rt.health.get());
    return rt;
}

std::shared_ptr<upstream::Pool> Gateway::poolNamed(const std::string& name) const {
    for (const auto& rt : pools_)
        if (rt.pool->name() == name) return rt.pool;
    return nullptr;
}

std::shared_ptr<const proxy::ListenerContext> Gateway::makeListenerContext(
    const std::shared_ptr<const config::Config>& generation, const config::ListenerConfig& lc,
    const ListenerRuntime& rt, const proxy::ListenerContext* previous) const {
    auto ctx = std::make_shared<proxy::ListenerContext>();
    ctx->generation = generation;
    ctx->config = &lc;
    ctx->id = rt.id;
    if (!lc.pool.empty()) ctx->pool = poolNamed(lc.pool);
    ctx->router = proxy::Router(lc.routes);
    for (const auto& route : lc.routes) ctx->route_pools.push_back(poolNamed(route.pool));
    ctx->stats = rt.stats;
    ctx->tls = lc.tls ? lc.tls->context.get() : nullptr;
    ctx->make_session = sessionFactoryFor(lc.protocol);
    if (lc.max_connections_per_client || lc.new_connections_per_client) {
        // The per-client table outlives a reload that leaves the limits alone (the clients'
        // counts and rates go on).
        if (previous && previous->client_limits &&
            previous->config->max_connections_per_client == lc.max_connections_per_client &&
            previous->config->new_connections_per_client == lc.new_connections_per_client)
            ctx->client_limits = previous->client_limits;
        else
            ctx->client_limits = std::make_shared<proxy::ClientLimits>(
                lc.max_connections_per_client, lc.new_connections_per_client);
    }
    return ctx;
}

bool Gateway::start(std::shared_ptr<const config::Config> config, std::string* error) {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    config_ = std::move(config);
    generation_ = 1;
    const auto& cfg = *config_;
    worker_count_ = cfg.gateway.workers ? cfg.gateway.workers : 1;
    {
        std::lock_guard<std::mutex> view_lock(view_mutex_);
        started_at_ = loaded_at_ = admin::WallClock::now();
    }
    common::Log::setLevel(cfg.log.level);
    if (!cfg.log.file.empty() && !common::Log::setFile(cfg.log.file, error)) return false;
    auto log = proxy::AccessLog::open(cfg.log, error);
    if (!log) return false;
    {
        std::lock_guard<std::mutex> logs_lock(access_logs_mutex_);
        access_logs_.push_back(std::move(log));
    }

    logTlsSetup(cfg, std::chrono::system_clock::now());

    // Pools: first discovery round synchronously, so backends exist before traffic.
    for (std::size_t i = 0; i < cfg.pools.size(); ++i)
        pools_.push_back(makePool(poolOf(config_, i)));
    for (auto& rt : pools_) rt.discovery->runRound();

    const unsigned nworkers = worker_count_;
    for (unsigned i = 0; i < nworkers; ++i)
        workers_.push_back(std::make_unique<Worker>(i, access_logs_.back().get(), &global_active_,
                                                    cfg.gateway.max_connections,
                                                    cfg.gateway.splice));

    for (const auto& lc : cfg.listeners) {
        ListenerRuntime rt;
        rt.id = next_id_++;
        rt.stats = std::make_shared<proxy::ListenerStats>(worker_count_);
        rt.context = makeListenerContext(config_, lc, rt, nullptr);
        {
            std::lock_guard<std::mutex> stats_lock(stats_mutex_);
            all_stats_.push_back(rt.stats);
        }
        for (const auto& bind : lc.binds) {
            BoundSockets sockets;
            std::string why, shown;
            if (!bindForWorkers(bind, nworkers, &sockets, &why, &shown)) {
                POSTERN_LOG(Error, "cannot bind",
                            "listener=" + common::logfmtValue(lc.name) + " address=" +
                                common::logfmtValue(shown) + " error=" + common::logfmtValue(why));
                if (error)
                    *error = "cannot bind listener '" + lc.name + "' to " + shown + ": " + why;
                workers_.clear();  // closes the sockets bound so far
                return false;
            }
            BoundAddress bound{next_id_++, rt.id, bind, sockets.address};
            for (std::size_t w = 0; w < workers_.size(); ++w)
                workers_[w]->addListener(bound.group, rt.context, sockets.fds[w]);
            bound_.push_back(bound);
            POSTERN_LOG(Info, "listening",
                        "listener=" + common::logfmtValue(lc.name) +
                            " address=" + sockets.address.toString() + targetsText(lc));
        }
        listeners_[lc.name] = std::move(rt);
    }
    // The admin endpoint after the listeners: a bind failure fails the start the same way.
    std::string admin_error;
    if (!prepareAdmin(cfg.admin, &admin_error)) {
        POSTERN_LOG(Error, "cannot bind the admin endpoint",
                    "error=" + common::logfmtValue(admin_error));
        if (error) *error = admin_error;
        workers_.clear();
        return false;
    }

    trimmer_ = std::make_unique<MemoryTrimmer>(control_loop_, [this] {
        std::lock_guard<std::mutex> stats_lock(stats_mutex_);
        std::uint64_t ended = 0;
        for (const auto& st : all_stats_) {
            // Relaxed reads of two counts: a connection may show in `active` before `total`.
            const std::uint64_t total = st->total();
            const std::uint64_t active = st->active.load(std::memory_order_relaxed);
            if (total > active) ended += total - active;
        }
        return ended;
    });
    trimmer_->start();
    publishView();
    // Workers first: from the control thread's first task on, a drain reaches them by a post.
    for (auto& w : workers_) w->start();
    control_thread_ = std::thread([this] { control_loop_.run(); });
    applyAdmin(cfg.admin);  // its actions reach the control loop, which runs now
    started_ = true;
    POSTERN_LOG(Info, "ready", "workers=" + std::to_string(workers_.size()));
    return true;
}

bool Gateway::reopenLogs(std::string* error) {
    std::string log_error;
    const bool log_ok = common::Log::reopenFile(&log_error);
    std::lock_guard<std::mutex> logs_lock(access_logs_mutex_);
    const bool access_ok = access_logs_.empty() || access_logs_.back()->reopen(error);
    if (!log_ok && error) *error = access_ok ? log_error : log_error + "; " + *error;
    return log_ok && access_ok;
}

void Gateway::backendRetired(const std::shared_ptr<upstream::Backend>& backend,
                             config::Millis timeout) {
    for (auto& w : workers_) w->drainBackend(backend, timeout);
}

void Gateway::backendReturned(const std::shared_ptr<upstream::Backend>& backend) {
    for (auto& w : workers_) w->undrainBackend(backend);
}

void Gateway::shutdown() {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    if (!started_) {
        workers_.clear();
        return;
    }
    started_ = false;
    // The admin endpoint first: its actions need the control loop, which stops below.
    {
        std::unique_ptr<admin::AdminServer> admin;
        {
            std::lock_guard<std::mutex> admin_lock(admin_mutex_);
            admin = std::move(admin_);
        }
        if (admin) admin->stop();
    }
    for (auto& w : workers_) w->stopAccepting();
    // Each connection is cut at its own pool's drain deadline (a timer of its own).
    for (auto& w : workers_) w->drainAll();
    // Discovery and probes end first: nothing they find changes a connection now, and nothing
    // they do reaches the workers any more.
    control_loop_.stop();
    if (control_thread_.joinable()) control_thread_.join();
    config::Millis longest{0};
    auto consider = [&](const PoolRuntime& rt) {
        longest = std::max(longest, rt.pool->config().drain_timeout);
    };
    for (const auto& rt : pools_) consider(rt);
    for (const auto& rt : retired_pools_) consider(rt);
    std::uint64_t open = global_active_.load();
    POSTERN_LOG(
        Info, "shutting down: listeners closed, draining",
        "connections=" + std::to_string(open) + " longest_drain_timeout=" + millisText(longest));
    // The sessions' timers do the cutting; this only waits (bounded: a margin past the longest
    // deadline, in case a worker is slow to run them).
    const bool unlimited = longest == config::kUnlimited;
    auto deadline = std::chrono::steady_clock::now();
    if (!unlimited) deadline += longest + std::chrono::seconds(2);
    while (global_active_.load() > 0 && !abort_drain_.load() &&
           (unlimited || std::chrono::steady_clock::now() < deadline))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    for (auto& w : workers_) w->stopAndJoin();
    workers_.clear();
    trimmer_.reset();
    // Health checkers and discovery runners touch the control loop: destroy them before it.
    pools_.clear();
    retired_pools_.clear();
    POSTERN_LOG(Info, "stopped", "");
}

void Gateway::applyPools(const std::shared_ptr<const config::Config>& next) {
    std::vector<PoolRuntime> kept;
    for (std::size_t i = 0; i < next->pools.size(); ++i) {
        const config::PoolConfig& pc = next->pools[i];
        auto it = std::find_if(pools_.begin(), pools_.end(),
                               [&](const PoolRuntime& rt) { return rt.pool->name() == pc.name; });
        if (it == pools_.end()) {
            PoolRuntime rt = makePool(poolOf(next, i));
            rt.discovery->runRound();
            kept.push_back(std::move(rt));
            continue;
        }
        PoolRuntime rt = std::move(*it);
        pools_.erase(it);
        upstream::Pool& pool = *rt.pool;
        // The settings before, kept alive while compared.
        const std::shared_ptr<const config::PoolConfig> before = pool.snapshot()->config;
        pool.setConfig(poolOf(next, i));

        const bool probe_changed =
            before->probe.has_value() != pc.probe.has_value() ||
            (pc.probe && before->probe->fingerprint != pc.probe->fingerprint);
        if (probe_changed) {
            // In-flight checks belong to the old probe instance: they end with its checker. The
            // backends keep their health; a new checker probes them from their current state.
            if (rt.passive) rt.passive->setHealthChecker(nullptr);
            rt.discovery.reset();  // it holds the checker
            rt.health.reset();
            if (pc.probe) {
                rt.health = std::make_unique<upstream::HealthChecker>(control_loop_, pool);
            } else {
                for (auto& b : pool.backends()) b->up.store(true);  // no probe: counts as up
            }
            if (rt.passive) rt.passive->setHealthChecker(rt.health.get());
        }
        if (pc.backend.passive_failures && !rt.passive) {
            rt.passive =
                std::make_unique<upstream::PassiveHealth>(control_loop_, pool, rt.health.get());
            pool.setPassiveHealth(rt.passive.get());
        }
        const bool discovery_changed = !rt.discovery ||
                                       before->discovery.instance != pc.discovery.instance ||
                                       before->discovery.refresh != pc.discovery.refresh ||
                                       before->backend.port != pc.backend.port;
        pool.republish();  // the new settings (balancer, limits, …) for new connections
        if (discovery_changed) {
            // Its first round diffs against the pool's current backends: the ones that stay keep
            // their health and connections, the others drain (Pool::retire).
            rt.discovery.reset();
            rt.discovery =
                std::make_unique<upstream::DiscoveryRunner>(control_loop_, pool, rt.health.get());
            rt.discovery->runRound();
        }
        if (rt.health) rt.health->sync();
        kept.push_back(std::move(rt));
    }
    // Removed pools: every backend drains with the pool's own drain_timeout.
    for (auto& rt : pools_) {
        rt.discovery.reset();
        if (rt.passive) rt.passive->setHealthChecker(nullptr);
        rt.health.reset();
        auto& pool = *rt.pool;
        for (auto& b : pool.backends()) pool.retire(b);
        pool.backends().clear();
        pool.republish();
        retired_pools_.push_back(std::move(rt));
    }
    pools_ = std::move(kept);
}

ReloadResult Gateway::reload(const std::filesystem::path& file,
                             const config::LoadOptions& options) {
    std::lock_guard<std::mutex> lock(reload_mutex_);
    ReloadResult result;
    result.generation = generation_;
    if (!started_) {
        result.errors.push_back(file.string() + ":1:1: the gateway is not running");
        reloads_rejected_.fetch_add(1);
        recordReload(result);
        return result;
    }
    auto reject = [&] {
        reloads_rejected_.fetch_add(1);
        POSTERN_LOG(Warn, "reload rejected",
                    "file=" + common::logfmtValue(file.string()) +
                        " errors=" + std::to_string(result.errors.size()) +
                        " generation=" + std::to_string(generation_));
        recordReload(result);
        return result;
    };

    config::LoadOptions load_options = options;
    load_options.previous = config_.get();
    config::LoadResult loaded = config::loadConfigFile(file, *registry_, load_options);
    if (!loaded.errors.empty()) {
        for (const auto& e : loaded.errors) result.errors.push_back(e.format());
        return reject();
    }
    std::shared_ptr<const config::Config> next = std::move(loaded.config);
    const ConfigDiff diff = diffConfigs(*config_, *next);
    const std::string display = file.string();
    auto positioned = [&](config::SourcePos pos, const std::string& message) {
        return display + ":" + std::to_string(pos.line ? pos.line : 1) + ":" +
               std::to_string(pos.column ? pos.column : 1) + ": " + message;
    };

    // Everything that can fail comes first, before anything changes.
    std::unique_ptr<proxy::AccessLog> new_log;
    if (diff.access_log_changed) {
        std::string why;
        new_log = proxy::AccessLog::open(next->log, &why);
        if (!new_log) {
            result.errors.push_back(positioned({}, "cannot open the access log: " + why));
            return reject();
        }
    }

    // New addresses: an address of a listener that goes away is taken over as it is (same host
    // and port, not port 0), so a listener that is renamed or whose bind list changes keeps it
    // open; the others are bound now.
    struct NewAddress {
        std::size_t listener = 0;  ///< index in next->listeners
        config::BindAddress bind;
        std::uint64_t reused_group = 0;  ///< != 0: an open address taken over
        BoundSockets sockets;
    };
    std::vector<NewAddress> added;
    std::vector<std::uint64_t> reused;
    auto isRemoved = [&](std::uint64_t listener_id) {
        for (const auto& [name, rt] : listeners_)
            if (rt.id == listener_id)
                return std::find(diff.listeners_removed.begin(), diff.listeners_removed.end(),
                                 name) != diff.listeners_removed.end();
        return false;
    };
    const unsigned nworkers = static_cast<unsigned>(workers_.size());
    bool bind_failed = false;
    for (std::size_t li = 0; li < next->listeners.size() && !bind_failed; ++li) {
        const auto& lc = next->listeners[li];
        if (std::find(diff.listeners_added.begin(), diff.listeners_added.end(), lc.name) ==
            diff.listeners_added.end())
            continue;
        for (const auto& bind : lc.binds) {
            NewAddress a;
            a.listener = li;
            a.bind = bind;
            if (bind.port != 0) {
                for (const auto& b : bound_) {
                    if (b.bind.host == bind.host && b.bind.port == bind.port &&
                        isRemoved(b.listener_id) &&
                        std::find(reused.begin(), reused.end(), b.group) == reused.end()) {
                        a.reused_group = b.group;
                        reused.push_back(b.group);
                        break;
                    }
                }
            }
            if (!a.reused_group) {
                std::string why, shown;
                if (!bindForWorkers(bind, nworkers, &a.sockets, &why, &shown)) {
                    result.errors.push_back(positioned(
                        lc.pos, "cannot bind listener '" + lc.name + "' to " + shown + ": " + why));
                    bind_failed = true;
                    break;
                }
            }
            added.push_back(std::move(a));
        }
    }
    // The admin endpoint's new address last: nothing can fail after it.
    if (!bind_failed) {
        std::string why;
        if (!prepareAdmin(next->admin, &why)) {
            result.errors.push_back(positioned(next->admin.bind_pos, why));
            bind_failed = true;
        }
    }
    if (bind_failed) {
        for (auto& a : added)
            for (net::Fd fd : a.sockets.fds) net::closeFd(fd);
        return reject();
    }

    // Pools, on the control thread (their backends, health checks and discovery live there).
    {
        std::promise<void> applied;
        auto done = applied.get_future();
        control_loop_.post([this, &next, &applied] {
            applyPools(next);
            applied.set_value();
        });
        done.wait();
    }

    // Listeners: kept ones get the new context, new ones their sockets, removed ones close.
    std::map<std::string, ListenerRuntime> listeners;
    for (std::size_t li = 0; li < next->listeners.size(); ++li) {
        const auto& lc = next->listeners[li];
        const bool kept = std::find(diff.listeners_kept.begin(), diff.listeners_kept.end(),
                                    lc.name) != diff.listeners_kept.end();
        ListenerRuntime rt;
        if (kept) {
            rt = listeners_.at(lc.name);
            rt.context = makeListenerContext(next, lc, rt, rt.context.get());
            for (const auto& b : bound_)
                if (b.listener_id == rt.id)
                    for (auto& w : workers_) w->setListener(b.group, rt.context);
        } else {
            rt.id = next_id_++;
            rt.stats = std::make_shared<proxy::ListenerStats>(worker_count_);
            rt.context = makeListenerContext(next, lc, rt, nullptr);
            {
                std::lock_guard<std::mutex> stats_lock(stats_mutex_);
                all_stats_.push_back(rt.stats);
            }
            for (auto& a : added) {
                if (a.listener != li) continue;
                if (a.reused_group) {
                    for (auto& b : bound_) {
                        if (b.group != a.reused_group) continue;
                        b.listener_id = rt.id;
                        b.bind = a.bind;
                        for (auto& w : workers_) w->setListener(b.group, rt.context);
                        POSTERN_LOG(Info, "listening",
                                    "listener=" + common::logfmtValue(lc.name) + " address=" +
                                        b.address.toString() + targetsText(lc) + " socket=kept");
                    }
                    continue;
                }
                BoundAddress bound{next_id_++, rt.id, a.bind, a.sockets.address};
                for (std::size_t w = 0; w < workers_.size(); ++w)
                    workers_[w]->addListener(bound.group, rt.context, a.sockets.fds[w]);
                a.sockets.fds.clear();
                bound_.push_back(bound);
                POSTERN_LOG(Info, "listening",
                            "listener=" + common::logfmtValue(lc.name) +
                                " address=" + bound.address.toString() + targetsText(lc));
            }
        }
        listeners[lc.name] = std::move(rt);
    }
    for (const auto& name : diff.listeners_removed) {
        const ListenerRuntime& old = listeners_.at(name);
        for (auto it = bound_.begin(); it != bound_.end();) {
            if (it->listener_id != old.id) {
                ++it;
                continue;
            }
            for (auto& w : workers_) w->removeListener(it->group);
            POSTERN_LOG(
                Info, "listener closed",
                "listener=" + common::logfmtValue(name) + " address=" + it->address.toString());
            it = bound_.erase(it);
        }
        for (auto& w : workers_) w->drainListener(old.id);
    }
    listeners_ = std::move(listeners);

    // [log], [gateway] keys that apply in place.
    if (diff.log_level_changed) common::Log::setLevel(next->log.level);
    if (diff.log_file_changed) {
        // Opened here, after everything that can reject the reload: a file that cannot be opened
        // keeps the old target and is a warning, not a rejection.
        std::string why;
        if (!common::Log::setFile(next->log.file, &why)) {
            std::string warning = "[log] file not applied: " + why + "; the log stays where it was";
            POSTERN_LOG(Warn, "reload: " + warning, "file=" + common::logfmtValue(display));
            result.warnings.push_back(std::move(warning));
        }
    }
    if (new_log) {
        for (auto& w : workers_) w->setAccessLog(new_log.get());
        std::lock_guard<std::mutex> logs_lock(access_logs_mutex_);
        access_logs_.push_back(std::move(new_log));
    }
    applyAdmin(next->admin);
    if (next->gateway.max_connections != config_->gateway.max_connections)
        for (auto& w : workers_) w->setGlobalMax(next->gateway.max_connections);
    for (const auto& key : diff.restart_only) {
        std::string warning = key + " changed: it needs a restart; the running value stays";
        POSTERN_LOG(Warn, "reload: " + warning, "file=" + common::logfmtValue(display));
        result.warnings.push_back(std::move(warning));
    }
    logTlsSetup(*next, std::chrono::system_clock::now());
    // Applied when every worker has run its tasks: from the moment reload() returns (and the
    // caller says so), every new connection gets the new generation and removed listeners refuse.
    std::vector<std::future<void>> workers_applied;
    for (auto& w : workers_) workers_applied.push_back(w->applied());
    for (auto& f : workers_applied) f.wait();

    config_ = std::move(next);
    ++generation_;
    reloads_applied_.fetch_add(1);
    result.applied = true;
    result.generation = generation_;
    {
        std::lock_guard<std::mutex> view_lock(view_mutex_);
        loaded_at_ = admin::WallClock::now();
    }
    publishView();
    recordReload(result);
    POSTERN_LOG(Info, "reload applied",
                "generation=" + std::to_string(generation_) +
                    " listeners_added=" + joined(diff.listeners_added) +
                    " listeners_removed=" + joined(diff.listeners_removed) + " listeners_kept=" +
                    joined(diff.listeners_kept) + " routes_changed=" + joined(diff.routes_changed) +
                    " pools_added=" + joined(diff.pools_added) + " pools_removed=" +
                    joined(diff.pools_removed) + " pools_changed=" + joined(diff.pools_changed) +
                    " pools_kept=" + joined(diff.pools_kept));
    return result;
}

// ---- what the admin endpoint reads -------------------------------------------------------------

void Gateway::publishView() {
    std::vector<ViewListener> listeners;
    listeners.reserve(listeners_.size());
    // In the config's order, as the file lists them.
    for (const auto& lc : config_->listeners) {
        auto it = listeners_.find(lc.name);
        if (it == listeners_.end()) continue;
        ViewListener v;
        v.context = it->second.context;
        for (const auto& b : bound_)
            if (b.listener_id == it->second.id) v.bound.push_back(b.address.toString());
        listeners.push_back(std::move(v));
    }
    std::vector<std::shared_ptr<upstream::Pool>> pools;
    pools.reserve(pools_.size());
    for (const auto& rt : pools_) pools.push_back(rt.pool);
    std::lock_guard<std::mutex> view_lock(view_mutex_);
    view_listeners_ = std::move(listeners);
    view_pools_ = std::move(pools);
    view_generation_ = generation_;
}

void Gateway::recordReload(const ReloadResult& result) {
    admin::ReloadRecord r;
    r.time = admin::WallClock::now();
    r.applied = result.applied;
    r.generation = result.generation;
    r.errors = result.errors;
    std::lock_guard<std::mutex> view_lock(view_mutex_);
    reload_history_.push_front(std::move(r));
    if (reload_history_.size() > admin::kReloadHistory) reload_history_.pop_back();
}

admin::GatewaySnapshot Gateway::snapshot() const {
    admin::GatewaySnapshot s;
    std::vector<ViewListener> listeners;
    std::vector<std::shared_ptr<upstream::Pool>> pools;
    {
        std::lock_guard<std::mutex> view_lock(view_mutex_);
        listeners = view_listeners_;
        pools = view_pools_;
        s.generation = view_generation_;
        s.started = started_at_;
        s.loaded = loaded_at_;
        s.reloads.assign(reload_history_.begin(), reload_history_.end());
    }
    s.version = POSTERN_VERSION;
    s.now = admin::WallClock::now();
    s.connections_active = global_active_.load(std::memory_order_relaxed);
    s.reloads_applied = reloads_applied_.load();
    s.reloads_rejected = reloads_rejected_.load();

    s.listeners.reserve(listeners.size());
    for (const auto& v : listeners) {
        const config::ListenerConfig& lc = *v.context->config;
        admin::ListenerSnapshot& l = s.listeners.emplace_back();
        l.name = lc.name;
        l.protocol = protocolName(lc.protocol);
        l.bind = v.bound;
        l.pool = lc.pool;
        l.http = config::isHttp(lc.protocol);
        l.tls = config::terminatesTls(lc.protocol);
        l.totals = v.context->stats->sum();
    }

    s.pools.reserve(pools.size());
    for (const auto& pool : pools) {
        // The published snapshot lists every backend (eligible or not) with its attributes as
        // published: no control-thread state is read here.
        const auto snap = pool->snapshot();
        const config::PoolConfig& pc = *snap->config;
        admin::PoolSnapshot& p = s.pools.emplace_back();
        p.name = pool->name();
        p.balancer = pc.balancer;
        p.connect_time = pool->connectTimeTotals();
        const bool probed = pc.probe.has_value();
        p.backends.reserve(snap->members.size());
        for (const auto& m : snap->members) {
            const upstream::Backend& b = *m.backend;
            constexpr auto r = std::memory_order_relaxed;
            admin::BackendSnapshot& o = p.backends.emplace_back();
            o.address = b.address_text;
            o.host = b.host;
            o.region = m.region;
            o.weight = m.weight;
            o.priority = m.priority;
            o.up = b.up.load(r) && !b.passive_down.load(r);
            o.admin_drained = b.admin_drained.load(r);
            o.draining =
                m.removed || o.admin_drained || b.draining.load(r) || b.probe_drain.load(r);
            o.active = b.active.load(r);
            o.connections_total = b.connectionsTotal();
            o.connect_failures = b.connectFailures();
            o.last_probe = b.lastProbe();
            if (probed) {
                common::HistogramTotals h;
                b.probe_duration.addTo(h);
                o.probe_duration = h;
            }
            o.unknown = probed && !o.last_probe && !o.up;
        }
    }
    return s;
}

std::string Gateway::metricsText() { return admin::writePrometheus(snapshot()); }

std::string Gateway::statusJson() { return admin::writeStatusJson(snapshot()); }

}  // namespace postern::server
