#include "smooth_wrr.h"

#include <algorithm>
#include <map>
#include <numeric>

namespace postern::plugins::round_robin {

namespace {

std::uint64_t gcdOf(const std::vector<std::uint32_t>& w) {
    std::uint64_t g = 0;
    for (auto x : w) g = std::gcd(g, static_cast<std::uint64_t>(x));
    return g == 0 ? 1 : g;
}

void divideBy(std::vector<std::uint32_t>& w, std::uint64_t g) {
    if (g > 1)
        for (auto& x : w) x = static_cast<std::uint32_t>(x / g);
}

std::uint64_t sumOf(const std::vector<std::uint32_t>& w) {
    std::uint64_t s = 0;
    for (auto x : w) s += x;
    return s;
}

}  // namespace

std::vector<std::uint32_t> normalizeWeights(std::span<const std::uint32_t> weights) {
    std::vector<std::uint32_t> w(weights.begin(), weights.end());
    for (auto& x : w) x = std::max<std::uint32_t>(x, 1);
    // Dividing by the gcd yields the very same sequence with a shorter cycle.
    divideBy(w, gcdOf(w));
    const std::uint64_t sum = sumOf(w);
    if (sum > kMaxCycle) {
        for (auto& x : w) {
            // x <= 2^32 and kMaxCycle = 2^16: the product fits in 64 bits.
            std::uint64_t scaled = static_cast<std::uint64_t>(x) * kMaxCycle / sum;
            x = static_cast<std::uint32_t>(std::max<std::uint64_t>(scaled, 1));
        }
        divideBy(w, gcdOf(w));
    }
    return w;
}

std::vector<std::uint32_t> smoothWrrCycle(std::span<const std::uint32_t> weights) {
    const std::vector<std::uint32_t> w = normalizeWeights(weights);
    const std::uint64_t total = sumOf(w);
    std::vector<std::uint32_t> cycle;
    if (w.empty()) return cycle;
    cycle.reserve(total);

    // After t steps nginx's current_weight of peer i is t*w_i - total*k_i (k_i = times picked).
    // Among peers of equal weight the largest is the one picked least often, lowest index first,
    // so each weight class is served in index order and only one member per class competes:
    // a step costs O(number of distinct weights) instead of O(backends).
    struct WeightClass {
        std::int64_t weight;
        std::vector<std::uint32_t> members;  // ascending indices
        std::size_t next = 0;                // members[next] is the class's candidate
        std::int64_t rounds = 0;             // picks of every member before `next` is rounds + 1
    };
    std::map<std::uint32_t, WeightClass> by_weight;
    for (std::uint32_t i = 0; i < w.size(); ++i) {
        auto& c = by_weight[w[i]];
        c.weight = w[i];
        c.members.push_back(i);
    }
    std::vector<WeightClass> classes;
    classes.reserve(by_weight.size());
    for (auto& [weight, c] : by_weight) classes.push_back(std::move(c));

    const auto s = static_cast<std::int64_t>(total);
    for (std::int64_t t = 1; t <= s; ++t) {
        WeightClass* best = nullptr;
        std::int64_t best_value = 0;
        std::uint32_t best_index = 0;
        for (auto& c : classes) {
            std::int64_t value = t * c.weight - s * c.rounds;
            std::uint32_t index = c.members[c.next];
            if (best == nullptr || value > best_value || (value == best_value && index < best_index)) {
                best = &c;
                best_value = value;
                best_index = index;
            }
        }
        cycle.push_back(best_index);
        if (++best->next == best->members.size()) {
            best->next = 0;
            ++best->rounds;
        }
    }
    return cycle;
}

SmoothWrrSelector::SmoothWrrSelector(std::span<const std::uint32_t> weights)
    : cycle_(smoothWrrCycle(weights)), count_(static_cast<std::uint32_t>(weights.size())) {}

std::uint32_t SmoothWrrSelector::pick(const postern_pick_context& ctx,
                                      std::span<std::uint32_t> out) noexcept {
    (void)ctx;
    if (cycle_.empty() || out.empty()) return 0;
    const std::uint64_t position = cursor_.fetch_add(1, std::memory_order_relaxed);
    return candidates(position, out);
}

std::uint32_t SmoothWrrSelector::candidates(std::uint64_t position,
                                            std::span<std::uint32_t> out) const noexcept {
    if (cycle_.empty() || out.empty()) return 0;
    const std::uint64_t len = cycle_.size();
    const std::uint32_t want = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), count_));
    const std::uint64_t start = position % len;
    std::uint32_t n = 0;
    out[n++] = cycle_[start];

    auto listed = [&](std::uint32_t index, std::uint32_t upto) {
        for (std::uint32_t k = 0; k < upto; ++k)
            if (out[k] == index) return true;
        return false;
    };

    // Fallbacks that follow the weights: the next distinct backends of the cycle itself.
    const std::uint32_t from_cycle = std::min(want, kCycleCandidates);
    const std::uint64_t scan = std::min<std::uint64_t>(len - 1, kCycleScan);
    for (std::uint64_t step = 1; step <= scan && n < from_cycle; ++step) {
        std::uint32_t index = cycle_[(start + step) % len];
        if (!listed(index, n)) out[n++] = index;
    }
    // Then every other backend once, in index order after the first (only the few taken from the
    // cycle need checking, so this stays O(list length)).
    const std::uint32_t checked = n;
    for (std::uint32_t step = 1; step < count_ && n < want; ++step) {
        std::uint32_t index = (out[0] + step) % count_;
        if (!listed(index, checked)) out[n++] = index;
    }
    return n;
}

}  // namespace postern::plugins::round_robin
