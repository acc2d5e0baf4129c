#include "least_connections.h"

#include <algorithm>
#include <new>

#include "common/candidates.h"

namespace postern::plugins::least_connections {

namespace {
constexpr auto kRelaxed = std::memory_order_relaxed;
}

LeastConnectionsSelector::LeastConnectionsSelector(std::span<const postern_backend> backends,
                                                   const postern_backend_load& load)
    : count_(static_cast<std::uint32_t>(backends.size())), load_(load) {
    while (leaves_ < count_) leaves_ <<= 1;
    weight_.reserve(count_);
    step_.reserve(count_);
    for (const auto& b : backends) {
        const std::uint32_t w = std::max<std::uint32_t>(b.weight, 1);
        weight_.push_back(w);
        step_.push_back(std::max<std::uint64_t>(kScale / w, 1));
    }
    active_ = std::make_unique<std::atomic<std::uint32_t>[]>(count_ ? count_ : 1);
    vtime_ = std::make_unique<std::atomic<std::uint64_t>[]>(count_ ? count_ : 1);
    node_ = std::make_unique<std::atomic<std::uint32_t>[]>(2 * leaves_);
    for (std::uint32_t i = 0; i < count_; ++i) {
        active_[i].store(load_.active(i), kRelaxed);
        vtime_[i].store(0, kRelaxed);
    }
    for (std::uint32_t i = 0; i < leaves_; ++i)
        node_[leaves_ + i].store(i < count_ ? i : kNone, kRelaxed);
    for (std::uint32_t p = leaves_ - 1; p >= 1; --p) {
        const std::uint32_t l = node_[2 * p].load(kRelaxed), r = node_[2 * p + 1].load(kRelaxed);
        node_[p].store(better(r, l) ? r : l, kRelaxed);
    }
}

bool LeastConnectionsSelector::better(std::uint32_t a, std::uint32_t b) const noexcept {
    if (a == kNone) return false;
    if (b == kNone) return true;
    // Fewer connections per unit of weight: a_a / w_a < a_b / w_b, cross-multiplied (fits in 64
    // bits).
    const std::uint64_t lhs = std::uint64_t{active_[a].load(kRelaxed)} * weight_[b];
    const std::uint64_t rhs = std::uint64_t{active_[b].load(kRelaxed)} * weight_[a];
    if (lhs != rhs) return lhs < rhs;
    const std::uint64_t va = vtime_[a].load(kRelaxed), vb = vtime_[b].load(kRelaxed);
    if (va != vb) return va < vb;
    return a < b;
}

void LeastConnectionsSelector::refresh(std::uint32_t index) noexcept {
    // Read, store, re-read: if another worker changed the count in between, its own refresh may
    // have stored before ours, so store again (bounded; the next update repairs the rest).
    for (int round = 0; round < 3; ++round) {
        const std::uint32_t live = load_.active(index);
        active_[index].store(live, kRelaxed);
        if (load_.active(index) == live) break;
    }
    for (std::uint32_t p = (leaves_ + index) >> 1; p >= 1; p >>= 1) {
        const std::uint32_t l = node_[2 * p].load(kRelaxed), r = node_[2 * p + 1].load(kRelaxed);
        node_[p].store(better(r, l) ? r : l, kRelaxed);
    }
}

void LeastConnectionsSelector::onOpen(std::uint32_t index) noexcept {
    if (index >= count_) return;
    vtime_[index].fetch_add(step_[index], kRelaxed);
    refresh(index);
}

void LeastConnectionsSelector::onClose(std::uint32_t index) noexcept {
    if (index < count_) refresh(index);
}

std::uint32_t LeastConnectionsSelector::pick(const postern_pick_context& ctx,
                                             std::span<std::uint32_t> out) noexcept {
    (void)ctx;
    if (count_ == 0 || out.empty()) return 0;
    std::uint32_t first = node_[1].load(kRelaxed);
    // The root's leaf may be stale (its connections closed or opened through another selector):
    // bring it up to date and look again, a bounded number of times.
    for (int round = 0; round < 3 && load_.active(first) != active_[first].load(kRelaxed);
         ++round) {
        refresh(first);
        first = node_[1].load(kRelaxed);
    }
    const std::uint32_t want =
        std::min<std::uint32_t>({static_cast<std::uint32_t>(out.size()), count_, kMaxCandidates});
    out[0] = first;
    std::uint32_t n = 1;
    // The best of each sibling subtree along the winner's path, best first.
    for (std::uint32_t p = leaves_ + first; p > 1 && n < want; p >>= 1) {
        const std::uint32_t s = node_[p ^ 1].load(kRelaxed);
        if (s == kNone || listed(out, n, s)) continue;
        std::uint32_t k = n++;
        for (; k > 1 && better(s, out[k - 1]); --k) out[k] = out[k - 1];
        out[k] = s;
    }
    return fillInIndexOrder(out, n, count_, want);
}

std::unique_ptr<LeastConnectionsFactory> LeastConnectionsFactory::create(
    postern::sdk::Config& config, postern::sdk::Host& host) noexcept {
    (void)config;
    (void)host;
    return std::unique_ptr<LeastConnectionsFactory>(new (std::nothrow) LeastConnectionsFactory());
}

std::unique_ptr<postern::sdk::Balancer> LeastConnectionsFactory::build(
    std::span<const postern_backend> backends, const postern_backend_load& load) noexcept {
    try {
        return std::make_unique<LeastConnectionsSelector>(backends, load);
    } catch (...) {
        return nullptr;  // out of memory: the core keeps the previous selector
    }
}

}  // namespace postern::plugins::least_connections
