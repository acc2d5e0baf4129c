#include "upstream/pool.h"

#include <algorithm>
#include <cmath>

#include "common/log.h"
#include "upstream/passive_health.h"

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

constexpr auto kRelaxed = std::memory_order_relaxed;

/** splitmix64's finaliser (the client hash is FNV of the IP: nearby addresses differ in few bits).
 */
constexpr std::uint64_t mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Affinity memo entries: the low bits hold the home's index in its tier (+1), the rest a tag of
// the client's hash (the slot itself is chosen by the hash's low bits).
constexpr unsigned kHomeIndexBits = 24;
constexpr std::uint64_t kHomeIndexMask = (std::uint64_t{1} << kHomeIndexBits) - 1;
constexpr std::uint32_t kMaxCachedTier = kHomeIndexMask - 1;
constexpr std::uint32_t kHomeWays = 4;

std::uint32_t activeOf(void* ctx, std::uint32_t index) noexcept {
    const auto* tier = static_cast<const Snapshot::Tier*>(ctx);
    if (index >= tier->size()) return 0;
    return tier->owner->backends[tier->begin + index]->active.load(kRelaxed);
}

postern_str str(const std::string& s) { return {s.data(), s.size()}; }

}  // namespace

Pool::Pool(std::shared_ptr<const config::PoolConfig> config, unsigned workers)
    : name_(config->name), config_(std::move(config)), connect_time_(workers) {
    auto empty = std::make_shared<Snapshot>();
    empty->config = config_;
    snapshot_.store(std::move(empty));
}

void Pool::setConfig(std::shared_ptr<const config::PoolConfig> config) {
    config_ = std::move(config);
}

std::uint32_t Pool::tierOf(const std::string& region) const {
    const std::string& local = config_->local_region;
    if (local.empty() && config_->region_order.empty()) return 0;
    if (!local.empty() && region == local) return 0;
    std::uint32_t rank = 1;
    for (const auto& r : config_->region_order) {
        if (r == local) continue;
        if (r == region) return rank;
        ++rank;
    }
    return rank;  // regions nobody listed come last: used rather than refusing a connection
}

void Pool::republish() {
    if (!retired_.empty()) reviewRetired();
    auto snap = std::make_shared<Snapshot>();
    snap->config = config_;
    std::vector<std::pair<std::uint64_t, std::shared_ptr<Backend>>> eligible;
    for (auto& b : backends_)
        if (b->up.load() && !b->draining.load() && !b->probe_drain.load() &&
            !b->admin_drained.load())
            eligible.emplace_back(tierKey(*b), b);
    std::stable_sort(eligible.begin(), eligible.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });

    snap->backends.reserve(eligible.size());
    snap->views.reserve(eligible.size());
    snap->regions.reserve(eligible.size());  // never reallocated after: views point into it
    snap->affinity_keys.reserve(eligible.size());
    snap->affinity_inv_weights.reserve(eligible.size());
    std::size_t tier_count = 0;
    for (std::size_t i = 0; i < eligible.size(); ++i) {
        if (i == 0 || eligible[i].first != eligible[i - 1].first) ++tier_count;
        const auto& b = eligible[i].second;
        snap->backends.push_back(b);
        const std::string& region = snap->regions.emplace_back(b->region);
        snap->views.push_back(postern_backend{b->id, str(b->host), str(b->ip_text), b->port,
                                              b->weight, b->max_connections.load(kRelaxed),
                                              str(region)});
        snap->affinity_keys.push_back(mix64(b->id));
        snap->affinity_inv_weights.push_back(
            1.0 / static_cast<double>(std::max<std::uint32_t>(b->weight, 1)));
    }
    snap->members.reserve(backends_.size() + retired_.size());
    for (const auto& b : backends_)
        snap->members.push_back({b, b->weight, b->priority, b->region, false});
    for (const auto& r : retired_)
        if (std::find(backends_.begin(), backends_.end(), r.backend) == backends_.end())
            snap->members.push_back(
                {r.backend, r.backend->weight, r.backend->priority, r.backend->region, true});
    // Every Tier is in place before any address of one is handed out (load.ctx).
    snap->tiers.reserve(tier_count);
    for (std::size_t i = 0; i < eligible.size(); ++i) {
        if (i == 0 || eligible[i].first != eligible[i - 1].first) {
            auto& t = snap->tiers.emplace_back();
            t.begin = static_cast<std::uint32_t>(i);
        }
        auto& t = snap->tiers.back();
        t.end = static_cast<std::uint32_t>(i + 1);
        if (snap->views[i].weight != snap->views[t.begin].weight) t.uniform_weights = false;
    }
    for (auto& t : snap->tiers) {
        t.owner = snap.get();
        t.load = postern_backend_load{&t, &activeOf};
        if (config_->affinity == config::Affinity::ClientIp && t.size() > 1 &&
            t.size() < kMaxCachedTier) {
            // Room for many more clients than backends, within 64 KiB.
            std::uint64_t slots = 1024;
            while (slots < 8192 && slots < 16u * t.size()) slots <<= 1;
            t.home_cache = std::make_unique<std::atomic<std::uint64_t>[]>(slots);
            for (std::uint64_t k = 0; k < slots; ++k) t.home_cache[k].store(0, kRelaxed);
            t.home_cache_mask = slots - 1;
        }
        if (!config_->balancer_factory) continue;
        t.selector = config_->balancer_factory->build(
            std::span<const postern_backend>(snap->views).subspan(t.begin, t.size()), &t.load);
        if (!t.selector) {
            const std::string& region = snap->regions[t.begin];
            POSTERN_LOG(
                Error, "balancer failed to build a selector; these backends get no new connections",
                "pool=" + common::logfmtValue(config_->name) + " balancer=" + config_->balancer +
                    " region=" + common::logfmtValue(region) +
                    " priority=" + std::to_string(eligible[t.begin].first & 0xffffffffu));
        }
    }
    snapshot_.store(std::move(snap), std::memory_order_release);
}

void Pool::retire(const std::shared_ptr<Backend>& backend) {
    backend->draining.store(true);
    retired_.push_back(Retired{backend});
    if (drain_observer_) drain_observer_->backendRetired(backend, config_->drain_timeout);
}

void Pool::readmit(const std::shared_ptr<Backend>& backend) { backend->draining.store(false); }

void Pool::reviewRetired() {
    for (auto it = retired_.begin(); it != retired_.end();) {
        const auto& old = it->backend;
        const bool back = std::any_of(backends_.begin(), backends_.end(), [&](const auto& b) {
            return b == old || b->address_text == old->address_text;
        });
        if (back) {
            // The same object back in the set takes new connections again; a new object for the
            // same address does, and this one only keeps its open connections, uncut.
            if (std::find(backends_.begin(), backends_.end(), old) != backends_.end())
                old->draining.store(false);
            if (drain_observer_) drain_observer_->backendReturned(old);
            POSTERN_LOG(Info, "backend back: its drain ends",
                        "pool=" + common::logfmtValue(name_) + " backend=" + old->address_text);
            it = retired_.erase(it);
        } else if (old->active.load(kRelaxed) == 0) {
            // Nothing left to cut (or to spare): forgotten, whatever its deadline.
            it = retired_.erase(it);
        } else {
            ++it;
        }
    }
}

std::uint32_t Pool::limitOf(const config::PoolConfig& config, const Backend& b) {
    std::uint32_t limit = b.max_connections.load(kRelaxed);
    const std::uint32_t pool_limit = config.max_connections_per_backend;
    if (pool_limit && (!limit || pool_limit < limit)) limit = pool_limit;
    return limit;
}

std::uint32_t Pool::affinityHome(const Snapshot& snap, const Snapshot::Tier& tier,
                                 std::uint64_t client_hash) {
    // Rendezvous (highest random weight) hashing: each backend scores hash(client, backend id) and
    // the best score wins. A client's home changes only when its own home leaves the set — unlike
    // a ring or a Maglev table, where other departures shift some clients too — and every
    // instance with the same backends computes the same home.
    const std::uint64_t client = mix64(client_hash);
    const std::uint64_t tag = client >> kHomeIndexBits;
    std::atomic<std::uint64_t>* set = nullptr;
    if (tier.home_cache) {
        // 4-way sets: clients that share a set do not keep evicting each other.
        set = &tier.home_cache[client & tier.home_cache_mask & ~std::uint64_t{kHomeWays - 1}];
        for (std::uint32_t way = 0; way < kHomeWays; ++way) {
            const std::uint64_t entry = set[way].load(kRelaxed);
            if (entry != 0 && (entry >> kHomeIndexBits) == tag) {
                const std::uint64_t local = (entry & kHomeIndexMask) - 1;
                if (local < tier.size()) return tier.begin + static_cast<std::uint32_t>(local);
            }
        }
    }
    std::uint32_t best = tier.begin;
    if (tier.uniform_weights) {
        std::uint64_t best_score = 0;
        for (std::uint32_t i = tier.begin; i < tier.end; ++i) {
            const std::uint64_t score = mix64(client ^ snap.affinity_keys[i]);
            if (i == tier.begin || score > best_score) {
                best = i;
                best_score = score;
            }
        }
    } else {
        // Weighted form: score = -log(u) / weight with u uniform in (0, 1]; the smallest wins, with
        // probability weight / sum of weights.
        double best_score = 0;
        for (std::uint32_t i = tier.begin; i < tier.end; ++i) {
            const double u =
                static_cast<double>((mix64(client ^ snap.affinity_keys[i]) >> 11) + 1) * 0x1.0p-53;
            const double score = -std::log(u) * snap.affinity_inv_weights[i];
            if (i == tier.begin || score < best_score) {
                best = i;
                best_score = score;
            }
        }
    }
    if (set) {
        std::uint32_t way = 0;  // an empty way, else one chosen by the client's hash
        while (way < kHomeWays && set[way].load(kRelaxed) != 0) ++way;
        if (way == kHomeWays) way = static_cast<std::uint32_t>(tag % kHomeWays);
        set[way].store((tag << kHomeIndexBits) | (best - tier.begin + 1), kRelaxed);
    }
    return best;
}

bool Pool::tryTake(const Snapshot& snap, const Snapshot::Tier& tier, std::uint32_t i,
                   std::span<const Backend* const> tried, bool* saw_full) const {
    Backend& b = *snap.backends[i];
    // The snapshot may be a moment older than the health state: check the live flags too.
    if (!b.takesNewConnections()) return false;
    if (std::find(tried.begin(), tried.end(), &b) != tried.end()) return false;
    const config::PoolConfig& config = *snap.config;
    if (config.balancing_mode == config::BalancingMode::Utilization &&
        b.utilization.load(kRelaxed) > config.max_utilization) {
        *saw_full = true;
        return false;
    }
    const std::uint32_t limit = limitOf(config, b);
    if (limit && b.active.load(kRelaxed) >= limit) {
        *saw_full = true;
        return false;
    }
    // Reserve the slot; undo if another worker filled the backend meanwhile.
    const std::uint32_t before = b.active.fetch_add(1, kRelaxed);
    if (limit && before >= limit) {
        b.active.fetch_sub(1, kRelaxed);
        *saw_full = true;
        return false;
    }
    if (tier.selector) tier.selector->onOpen(i - tier.begin);
    return true;
}

std::shared_ptr<Backend> Pool::pick(const Snapshot& snap, std::uint64_t client_hash,
                                    std::uint64_t random, std::span<const Backend* const> tried,
                                    std::uint32_t* index, PickFailure* why) const {
    bool saw_full = false;
    const bool affinity = snap.config->affinity == config::Affinity::ClientIp;
    auto taken = [&](std::uint32_t i) {
        *index = i;
        *why = PickFailure::None;
        return snap.backends[i];
    };
    for (const auto& tier : snap.tiers) {
        const std::uint32_t size = tier.size();
        if (!tier.selector) continue;  // the balancer failed for these backends: fail safe
        if (affinity) {
            const std::uint32_t home = affinityHome(snap, tier, client_hash);
            if (tryTake(snap, tier, home, tried, &saw_full)) return taken(home);
        }
        std::uint32_t cand[kMaxCandidates];
        const postern_pick_context ctx{client_hash, static_cast<std::uint32_t>(tried.size()), 0,
                                       random};
        const std::uint32_t n = tier.selector->pick(ctx, cand, kMaxCandidates);
        for (std::uint32_t k = 0; k < n; ++k) {
            if (cand[k] >= size) continue;  // a misbehaving plugin: ignore bad indices
            if (tryTake(snap, tier, tier.begin + cand[k], tried, &saw_full))
                return taken(tier.begin + cand[k]);
        }
        // The list was shorter than the tier and nothing on it could take the connection: before
        // spilling to a farther tier or refusing, try the rest (rare: everything listed was full).
        if (n < size) {
            const std::uint32_t start = static_cast<std::uint32_t>((random >> 17) % size);
            for (std::uint32_t k = 0; k < size; ++k) {
                const std::uint32_t i = tier.begin + (start + k) % size;
                if (tryTake(snap, tier, i, tried, &saw_full)) return taken(i);
            }
        }
    }
    *why = saw_full ? PickFailure::Capacity : PickFailure::NoBackend;
    return nullptr;
}

void Pool::release(const Snapshot& snap, std::uint32_t index, Backend& backend) const {
    backend.active.fetch_sub(1, kRelaxed);
    for (const auto& tier : snap.tiers) {
        if (index >= tier.begin && index < tier.end) {
            if (tier.selector) tier.selector->onClose(index - tier.begin);
            return;
        }
    }
}

void Pool::noteConnectFailure(const std::shared_ptr<Backend>& backend) const {
    PassiveHealth* passive = passive_.load(std::memory_order_acquire);
    if (!passive) return;
    // The current settings (a failed connect is no hot path: one snapshot load).
    const auto snap = snapshot();
    // Exactly one failure of a streak reaches the threshold: one report per streak.
    const std::uint32_t limit = snap->config->backend.passive_failures;
    if (!limit || backend->connect_failure_streak.fetch_add(1, kRelaxed) + 1 != limit) return;
    // Skipped by every worker from now on, not only once the control loop has run (a loaded
    // machine may take a while to schedule it). Without a probe the last usable backend is kept
    // (see passive_health.h); the control loop decides again, with the whole pool.
    bool hold = snap->config->probe.has_value();
    if (!hold) {
        for (const auto& other : snap->backends) {
            if (other.get() != backend.get() && other->takesNewConnections()) {
                hold = true;
                break;
            }
        }
    }
    if (hold) backend->passive_down.store(true, kRelaxed);
    passive->report(backend);
}

void Pool::noteConnectSuccess(Backend& backend) const {
    // Read first: a healthy backend's counter stays 0 and its cache line is not written.
    if (passive_.load(kRelaxed) && backend.connect_failure_streak.load(kRelaxed) != 0)
        backend.connect_failure_streak.store(0, kRelaxed);
}

}  // namespace postern::upstream
