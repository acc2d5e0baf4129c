#include "maglev.h"

#include <algorithm>
#include <new>
#include <numeric>
#include <string_view>
#include <tuple>

#include "common/candidates.h"

namespace postern::plugins::maglev {

namespace {

constexpr std::uint32_t kEmpty = 0xffffffffu;
// Two independent hashes of a backend id: where its permutation starts and how it steps.
constexpr std::uint64_t kOffsetSeed = 0x5851f42d4c957f2dull;
constexpr std::uint64_t kSkipSeed = 0x14057b7ef767814full;

struct Entry {
    std::uint32_t index;   // into the snapshot
    std::uint64_t offset;  // first slot of its permutation
    std::uint64_t skip;    // 1..kTableSize-1, coprime with the prime table size
    std::uint64_t weight;
    std::uint64_t next = 0;    // position in its permutation
    std::uint64_t target = 0;  // turns are taken while iteration * weight >= target
};

}  // namespace

std::uint32_t slotOf(std::uint64_t client_hash) noexcept {
    return static_cast<std::uint32_t>(mix64(client_hash) % kTableSize);
}

std::vector<std::uint32_t> buildTable(std::span<const postern_backend> backends) {
    if (backends.empty()) return {};
    // Turn order by identity, so the table does not depend on discovery or snapshot order.
    std::vector<std::uint32_t> order(backends.size());
    std::iota(order.begin(), order.end(), 0u);
    auto key = [&](std::uint32_t i) {
        const auto& b = backends[i];
        return std::make_tuple(b.id, sdk::view(b.host), b.port, sdk::view(b.address));
    };
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });

    std::vector<Entry> entries;
    entries.reserve(order.size());
    std::uint64_t max_weight = 1;
    for (std::uint32_t i : order) {
        const std::uint64_t id = backends[i].id;
        const std::uint64_t w = std::max<std::uint32_t>(backends[i].weight, 1);
        max_weight = std::max(max_weight, w);
        entries.push_back(Entry{i, mix64(id ^ kOffsetSeed) % kTableSize,
                                mix64(id ^ kSkipSeed) % (kTableSize - 1) + 1, w});
    }

    std::vector<std::uint32_t> table(kTableSize, kEmpty);
    std::uint32_t filled = 0;
    // A backend of the largest weight takes a slot every iteration; one of a third of that weight
    // every third iteration (Envoy's weighted Maglev, in integers).
    for (std::uint64_t iteration = 1; filled < kTableSize; ++iteration) {
        for (auto& e : entries) {
            if (filled == kTableSize) break;
            if (iteration * e.weight < e.target) continue;
            e.target += max_weight;
            std::uint64_t slot = (e.offset + e.next * e.skip) % kTableSize;
            while (table[slot] != kEmpty) {
                ++e.next;
                slot = (e.offset + e.next * e.skip) % kTableSize;
            }
            table[slot] = e.index;
            ++e.next;
            ++filled;
        }
    }
    return table;
}

MaglevSelector::MaglevSelector(std::span<const postern_backend> backends)
    : count_(static_cast<std::uint32_t>(backends.size())), table_(buildTable(backends)) {}

std::uint32_t MaglevSelector::pick(const postern_pick_context& ctx,
                                   std::span<std::uint32_t> out) noexcept {
    if (count_ == 0 || out.empty()) return 0;
    const std::uint32_t want =
        std::min<std::uint32_t>({static_cast<std::uint32_t>(out.size()), count_, kMaxCandidates});
    std::uint32_t slot = slotOf(ctx.client_hash);
    out[0] = table_[slot];
    std::uint32_t n = 1;
    const std::uint32_t from_table = std::min(want, kTableCandidates);
    for (std::uint32_t step = 1; step <= kTableScan && n < from_table; ++step) {
        if (++slot == kTableSize) slot = 0;
        const std::uint32_t index = table_[slot];
        if (!listed(out, n, index)) out[n++] = index;
    }
    return fillInIndexOrder(out, n, count_, want);
}

std::unique_ptr<MaglevFactory> MaglevFactory::create(postern::sdk::Config& config,
                                                     postern::sdk::Host& host) noexcept {
    (void)config;
    (void)host;
    return std::unique_ptr<MaglevFactory>(new (std::nothrow) MaglevFactory());
}

std::unique_ptr<postern::sdk::Balancer> MaglevFactory::build(
    std::span<const postern_backend> backends, const postern_backend_load& load) noexcept {
    (void)load;
    try {
        return std::make_unique<MaglevSelector>(backends);
    } catch (...) {
        return nullptr;
    }
}

}  // namespace postern::plugins::maglev
