#include "upstream/discovery_runner.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "common/log.h"

namespace postern::upstream {

namespace {

/** Collects one round from the plugin's sink (the plugin's strings are copied during add()). */
struct Sink {
    std::vector<DiscoveredTarget> targets;
    bool failed = false;
    std::string reason;

    static void add(void* ctx, const postern_target* t) noexcept {
        auto* self = static_cast<Sink*>(ctx);
        if (t == nullptr) return;
        try {
            self->targets.push_back(DiscoveredTarget{
                std::string(t->host.data, t->host.size), t->port, t->weight ? t->weight : 1,
                t->max_connections, std::string(t->region.data, t->region.size), t->priority});
        } catch (...) {
            self->failed = true;
            if (self->reason.empty()) self->reason = "out of memory while collecting targets";
        }
    }
    static void fail(void* ctx, postern_str reason) noexcept {
        auto* self = static_cast<Sink*>(ctx);
        self->failed = true;
        try {
            self->reason.assign(reason.data, reason.size);
        } catch (...) {
        }
    }
};

std::chrono::milliseconds budgetFor(config::Millis refresh) {
    return std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(refresh),
                      DiscoveryRunner::kMinBudget, DiscoveryRunner::kMaxBudget);
}

}  // namespace

/** What the runner, its thread and the results it posted share. */
struct DiscoveryRunner::Shared {
    // Read-only after construction.
    std::shared_ptr<plugin::Discovery> instance;  ///< kept alive while the thread runs
    std::string pool_name;
    std::string plugin_name;
    std::chrono::milliseconds refresh{30000};
    std::chrono::milliseconds budget{5000};
    std::uint16_t default_port = 0;

    /** One discover() at a time per instance (runRound() and the thread). */
    std::mutex discover_mutex;
    std::uint64_t sequence = 0;  ///< guarded by discover_mutex

    /** The thread's schedule. */
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false;
    net::Clock::time_point next_round{};

    /** Held while a posted result is applied; `alive` is false once the runner is going away. */
    std::mutex apply_mutex;
    bool alive = true;
};

DiscoveryRunner::DiscoveryRunner(net::EventLoop& loop, Pool& pool, HealthChecker* health)
    : loop_(loop), pool_(pool), health_(health), shared_(std::make_shared<Shared>()) {
    const auto& cfg = pool_.config();
    shared_->instance = cfg.discovery.instance;
    shared_->pool_name = cfg.name;
    shared_->plugin_name = cfg.discovery.plugin;
    shared_->refresh =
        std::max(std::chrono::duration_cast<std::chrono::milliseconds>(cfg.discovery.refresh),
                 std::chrono::milliseconds(1));
    shared_->budget = budgetFor(cfg.discovery.refresh);
    shared_->default_port = cfg.backend.port;
    up_without_probe_ = !cfg.probe.has_value();
    // The name is how we talk to the backend when TLS takes its SNI from it.
    name_is_identity_ = cfg.backend.tls_context != nullptr && cfg.backend.tls.sni.empty();
}

DiscoveryRunner::~DiscoveryRunner() {
    {
        std::lock_guard<std::mutex> g(shared_->apply_mutex);
        shared_->alive = false;  // a result still queued on the control loop is dropped
    }
    {
        std::lock_guard<std::mutex> g(shared_->mutex);
        shared_->stop = true;
    }
    shared_->wake.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<DiscoveryRunner::Round> DiscoveryRunner::collect(Shared& shared) {
    auto round = std::make_shared<Round>();
    std::lock_guard<std::mutex> g(shared.discover_mutex);
    round->sequence = ++shared.sequence;
    std::chrono::milliseconds next = shared.refresh;
    if (!shared.instance) {
        round->failed = true;
        round->reason = "the pool has no discovery instance";
    } else {
        Sink sink;
        const postern_discovery_sink c_sink{&sink, &Sink::add, &Sink::fail};
        shared.instance->discover(c_sink, shared.budget.count());
        const std::int64_t hint = shared.instance->nextRefreshMs();
        if (hint > 0) next = std::chrono::milliseconds(hint);
        round->failed = sink.failed;
        round->reason = std::move(sink.reason);
        if (!round->failed)
            round->resolution =
                resolveTargets(sink.targets, shared.default_port,
                               [](std::string_view host, std::uint16_t port, std::string* error) {
                                   return net::SocketAddress::resolveAll(host, port, error);
                               });
    }
    round->next = next;
    return round;
}

bool DiscoveryRunner::runRound() {
    auto round = collect(*shared_);
    const bool ok = apply(*round);
    if (!thread_.joinable()) {
        startThread(round->next);
    } else {
        {
            std::lock_guard<std::mutex> g(shared_->mutex);
            shared_->next_round = net::Clock::now() + round->next;
        }
        shared_->wake.notify_all();
    }
    return ok;
}

void DiscoveryRunner::start() {
    if (!thread_.joinable()) startThread(std::chrono::milliseconds(0));
}

void DiscoveryRunner::startThread(std::chrono::milliseconds first_delay) {
    shared_->next_round = net::Clock::now() + first_delay;
    thread_ = std::thread(&DiscoveryRunner::threadMain, shared_, &loop_, this);
}

void DiscoveryRunner::threadMain(std::shared_ptr<Shared> shared, net::EventLoop* loop,
                                 DiscoveryRunner* runner) {
    std::unique_lock<std::mutex> lock(shared->mutex);
    for (;;) {
        while (!shared->stop && net::Clock::now() < shared->next_round)
            shared->wake.wait_until(lock, shared->next_round);
        if (shared->stop) return;
        // Until this round's result says otherwise: a runRound() meanwhile moves it.
        shared->next_round = net::Clock::now() + shared->refresh;
        lock.unlock();
        std::shared_ptr<Round> round = collect(*shared);
        lock.lock();
        if (shared->stop) return;
        shared->next_round = net::Clock::now() + round->next;
        // `runner` is only touched on the control loop, and only while it is alive (its
        // destructor clears `alive` under apply_mutex before it joins this thread).
        loop->post([shared, round, runner] {
            std::lock_guard<std::mutex> g(shared->apply_mutex);
            if (shared->alive) runner->apply(*round);
        });
    }
}

bool DiscoveryRunner::apply(const Round& round) {
    const std::string pool_field = "pool=" + common::logfmtValue(shared_->pool_name);
    if (round.sequence <= last_sequence_) return !round.failed;  // a newer round was applied
    last_sequence_ = round.sequence;
    ++rounds_applied_;
    if (round.failed) {
        POSTERN_LOG(Warn, "discovery failed; keeping the last good backend set",
                    pool_field + " plugin=" + shared_->plugin_name +
                        " reason=" + common::logfmtValue(round.reason));
        return false;
    }
    for (const auto& e : round.resolution.errors)
        POSTERN_LOG(Warn, "discovery target skipped",
                    pool_field + " error=" + common::logfmtValue(e));

    // Removed backends that have no connection left are gone for good.
    std::erase_if(draining_, [](const std::shared_ptr<Backend>& b) {
        return b->active.load(std::memory_order_relaxed) == 0;
    });
    const DiffOptions options{up_without_probe_, name_is_identity_, pool_.workers()};
    TargetDiff diff = diffTargets(pool_.backends(), draining_, round.resolution, options);
    for (const auto& m : diff.merged)
        POSTERN_LOG(Debug, "discovery target merged with an earlier one of the same address",
                    pool_field + " target=" + common::logfmtValue(m));
    if (!diff.changed() && diff.next.size() == pool_.backends().size()) return true;

    for (const auto& u : diff.updated) {
        applyInPlace(*u.backend, u.target);
        POSTERN_LOG(Info, "backend updated",
                    pool_field + " backend=" + u.backend->address_text +
                        " weight=" + std::to_string(u.backend->weight) +
                        " region=" + common::logfmtValue(u.backend->region) +
                        " priority=" + std::to_string(u.backend->priority) + " max_connections=" +
                        std::to_string(u.backend->max_connections.load(std::memory_order_relaxed)));
    }
    for (const auto& b : diff.readmitted) {
        pool_.readmit(b);
        std::erase(draining_, b);
        POSTERN_LOG(Info, "backend back from draining", pool_field + " backend=" + b->address_text);
    }
    for (const auto& b : diff.added)
        POSTERN_LOG(
            Info, "backend added",
            pool_field + " backend=" + b->address_text + " host=" + common::logfmtValue(b->host));
    for (const auto& b : diff.removed) {
        // Logged first: the line's time is never later than the drain's start it announces.
        POSTERN_LOG(Info, "backend removed", pool_field + " backend=" + b->address_text);
        pool_.retire(b);
        if (b->active.load(std::memory_order_relaxed) > 0) draining_.push_back(b);
    }
    pool_.backends() = std::move(diff.next);
    pool_.republish();
    if (health_) health_->sync();
    return true;
}

}  // namespace postern::upstream
