#include "upstream/discovery_runner.h"

#include <map>

#include "common/host_port.h"
#include "common/log.h"

namespace postern::upstream {

namespace {

struct Collected {
    std::string host;
    std::uint16_t port;
    std::uint32_t weight;
    std::uint32_t max_connections;
    std::string region;
};

struct Sink {
    std::vector<Collected> targets;
    bool failed = false;
    std::string reason;

    static void add(void* ctx, const postern_target* t) noexcept {
        try {
            auto* self = static_cast<Sink*>(ctx);
            self->targets.push_back(Collected{std::string(t->host.data, t->host.size), t->port,
                                              t->weight ? t->weight : 1, t->max_connections,
                                              std::string(t->region.data, t->region.size)});
        } catch (...) {
            static_cast<Sink*>(ctx)->failed = true;
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

}  // namespace

DiscoveryRunner::DiscoveryRunner(net::EventLoop& loop, Pool& pool, HealthChecker* health)
    : loop_(loop), pool_(pool), health_(health), timer_(this, 0) {}

DiscoveryRunner::~DiscoveryRunner() { loop_.cancel(timer_); }

void DiscoveryRunner::onTimer(std::uint32_t) { runRound(); }

bool DiscoveryRunner::runRound() {
    const auto& cfg = pool_.config();
    const auto& disc = *cfg.discovery.instance;
    Sink sink;
    postern_discovery_sink c_sink{&sink, &Sink::add, &Sink::fail};
    disc.discover(c_sink, cfg.discovery.refresh.count());
    auto hint = disc.nextRefreshMs();
    loop_.armAfter(timer_, hint > 0 ? std::chrono::milliseconds(hint) : cfg.discovery.refresh);
    std::string pool_field = "pool=" + common::logfmtValue(pool_.name());
    if (sink.failed) {
        POSTERN_LOG(Warn, "discovery failed; keeping the last good backend set",
                    pool_field + " plugin=" + cfg.discovery.plugin + " reason=" + common::logfmtValue(sink.reason));
        return false;
    }
    // Index current backends by identity so the ones that stay keep health and counters.
    std::map<std::pair<std::string, std::uint16_t>, std::shared_ptr<Backend>> current;
    for (auto& b : pool_.backends()) current[{b->host, b->port}] = b;
    std::vector<std::shared_ptr<Backend>> next;
    bool changed = false;
    for (auto& t : sink.targets) {
        std::uint16_t port = t.port ? t.port : cfg.backend.port;
        if (port == 0) {
            POSTERN_LOG(Error, "target has no port and [pool.backend] sets none; skipped",
                        pool_field + " target=" + common::logfmtValue(t.host));
            continue;
        }
        auto key = std::make_pair(t.host, port);
        if (auto it = current.find(key); it != current.end()) {
            if (std::find(next.begin(), next.end(), it->second) == next.end()) next.push_back(it->second);
            continue;
        }
        std::string err;
        auto addr = net::SocketAddress::resolve(t.host, port, &err);
        if (!addr) {
            POSTERN_LOG(Warn, "cannot resolve backend; skipped", pool_field + " error=" + common::logfmtValue(err));
            continue;
        }
        auto b = std::make_shared<Backend>();
        b->host = t.host;
        b->port = port;
        b->address = *addr;
        b->address_text = addr->toString();
        b->ip_text = addr->ip();
        b->weight = t.weight;
        b->max_connections = t.max_connections;
        b->region = t.region;
        b->id = backendId(t.host, port);
        b->up.store(!cfg.probe.has_value());  // without a probe a backend counts as up
        current[key] = b;
        next.push_back(b);
        changed = true;
        POSTERN_LOG(Info, "backend added", pool_field + " backend=" + b->address_text);
    }
    for (auto& b : pool_.backends()) {
        if (std::find(next.begin(), next.end(), b) == next.end()) {
            pool_.retire(b);
            changed = true;
            POSTERN_LOG(Info, "backend removed", pool_field + " backend=" + b->address_text);
        }
    }
    if (changed || next.size() != pool_.backends().size()) {
        pool_.backends() = std::move(next);
        pool_.republish();
        if (health_) health_->sync();
    }
    return true;
}

}  // namespace postern::upstream
