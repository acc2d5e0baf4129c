// Power of two choices (Mitzenmacher): draw two distinct backends at random, in proportion to their
// weights, and take the one with fewer open connections per unit of weight; the other is the first
// fallback. Ties keep the first draw, so idle traffic follows the weights exactly. No shared state
// is written on a pick: the draws come from the worker's random number (postern_pick_context
// .random), the weighted draw from a Vose alias table built once per snapshot (O(1) per draw), and
// the loads from the core's live counters (postern_backend_load.active()).
//
// Thread model: built on the control thread; pick() from every worker concurrently (read-only:
// no lock, no allocation, no atomics written).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "postern/plugin/sdk.h"

namespace postern::plugins::random_two {

/** Vose's alias method over integer weights: draw(x) maps 64 random bits to index i with
 * probability weight_i / sum. Deterministic (integer arithmetic). Immutable after construction. */
class AliasTable {
public:
    /** Throws std::bad_alloc. Weights of 0 count as 1. */
    explicit AliasTable(std::span<const std::uint32_t> weights);
    std::uint32_t draw(std::uint64_t bits) const noexcept;
    std::uint32_t size() const noexcept { return static_cast<std::uint32_t>(alias_.size()); }
    /** Column c keeps itself when the coin (low 32 bits) is below this (2^32 = always)... */
    std::uint64_t threshold(std::uint32_t c) const noexcept { return threshold_[c]; }
    /** ...and goes to this index otherwise. */
    std::uint32_t alias(std::uint32_t c) const noexcept { return alias_[c]; }

private:
    std::vector<std::uint64_t>
        threshold_;  // keep column i when the low 32 bits are below (2^32 = always)
    std::vector<std::uint32_t> alias_;
};

/** The selector for one backend snapshot. */
class RandomTwoSelector final : public postern::sdk::Balancer {
public:
    /** Control thread. Throws std::bad_alloc. */
    RandomTwoSelector(std::span<const postern_backend> backends, const postern_backend_load& load);

    std::uint32_t pick(const postern_pick_context& ctx,
                       std::span<std::uint32_t> out) noexcept override;

    /** The two distinct draws pick() compares for this random number (one when there is one
     * backend). */
    std::uint32_t draws(std::uint64_t random, std::uint32_t* first,
                        std::uint32_t* second) const noexcept;

private:
    std::uint32_t count_;
    std::vector<std::uint32_t> weight_;
    AliasTable alias_;
    postern::sdk::BackendLoad load_;
};

/** One per pool; reads no configuration keys. Control thread. */
class RandomTwoFactory final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<RandomTwoFactory> create(postern::sdk::Config& config,
                                                    postern::sdk::Host& host) noexcept;
    std::unique_ptr<postern::sdk::Balancer> build(
        std::span<const postern_backend> backends,
        const postern_backend_load& load) noexcept override;
};

}  // namespace postern::plugins::random_two
