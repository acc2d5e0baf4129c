// Helpers shared by the built-in balancer plugins (header-only, standard library and the SDK only):
// a 64-bit mixer and the "fill the rest of the candidate list" step every selector ends with.
// Pure functions; any thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

namespace postern::plugins {

/** How many candidates the built-in balancers return at most. The core walks the list on retries
 * and skips down / full / out-of-region entries, and scans the remaining backends itself only
 * when every listed one was unusable, so a short list keeps pick() cheap without losing a backend.
 */
inline constexpr std::uint32_t kMaxCandidates = 16;

/** splitmix64's finaliser: a bijective mix so that nearby inputs (client IPs 127.0.0.x, FNV hashes
 * differing in one byte) land far apart. Identical on every instance and platform. */
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/** True when `index` is among out[0..n). */
constexpr bool listed(std::span<const std::uint32_t> out, std::uint32_t n,
                      std::uint32_t index) noexcept {
    for (std::uint32_t k = 0; k < n; ++k)
        if (out[k] == index) return true;
    return false;
}

/** Appends backends in index order after out[0] (wrapping) until `want` entries are listed or every
 * backend is; skips the ones already in out[0..n). Returns the new count. `n` >= 1. */
constexpr std::uint32_t fillInIndexOrder(std::span<std::uint32_t> out, std::uint32_t n,
                                         std::uint32_t count, std::uint32_t want) noexcept {
    want = std::min({want, count, static_cast<std::uint32_t>(out.size())});
    const std::uint32_t checked = n;  // only the entries listed so far can repeat
    for (std::uint32_t step = 1; step < count && n < want; ++step) {
        const std::uint32_t index = (out[0] + step) % count;
        if (!listed(out, checked, index)) out[n++] = index;
    }
    return n;
}

}  // namespace postern::plugins
