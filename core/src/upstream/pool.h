// A pool's runtime: its backends (control thread) and the immutable snapshot workers pick from.
// The snapshot (eligible backends grouped by locality tier, and the balancer's selector built for
// each tier) is published by an atomic shared_ptr swap, so workers never lock; a connection keeps
// its Backend alive through its own shared_ptr.
//
// The core rules that hold whatever the balancer plugin (SPEC §3 "Balancing"), applied in
// Pool::pick over the balancer's candidate list:
//  - locality: backends are grouped in tiers — [gateway] region first, then `region_order`, then
//    every other region — and a tier is used only when no backend of a nearer one can take the
//    connection (down, draining, full, over max_utilization, or already tried);
//  - priority: within a locality, backends are grouped again by discovery's `priority` (0 = best,
//    e.g. DNS SRV priority): a group is used only when no backend of a better one can take the
//    connection. The tier key is (locality rank, priority): a nearer region always wins;
//  - affinity = "client_ip": within a tier the client's home backend (rendezvous hashing of the
//    client IP over the tier's backend ids) comes before the balancer's choice;
//  - capacity: a backend at its max_connections (its own or the pool's per-backend limit), or
//    above max_utilization in utilization mode, is skipped; the slot is reserved atomically;
//  - a connection never tries the same backend twice.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "common/per_worker.h"
#include "config/model.h"
#include "upstream/backend.h"

namespace postern::upstream {

class PassiveHealth;

/** Backends eligible for new connections (up, not draining), grouped in tiers by (locality rank,
 * priority), best first, and the selector built for each tier. Immutable once published. */
struct Snapshot {
    /** The pool's settings this snapshot was built with (first: destroyed last, it keeps the
     * balancer factory behind the selectors alive). Workers read every pool setting from here,
     * so a reload that changes a kept pool's settings publishes them with the next snapshot. */
    std::shared_ptr<const config::PoolConfig> config;
    /** A contiguous range of `backends` that share a locality rank and a priority, with its own
     * selector (selector index i = snapshot index begin + i). */
    struct Tier {
        std::uint32_t begin = 0;
        std::uint32_t end = 0;
        bool uniform_weights = true;  ///< affinity hashing can skip the weighted form
        postern_backend_load load{};  ///< ctx = this Tier
        const Snapshot* owner = nullptr;
        std::unique_ptr<plugin::Selector> selector;  ///< null: the balancer failed; tier refuses
        /** Affinity only: a memo of client → home for this snapshot (the hash is deterministic,
         * so a hit returns exactly what recomputing would). Slot = mixed client hash & mask,
         * entry = (client tag << 24) | (home - begin + 1); 0 = empty. Written by any worker with
         * relaxed atomic stores; null when affinity is off or the tier is too large to index. */
        std::unique_ptr<std::atomic<std::uint64_t>[]> home_cache;
        std::uint64_t home_cache_mask = 0;
        std::uint32_t size() const { return end - begin; }
    };

    std::vector<std::shared_ptr<Backend>> backends;
    std::vector<postern_backend> views;  ///< host/ip point into `backends`, region into `regions`
    /** Per backend: its region when published (discovery may change a Backend's region in place
     * on the control thread; views and selectors of this snapshot keep reading this copy). */
    std::vector<std::string> regions;
    std::vector<std::uint64_t> affinity_keys;  ///< per backend: mixed id, for rendezvous hashing
    std::vector<double> affinity_inv_weights;  ///< per backend: 1 / weight (weighted tiers)
    std::vector<Tier> tiers;                   ///< best first; never empty ones

    /** Every backend of the pool when published, eligible or not: up, down, probe-drained, and
     * removed ones still draining (`removed`), with the attributes discovery set (copied: the
     * Backend's own change in place on the control thread). What /metrics and /status show;
     * never read on the data path. */
    struct Member {
        std::shared_ptr<Backend> backend;
        std::uint32_t weight = 1;
        std::uint32_t priority = 0;
        std::string region;
        bool removed = false;  ///< no longer in the pool's set: draining until its connections end
    };
    std::vector<Member> members;
};

enum class PickFailure { None, NoBackend, Capacity };

/** Told when a backend leaves its pool (Pool::retire) and when it comes back while still
 * draining, so the sessions using it can be cut at the drain deadline, or not. Called on the
 * control thread; the implementation posts to the workers. */
class DrainObserver {
public:
    virtual void backendRetired(const std::shared_ptr<Backend>& backend,
                                config::Millis timeout) = 0;
    virtual void backendReturned(const std::shared_ptr<Backend>& backend) = 0;

protected:
    ~DrainObserver() = default;
};

class Pool {
public:
    /** At most this many candidates are asked of a selector per tier (when all of them are
     * unusable, pick() tries the rest of the tier itself, so more would only cost time). */
    static constexpr std::uint32_t kMaxCandidates = 16;

    /** `config` points into its Config generation and keeps it alive (shared_ptr aliasing).
     * `workers`: the gateway's worker count (one block of per-worker counters each). */
    explicit Pool(std::shared_ptr<const config::PoolConfig> config, unsigned workers = 1);
    /** `config` must outlive the pool; `keep_alive` (may be null, e.g. in tests) holds it. */
    Pool(const config::PoolConfig& config, std::shared_ptr<const config::Config> keep_alive)
        : Pool(std::shared_ptr<const config::PoolConfig>(std::move(keep_alive), &config)) {}

    /** Control thread: the pool's current settings (workers read Snapshot::config). */
    const config::PoolConfig& config() const { return *config_; }
    /** Any thread: the name never changes (a reload matches pools by name). */
    const std::string& name() const { return name_; }
    /** Any thread: the worker count the pool's counters (and its backends') are made for. */
    unsigned workers() const { return connect_time_.size(); }
    /** Worker `worker`'s histogram of successful backend connects (connect, preface, TLS). */
    common::Histogram& connectTime(unsigned worker) { return connect_time_.at(worker); }
    /** Any thread: every worker's connect histogram summed. */
    common::HistogramTotals connectTimeTotals() const {
        common::HistogramTotals out;
        connect_time_.forEach([&](const common::Histogram& h) { h.addTo(out); });
        return out;
    }
    /** Control thread: a reload changed the pool's settings (same name). Takes effect for new
     * connections with the next republish(), which the caller does. */
    void setConfig(std::shared_ptr<const config::PoolConfig> config);

    /** Any thread. */
    std::shared_ptr<const Snapshot> snapshot() const {
        return snapshot_.load(std::memory_order_acquire);
    }

    /** Worker: picks a backend not in `tried` by the rules above and reserves a connection slot
     * on it (active+1). `index` receives its index in `snap` (for release()). Returns null with
     * the reason when none can take it: Capacity when some backend was skipped only for being
     * full or over max_utilization, else NoBackend. Does not lock or allocate. */
    std::shared_ptr<Backend> pick(const Snapshot& snap, std::uint64_t client_hash,
                                  std::uint64_t random, std::span<const Backend* const> tried,
                                  std::uint32_t* index, PickFailure* why) const;
    /** Worker: releases a slot taken by pick() (`index` as pick() returned it, in `snap`). */
    void release(const Snapshot& snap, std::uint32_t index, Backend& backend) const;

    /** Worker: a connect to `backend` (TCP, PROXY preface, TLS handshake) failed / succeeded.
     * Passive health: counts failures in a row on the backend (no lock) and reports the one that
     * reaches `passive_failures` to the PassiveHealth, which marks the backend down on the
     * control loop. No-ops when passive health is off. */
    void noteConnectFailure(const std::shared_ptr<Backend>& backend) const;
    void noteConnectSuccess(Backend& backend) const;

    /** The tier rank of a backend region under this pool's locality settings: 0 = [gateway]
     * region (or everything when no locality is configured), then the order of `region_order`,
     * then every other region. Control thread (it reads the pool's current settings). */
    std::uint32_t tierOf(const std::string& region) const;
    /** The tier key of a backend: (tierOf(region), priority), packed so that a smaller key is a
     * better tier. Control thread (reads region and priority). */
    std::uint64_t tierKey(const Backend& backend) const {
        return (std::uint64_t{tierOf(backend.region)} << 32) | backend.priority;
    }

    /** The client's home backend in `tier` (rendezvous hashing of the client over the tier's
     * backend ids, weighted): a snapshot index. O(tier size) the first time a client is seen in
     * a snapshot, then O(1) from the tier's memo. Any thread. */
    static std::uint32_t affinityHome(const Snapshot& snap, const Snapshot::Tier& tier,
                                      std::uint64_t client_hash);

    // Control thread only.
    std::vector<std::shared_ptr<Backend>>& backends() { return backends_; }
    /** Rebuilds and publishes the snapshot from the current backends and their health. */
    void republish();
    /** A backend leaves the pool (discovery no longer reports it, or a reload removed it): it gets
     * no new connections from now on and its open ones are closed when drain_timeout has passed,
     * spread over the last 10 % of it (SPEC §3 "Draining"; the DrainObserver does the cutting).
     * The caller also removes it from backends() and republishes. A backend with the same
     * address that joins the pool again before the deadline ends the drain (republish()). */
    void retire(const std::shared_ptr<Backend>& backend);
    /** A retired backend that discovery reports again before it finished draining comes back:
     * it takes new connections again (when up) and keeps its counters and open connections. The
     * caller also puts it back in backends() and republishes. */
    void readmit(const std::shared_ptr<Backend>& backend);
    /** Control thread, before anything is retired: who cuts drained connections. */
    void setDrainObserver(DrainObserver* observer) { drain_observer_ = observer; }
    /** Control thread: where noteConnectFailure() reports (null = passive health off). Workers
     * read it with one relaxed load per failed connect; the object must live as long as the
     * pool. */
    void setPassiveHealth(PassiveHealth* passive) {
        passive_.store(passive, std::memory_order_release);
    }

private:
    /** Tries to reserve a slot on snapshot entry `i`; true on success (onOpen was called). */
    bool tryTake(const Snapshot& snap, const Snapshot::Tier& tier, std::uint32_t i,
                 std::span<const Backend* const> tried, bool* saw_full) const;
    static std::uint32_t limitOf(const config::PoolConfig& config, const Backend& b);
    /** A retired backend whose address is back in backends_ stops draining; one with no
     * connection left is forgotten. */
    void reviewRetired();

    struct Retired {
        std::shared_ptr<Backend> backend;
    };

    const std::string name_;
    std::shared_ptr<const config::PoolConfig> config_;  ///< control thread
    std::vector<std::shared_ptr<Backend>> backends_;
    std::vector<Retired> retired_;  ///< control thread: backends still draining
    std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
    std::atomic<PassiveHealth*> passive_{nullptr};
    DrainObserver* drain_observer_ = nullptr;
    common::PerWorker<common::Histogram> connect_time_;
};

}  // namespace postern::upstream
