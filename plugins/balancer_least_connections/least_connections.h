// Weighted least connections without a scan per pick: a tournament tree over the snapshot.
//
// Each leaf holds a backend's open-connection count as last seen (refreshed from the core's live
// count, postern_backend_load.active(), on every open and close through this selector) and a
// virtual time that advances by 1/weight on each open. Each inner node holds the index of the
// better of its two children, so the root is the backend with the fewest connections per unit of
// weight; ties go to the smallest virtual time (the backend that, relative to its weight, was
// opened least — which makes idle short-lived traffic follow the weights instead of piling on
// index 0), then to the lower index. An open or close re-evaluates one leaf-to-root path
// (O(log n)); pick() reads the root (O(1)), checks that leaf against the live count and returns
// the best backend of every sibling subtree along its path as fallbacks (the true second best is
// always among them).
//
// Why not a scan: reading n live counters through the ABI callback costs n indirect calls and
// cache misses on every pick (microseconds at 1,000 backends). Why not HAProxy's ordered tree
// under a lock: pick() must not lock. Concurrent updates may briefly leave an inner node naming a
// child that is no longer the better one; nodes store indices (never copies of keys), so the next
// update below that node repairs it, and pick() re-reads the chosen backend's live count, so a
// stale "least loaded" answer is corrected before it is used.
//
// Connections opened through an older selector (before a snapshot change) close through that
// one, so this tree learns of them only on the next open/close of the same backend: its leaf can
// over-count, which merely delays new connections to that backend until the others catch up, at
// which point pick() refreshes it from the live count.
//
// Thread model: built on the control thread; pick(), onOpen() and onClose() from every worker
// concurrently (atomics only: no lock, no allocation).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "postern/plugin/sdk.h"

namespace postern::plugins::least_connections {

/** The selector for one backend snapshot. */
class LeastConnectionsSelector final : public postern::sdk::Balancer {
public:
    static constexpr std::uint32_t kNone = 0xffffffffu;
    /** Virtual-time step of a weight-1 backend per open (a weight-w backend advances kScale / w).
     */
    static constexpr std::uint64_t kScale = std::uint64_t{1} << 32;

    /** Control thread. Throws std::bad_alloc. Leaves start from the live counts. */
    LeastConnectionsSelector(std::span<const postern_backend> backends,
                             const postern_backend_load& load);

    std::uint32_t pick(const postern_pick_context& ctx,
                       std::span<std::uint32_t> out) noexcept override;
    void onOpen(std::uint32_t index) noexcept override;
    void onClose(std::uint32_t index) noexcept override;

    /** The root: the best backend as the tree currently sees it (kNone when empty). Any thread. */
    std::uint32_t best() const noexcept {
        return count_ ? node_[1].load(std::memory_order_relaxed) : kNone;
    }
    /** True when `a` is a better choice than `b` by the recorded counts (kNone is worst). */
    bool better(std::uint32_t a, std::uint32_t b) const noexcept;
    std::uint32_t backendCount() const noexcept { return count_; }

private:
    /** Re-reads backend i's live count into its leaf and re-evaluates its path to the root. */
    void refresh(std::uint32_t index) noexcept;

    std::uint32_t count_ = 0;
    std::uint32_t leaves_ = 1;  // a power of two >= count_
    std::vector<std::uint32_t> weight_;
    std::vector<std::uint64_t> step_;
    std::unique_ptr<std::atomic<std::uint32_t>[]> active_;  // per backend, as last refreshed
    std::unique_ptr<std::atomic<std::uint64_t>[]> vtime_;   // per backend
    std::unique_ptr<std::atomic<std::uint32_t>[]> node_;    // [1] root .. [leaves_ + i] leaf i
    postern::sdk::BackendLoad load_;
};

/** One per pool; reads no configuration keys. Control thread. */
class LeastConnectionsFactory final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<LeastConnectionsFactory> create(postern::sdk::Config& config,
                                                           postern::sdk::Host& host) noexcept;
    std::unique_ptr<postern::sdk::Balancer> build(
        std::span<const postern_backend> backends,
        const postern_backend_load& load) noexcept override;
};

}  // namespace postern::plugins::least_connections
