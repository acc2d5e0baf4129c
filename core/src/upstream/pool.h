// A pool's runtime: its backends (control thread) and the immutable snapshot workers pick from.
// The snapshot (eligible backends + the balancer's selector for exactly that set) is published by
// an atomic shared_ptr swap, so workers never lock; a connection keeps its Backend alive through
// its own shared_ptr.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/model.h"
#include "upstream/backend.h"

namespace postern::upstream {

/** Backends eligible for new connections (up, not draining) and the selector built for them. */
struct Snapshot {
    std::vector<std::shared_ptr<Backend>> backends;
    std::vector<postern_backend> views;  ///< strings point into `backends`
    postern_backend_load load{};
    std::unique_ptr<plugin::Selector> selector;  ///< null: the balancer failed; pool refuses
};

enum class PickFailure { None, NoBackend, Capacity };

class Pool {
public:
    /** `config` must outlive the pool (the pool holds the Config alive through `keep_alive`). */
    Pool(const config::PoolConfig& config, std::shared_ptr<const config::Config> keep_alive);

    const config::PoolConfig& config() const { return *config_; }
    const std::string& name() const { return config_->name; }

    /** Any thread. */
    std::shared_ptr<const Snapshot> snapshot() const { return snapshot_.load(std::memory_order_acquire); }

    /** Worker: picks a backend not in `tried`, skipping down/draining/full ones, and reserves a
     * connection slot on it (active+1). Returns null with the reason when none can take it. */
    std::shared_ptr<Backend> pick(const Snapshot& snap, std::uint64_t client_hash, std::uint64_t random,
                                  std::span<const Backend* const> tried, std::uint32_t* index,
                                  PickFailure* why) const;
    /** Worker: releases a slot taken by pick() (`index` as pick() returned it, in `snap`). */
    void release(const Snapshot& snap, std::uint32_t index, Backend& backend) const;

    // Control thread only.
    std::vector<std::shared_ptr<Backend>>& backends() { return backends_; }
    /** Rebuilds and publishes the snapshot from the current backends and their health. */
    void republish();

private:
    bool hasCapacity(const Backend& b) const;

    const config::PoolConfig* config_;
    std::shared_ptr<const config::Config> keep_alive_;
    std::vector<std::shared_ptr<Backend>> backends_;
    std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
};

}  // namespace postern::upstream
