#include "proxy/client_limits.h"

#include <cstring>
#include <random>

#include "config/model.h"
#include "net/cidr_list.h"

namespace postern::proxy {

namespace {

constexpr unsigned kCountBits = 20;
constexpr std::uint64_t kCountMask = (std::uint64_t{1} << kCountBits) - 1;
constexpr unsigned kTimeBits = 40;
constexpr std::uint64_t kTimeMask = (std::uint64_t{1} << kTimeBits) - 1;
constexpr std::size_t kMaxBuckets = std::size_t{1}
                                    << kCountBits;  // bucket bits stay below both tags
/** A CAS that keeps losing to other threads gives up after this many rounds and lets the
 * connection in untracked: admit() is bounded whatever the contention. */
constexpr int kMaxRounds = 64;
/** How far apart the clocks of two callers may be (workers pass their loop's cached time). */
constexpr std::uint64_t kClockSlackUs = 60'000'000;

std::uint64_t rotl(std::uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

/** SipHash-2-4 of a 16-byte message. */
std::uint64_t sipHash16(std::uint64_t k0, std::uint64_t k1, const std::uint8_t msg[16]) {
    std::uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    std::uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    std::uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    std::uint64_t v3 = k1 ^ 0x7465646279746573ull;
    auto round = [&] {
        v0 += v1;
        v1 = rotl(v1, 13);
        v1 ^= v0;
        v0 = rotl(v0, 32);
        v2 += v3;
        v3 = rotl(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = rotl(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = rotl(v1, 17);
        v1 ^= v2;
        v2 = rotl(v2, 32);
    };
    auto absorb = [&](std::uint64_t m) {
        v3 ^= m;
        round();
        round();
        v0 ^= m;
    };
    std::uint64_t m0, m1;
    std::memcpy(&m0, msg, 8);
    std::memcpy(&m1, msg + 8, 8);
    absorb(m0);
    absorb(m1);
    absorb(std::uint64_t{16} << 56);  // the length byte, no tail
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
}

/** (a - b) on the 40-bit clock, as a signed distance. */
std::int64_t timeDiff(std::uint64_t a, std::uint64_t b) {
    std::uint64_t d = (a - b) & kTimeMask;
    if (d & (std::uint64_t{1} << (kTimeBits - 1)))
        return static_cast<std::int64_t>(d) - (std::int64_t{1} << kTimeBits);
    return static_cast<std::int64_t>(d);
}

std::size_t roundUpPow2(std::size_t n) {
    std::size_t p = 1;
    while (p < n && p < kMaxBuckets) p <<= 1;
    return p;
}

static_assert(ClientLimits::kMaxConcurrent == config::kMaxConnectionsPerClient);
static_assert(ClientLimits::kMaxRate == config::kMaxNewConnectionsPerClient);

}  // namespace

ClientLimits::Key ClientLimits::processKey() {
    static const Key key = [] {
        std::random_device rd;
        auto word = [&] { return (std::uint64_t{rd()} << 32) ^ rd(); };
        // Mixed with the clock too, in case a platform's random_device is weak.
        const auto t = static_cast<std::uint64_t>(
            std::chrono::high_resolution_clock::now().time_since_epoch().count());
        return Key{word() ^ t, word() ^ rotl(t, 29)};
    }();
    return key;
}

ClientLimits::ClientLimits(std::uint32_t max_concurrent, std::uint32_t rate_per_second,
                           std::size_t buckets)
    : max_concurrent_(max_concurrent < kMaxConcurrent ? max_concurrent : kMaxConcurrent),
      rate_(rate_per_second < kMaxRate ? rate_per_second : kMaxRate),
      interval_us_(rate_ ? 1'000'000 / rate_ : 0),
      tolerance_us_(rate_ ? (rate_ - 1) * interval_us_ : 0),
      bucket_mask_(roundUpPow2(buckets ? buckets : 1) - 1),
      key_(processKey()) {
    const std::size_t n = (bucket_mask_ + 1) * kEntriesPerBucket;
    // Value-initialised: every word 0 (count 0 = free; time 0 = long past).
    if (max_concurrent_) concurrent_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
    if (rate_) rate_entries_ = std::make_unique<std::atomic<std::uint64_t>[]>(n);
}

std::size_t ClientLimits::memoryBytes() const {
    const std::size_t one = (bucket_mask_ + 1) * kEntriesPerBucket * sizeof(std::uint64_t);
    return (concurrent_ ? one : 0) + (rate_entries_ ? one : 0);
}

std::uint64_t ClientLimits::hash(const net::SocketAddress& client) const noexcept {
    std::uint8_t bytes[16] = {};
    net::ipv6Bytes(client, bytes);
    return sipHash16(key_.k0, key_.k1, bytes);
}

ClientLimits::Admission ClientLimits::admit(const net::SocketAddress& client,
                                            std::chrono::steady_clock::time_point now) noexcept {
    Admission a;
    const std::uint64_t h = hash(client);
    if (rate_entries_) {
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch());
        if (!takeToken(h, static_cast<std::uint64_t>(us.count()) & kTimeMask, &a.untracked)) {
            a.verdict = Verdict::RateExceeded;
            return a;
        }
    }
    if (concurrent_ && !takeSlot(h, &a.slot, &a.untracked))
        a.verdict = Verdict::ConcurrencyExceeded;
    return a;
}

void ClientLimits::release(std::uint32_t slot) noexcept {
    if (slot == kNoSlot || !concurrent_) return;
    // The count is the word's low bits and ours is at least 1: the tag is left alone.
    concurrent_[slot].fetch_sub(1, std::memory_order_relaxed);
}

bool ClientLimits::takeSlot(std::uint64_t h, std::uint32_t* slot, bool* untracked) noexcept {
    const std::size_t base = (h & bucket_mask_) * kEntriesPerBucket;
    const std::uint64_t tag = h >> kCountBits;
    for (int round = 0; round < kMaxRounds; ++round) {
        std::size_t mine = kEntriesPerBucket, free_index = kEntriesPerBucket;
        std::uint64_t mine_word = 0, free_word = 0, held = 0;
        for (std::size_t i = 0; i < kEntriesPerBucket; ++i) {
            const std::uint64_t w = concurrent_[base + i].load(std::memory_order_relaxed);
            const std::uint64_t count = w & kCountMask;
            if (count == 0) {
                if (free_index == kEntriesPerBucket) {
                    free_index = i;
                    free_word = w;
                }
            } else if ((w >> kCountBits) == tag) {
                // Summed: in a rare race (see the header) one client holds two entries.
                held += count;
                if (mine == kEntriesPerBucket) {
                    mine = i;
                    mine_word = w;
                }
            }
        }
        if (held >= max_concurrent_) return false;
        std::size_t index = mine;
        std::uint64_t word = mine_word, next = mine_word + 1;
        if (index == kEntriesPerBucket) {
            if (free_index == kEntriesPerBucket) break;  // full of other clients
            index = free_index;
            word = free_word;
            next = (tag << kCountBits) | 1;
        }
        // Changed under us (another connection or a release): look again.
        if (concurrent_[base + index].compare_exchange_strong(word, next,
                                                              std::memory_order_relaxed)) {
            *slot = static_cast<std::uint32_t>(base + index);
            return true;
        }
    }
    *slot = kNoSlot;
    *untracked = true;
    return true;
}

bool ClientLimits::takeToken(std::uint64_t h, std::uint64_t now, bool* untracked) noexcept {
    const std::size_t base = (h & bucket_mask_) * kEntriesPerBucket;
    const std::uint64_t tag = h >> kTimeBits;
    // After an admission the arrival time is at most now + τ + T, give or take the skew between
    // the callers' clocks (each worker passes its loop's time, taken when it woke): anything
    // further ahead is an entry left over from a previous turn of the 40-bit clock, as good as
    // free.
    const auto horizon = static_cast<std::int64_t>(tolerance_us_ + interval_us_ + kClockSlackUs);
    for (int round = 0; round < kMaxRounds; ++round) {
        std::size_t index = kEntriesPerBucket;
        std::uint64_t word = 0;
        std::int64_t ahead = 0;  ///< the client's arrival time minus now (0: none pending)
        for (std::size_t i = 0; i < kEntriesPerBucket; ++i) {
            const std::uint64_t w = rate_entries_[base + i].load(std::memory_order_relaxed);
            const std::int64_t d = timeDiff(w & kTimeMask, now);
            const bool live = d > 0 && d <= horizon;
            if ((w >> kTimeBits) == tag) {
                index = i;
                word = w;
                ahead = live ? d : 0;
                break;
            }
            if (!live && index == kEntriesPerBucket) {
                index = i;
                word = w;
            }
        }
        if (index == kEntriesPerBucket) break;  // full of other clients seen this last second
        if (static_cast<std::uint64_t>(ahead) > tolerance_us_) return false;
        const std::uint64_t tat =
            (now + static_cast<std::uint64_t>(ahead) + interval_us_) & kTimeMask;
        if (rate_entries_[base + index].compare_exchange_strong(word, (tag << kTimeBits) | tat,
                                                                std::memory_order_relaxed))
            return true;
    }
    *untracked = true;
    return true;
}

std::uint32_t ClientLimits::concurrentOf(const net::SocketAddress& client) const noexcept {
    if (!concurrent_) return 0;
    const std::uint64_t h = hash(client);
    const std::size_t base = (h & bucket_mask_) * kEntriesPerBucket;
    std::uint32_t total = 0;
    for (std::size_t i = 0; i < kEntriesPerBucket; ++i) {
        const std::uint64_t w = concurrent_[base + i].load(std::memory_order_relaxed);
        if ((w & kCountMask) != 0 && (w >> kCountBits) == (h >> kCountBits))
            total += static_cast<std::uint32_t>(w & kCountMask);
    }
    return total;
}

}  // namespace postern::proxy
