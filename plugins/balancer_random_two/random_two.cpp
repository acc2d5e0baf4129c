#include "random_two.h"

#include <algorithm>
#include <new>

#include "common/candidates.h"

namespace postern::plugins::random_two {

namespace {

constexpr std::uint64_t kAlways = std::uint64_t{1} << 32;

std::vector<std::uint32_t> weightsOf(std::span<const postern_backend> backends) {
    std::vector<std::uint32_t> w;
    w.reserve(backends.size());
    for (const auto& b : backends) w.push_back(std::max<std::uint32_t>(b.weight, 1));
    return w;
}

}  // namespace

AliasTable::AliasTable(std::span<const std::uint32_t> weights)
    : threshold_(weights.size(), kAlways), alias_(weights.size()) {
    const std::uint64_t n = weights.size();
    if (n == 0) return;
    std::uint64_t sum = 0;
    for (auto w : weights) sum += std::max<std::uint32_t>(w, 1);
    // Column i holds n * w_i / sum of "its own" probability mass; scaled by sum so that everything
    // stays integral: scaled_i = n * w_i, one full column = sum.
    std::vector<unsigned __int128> scaled(n);
    std::vector<std::uint32_t> small, large;
    small.reserve(n);
    large.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        alias_[i] = i;
        scaled[i] = static_cast<unsigned __int128>(std::max<std::uint32_t>(weights[i], 1)) * n;
        (scaled[i] < sum ? small : large).push_back(i);
    }
    while (!small.empty() && !large.empty()) {
        const std::uint32_t l = small.back(), g = large.back();
        small.pop_back();
        large.pop_back();
        threshold_[l] = static_cast<std::uint64_t>((scaled[l] << 32) / sum);
        alias_[l] = g;
        scaled[g] -= sum - scaled[l];
        (scaled[g] < sum ? small : large).push_back(g);
    }
    // Whatever is left is a full column (up to rounding): it always keeps itself.
}

std::uint32_t AliasTable::draw(std::uint64_t bits) const noexcept {
    const auto n = static_cast<std::uint64_t>(alias_.size());
    const auto column = static_cast<std::uint32_t>(((bits >> 32) * n) >> 32);
    const std::uint64_t coin = bits & 0xffffffffu;
    return coin < threshold_[column] ? column : alias_[column];
}

RandomTwoSelector::RandomTwoSelector(std::span<const postern_backend> backends,
                                     const postern_backend_load& load)
    : count_(static_cast<std::uint32_t>(backends.size())),
      weight_(weightsOf(backends)),
      alias_(weight_),
      load_(load) {}

std::uint32_t RandomTwoSelector::draws(std::uint64_t random, std::uint32_t* first,
                                       std::uint32_t* second) const noexcept {
    if (count_ == 0) return 0;
    std::uint64_t bits = mix64(random);
    *first = alias_.draw(bits);
    if (count_ == 1) return 1;
    // A second, distinct draw; a few redraws, then the next index (a single dominant weight could
    // otherwise take every draw).
    for (int k = 0; k < 4; ++k) {
        bits = mix64(bits ^ 0x6a09e667f3bcc909ull);
        *second = alias_.draw(bits);
        if (*second != *first) return 2;
    }
    *second = (*first + 1) % count_;
    return 2;
}

std::uint32_t RandomTwoSelector::pick(const postern_pick_context& ctx,
                                      std::span<std::uint32_t> out) noexcept {
    if (count_ == 0 || out.empty()) return 0;
    std::uint32_t a = 0, b = 0;
    if (draws(ctx.random, &a, &b) == 1) {
        out[0] = a;
        return 1;
    }
    // Fewer connections per unit of weight wins; a tie keeps the first draw.
    const std::uint64_t la = std::uint64_t{load_.active(a)} * weight_[b];
    const std::uint64_t lb = std::uint64_t{load_.active(b)} * weight_[a];
    if (lb < la) std::swap(a, b);
    out[0] = a;
    std::uint32_t n = 1;
    const std::uint32_t want =
        std::min<std::uint32_t>({static_cast<std::uint32_t>(out.size()), count_, kMaxCandidates});
    if (n < want) out[n++] = b;
    return fillInIndexOrder(out, n, count_, want);
}

std::unique_ptr<RandomTwoFactory> RandomTwoFactory::create(postern::sdk::Config& config,
                                                           postern::sdk::Host& host) noexcept {
    (void)config;
    (void)host;
    return std::unique_ptr<RandomTwoFactory>(new (std::nothrow) RandomTwoFactory());
}

std::unique_ptr<postern::sdk::Balancer> RandomTwoFactory::build(
    std::span<const postern_backend> backends, const postern_backend_load& load) noexcept {
    try {
        return std::make_unique<RandomTwoSelector>(backends, load);
    } catch (...) {
        return nullptr;
    }
}

}  // namespace postern::plugins::random_two
