#include "upstream/pool.h"

#include <algorithm>

#include "common/log.h"

namespace postern::upstream {

std::uint64_t backendId(const std::string& host, std::uint16_t port) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](unsigned char c) {
        h ^= c;
        h *= 1099511628211ull;
    };
    for (char c : host) mix(static_cast<unsigned char>(c));
    mix(':');
    for (char c : std::to_string(port)) mix(static_cast<unsigned char>(c));
    return h;
}

namespace {

std::uint32_t activeOf(void* ctx, std::uint32_t index) noexcept {
    const auto* snap = static_cast<const Snapshot*>(ctx);
    if (index >= snap->backends.size()) return 0;
    return snap->backends[index]->active.load(std::memory_order_relaxed);
}

postern_str str(const std::string& s) { return {s.data(), s.size()}; }

}  // namespace

Pool::Pool(const config::PoolConfig& config, std::shared_ptr<const config::Config> keep_alive)
    : config_(&config), keep_alive_(std::move(keep_alive)) {
    snapshot_.store(std::make_shared<const Snapshot>());
}

void Pool::republish() {
    auto snap = std::make_shared<Snapshot>();
    for (auto& b : backends_)
        if (b->up.load() && !b->draining.load()) snap->backends.push_back(b);
    snap->views.reserve(snap->backends.size());
    for (auto& b : snap->backends) {
        snap->views.push_back(postern_backend{b->id, str(b->host), str(b->ip_text), b->port, b->weight,
                                              b->max_connections, str(b->region)});
    }
    snap->load = postern_backend_load{snap.get(), &activeOf};
    if (!snap->backends.empty() && config_->balancer_factory) {
        snap->selector = config_->balancer_factory->build(snap->views, &snap->load);
        if (!snap->selector)
            POSTERN_LOG(Error, "balancer failed to build a selector; pool refuses new connections",
                        "pool=" + common::logfmtValue(config_->name) +
                            " balancer=" + config_->balancer);
    }
    snapshot_.store(std::move(snap), std::memory_order_release);
}

bool Pool::hasCapacity(const Backend& b) const {
    std::uint32_t limit = b.max_connections;
    std::uint32_t pool_limit = config_->max_connections_per_backend;
    if (pool_limit && (!limit || pool_limit < limit)) limit = pool_limit;
    return limit == 0 || b.active.load(std::memory_order_relaxed) < limit;
}

std::shared_ptr<Backend> Pool::pick(const Snapshot& snap, std::uint64_t client_hash, std::uint64_t random,
                                    std::span<const Backend* const> tried, std::uint32_t* index,
                                    PickFailure* why) const {
    *why = PickFailure::NoBackend;
    if (!snap.selector || snap.backends.empty()) return nullptr;
    constexpr std::uint32_t kMaxCandidates = 64;
    std::uint32_t cand[kMaxCandidates];
    postern_pick_context ctx{client_hash, static_cast<std::uint32_t>(tried.size()), 0, random};
    std::uint32_t n = snap.selector->pick(ctx, cand, kMaxCandidates);
    bool saw_full = false;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (cand[i] >= snap.backends.size()) continue;  // a misbehaving plugin: ignore bad indices
        const auto& b = snap.backends[cand[i]];
        if (!b->up.load(std::memory_order_relaxed) || b->draining.load(std::memory_order_relaxed)) continue;
        if (std::find(tried.begin(), tried.end(), b.get()) != tried.end()) continue;
        if (!hasCapacity(*b)) {
            saw_full = true;
            continue;
        }
        // Reserve the slot; undo if another worker filled the backend meanwhile.
        std::uint32_t before = b->active.fetch_add(1, std::memory_order_relaxed);
        std::uint32_t limit = b->max_connections;
        std::uint32_t pool_limit = config_->max_connections_per_backend;
        if (pool_limit && (!limit || pool_limit < limit)) limit = pool_limit;
        if (limit && before >= limit) {
            b->active.fetch_sub(1, std::memory_order_relaxed);
            saw_full = true;
            continue;
        }
        snap.selector->onOpen(cand[i]);
        *index = cand[i];
        *why = PickFailure::None;
        return b;
    }
    if (saw_full) *why = PickFailure::Capacity;
    return nullptr;
}

void Pool::release(const Snapshot& snap, std::uint32_t index, Backend& backend) const {
    backend.active.fetch_sub(1, std::memory_order_relaxed);
    if (snap.selector) snap.selector->onClose(index);
}

}  // namespace postern::upstream
