// Weighted smooth round robin (nginx's algorithm, ngx_http_upstream_get_peer), precomputed.
//
// nginx keeps a mutable `current_weight` per peer and updates all of them on every pick under a
// lock. Here build() runs the same recurrence once for a whole cycle (length = the sum of the
// weights, after dividing by their gcd and, above kMaxCycle, scaling them down) and pick() only
// bumps an atomic cursor into that table: no lock, no allocation, identical sequence.
//
// Thread model: constructed on the control thread; pick() from every worker concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "postern/plugin/sdk.h"

namespace postern::plugins::round_robin {

/** Longest precomputed cycle; larger weight sums are scaled down proportionally (each weight
 * stays >= 1), so a cycle holds at most kMaxCycle + (number of backends) entries. */
inline constexpr std::uint64_t kMaxCycle = 65536;

/** The weights actually used for the cycle: 0 taken as 1, divided by their gcd, and scaled down
 * proportionally (each >= 1) when their sum exceeds kMaxCycle. */
std::vector<std::uint32_t> normalizeWeights(std::span<const std::uint32_t> weights);

/** One full cycle of nginx's smooth weighted round robin over `weights` (normalised as above):
 * the sequence of backend indices picked, starting from all current weights at 0, ties going to
 * the lowest index. {5,1,1} gives 0,0,1,0,2,0,0. Runs in O(cycle length x distinct weights). */
std::vector<std::uint32_t> smoothWrrCycle(std::span<const std::uint32_t> weights);

/** The selector for one backend snapshot. */
class SmoothWrrSelector final : public postern::sdk::Balancer {
public:
    /** How many candidates after the first are taken from the cycle itself (so retries follow the
     * weights); the rest of a longer list is every remaining backend once, in index order. */
    static constexpr std::uint32_t kCycleCandidates = 8;
    /** How far past the first candidate the cycle is searched for those. */
    static constexpr std::uint32_t kCycleScan = 64;

    /** Control thread. Throws std::bad_alloc. */
    explicit SmoothWrrSelector(std::span<const std::uint32_t> weights);

    /** Next position of the cycle (atomic cursor), then distinct fallbacks. Any thread. */
    std::uint32_t pick(const postern_pick_context& ctx,
                       std::span<std::uint32_t> out) noexcept override;

    /** The candidate list pick() returns when the cursor is at `position`: cycle[position], then
     * the next distinct backends in the cycle (at most kCycleCandidates in all, searching
     * kCycleScan entries ahead), then every other backend in index order after the first. Never
     * repeats a backend; writes min(out.size(), backendCount()) entries. Any thread. */
    std::uint32_t candidates(std::uint64_t position, std::span<std::uint32_t> out) const noexcept;

    std::span<const std::uint32_t> cycle() const noexcept { return cycle_; }
    std::uint32_t backendCount() const noexcept { return count_; }

private:
    std::vector<std::uint32_t> cycle_;
    std::uint32_t count_;
    alignas(64) std::atomic<std::uint64_t> cursor_{0};  // own cache line: every worker bumps it
};

}  // namespace postern::plugins::round_robin
