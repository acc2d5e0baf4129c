// The per-client limits of one listener (SPEC §2: max_connections_per_client,
// new_connections_per_client): a fixed-size table shared by every worker thread, read and written
// with atomics only (no lock, no allocation, no exception on admit/release). Any thread may call
// admit() and release(); the table is built on the control thread, only for a listener that sets
// one of the two limits, and outlives every session of that listener.
//
// Layout: `buckets` buckets of 4 entries, one table per limit (concurrency, rate), each entry one
// 64-bit atomic word. A client's address (IPv4-mapped IPv6 counts as the IPv4 address) goes
// through SipHash-2-4 keyed with a per-process random key: the low bits pick the bucket, the high
// bits are the entry's tag, so a client cannot aim at a chosen bucket and two clients share an
// entry only when bucket and tag both collide.
//   concurrency entry: tag (44 bits) | count (20 bits); count 0 = free (the tag is stale).
//   rate entry:        tag (24 bits) | GCRA theoretical arrival time (40 bits, µs of the steady
//                      clock modulo 2^40 ≈ 12.7 days). Free when that time is past (a client
//                      not seen for a second holds nothing) or more than a second and a minute
//                      ahead (left over from an earlier turn of the 40-bit clock; the minute
//                      absorbs the skew between the workers' cached loop clocks).
// Rate: GCRA with emission interval T = 1 s / rate and a burst of one second's worth (`rate`
// connections back to back), i.e. a token bucket of `rate` tokens refilled at `rate` per second.
//
// Two first connections of one client claim the first free entry of its bucket, so the loser of
// that race finds the winner's entry on its next look. Only when the set of free entries changes
// between the two looks (another client's last connection ending at that instant) can one client
// end up with two entries; the limit is checked on their sum, so it holds except for connections
// admitted in that same instant.
//
// When a client finds no entry of its own and every entry of its bucket belongs to other live
// clients, it is let in untracked (Admission::untracked; the listener counts those): a flood of
// distinct addresses must not lock out the clients that happen to share their buckets, and the
// listener's max_connections still bounds the whole. With the default 8192 buckets a table tracks
// up to 32768 clients at once, 256 KiB per limit (512 KiB for a listener that sets both).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "net/socket_address.h"

namespace postern::proxy {

class ClientLimits {
public:
    static constexpr std::size_t kEntriesPerBucket = 4;
    static constexpr std::size_t kDefaultBuckets = 8192;
    /** Largest max_connections_per_client (the count field's width). */
    static constexpr std::uint32_t kMaxConcurrent = (1u << 20) - 1;
    /** Largest new_connections_per_client (T = 1 µs). */
    static constexpr std::uint32_t kMaxRate = 1'000'000;
    /** Admission::slot when no concurrency entry was taken. */
    static constexpr std::uint32_t kNoSlot = 0xFFFFFFFFu;

    enum class Verdict : std::uint8_t { Admitted, RateExceeded, ConcurrencyExceeded };

    struct Admission {
        Verdict verdict = Verdict::Admitted;
        /** The concurrency entry incremented for this connection (give it back with release()),
         * or kNoSlot. */
        std::uint32_t slot = kNoSlot;
        /** Admitted without being counted against one of the limits: the client's bucket was
         * full of other live clients. */
        bool untracked = false;
    };

    /** `max_concurrent` (≤ kMaxConcurrent) and `rate_per_second` (≤ kMaxRate): 0 = no such
     * limit. `buckets` is rounded up to a power of two. */
    ClientLimits(std::uint32_t max_concurrent, std::uint32_t rate_per_second,
                 std::size_t buckets = kDefaultBuckets);
    ClientLimits(const ClientLimits&) = delete;
    ClientLimits& operator=(const ClientLimits&) = delete;

    /** Rate first (every admitted-so-far attempt takes a token), then concurrency. Refused
     * attempts take no concurrency entry. */
    Admission admit(const net::SocketAddress& client,
                    std::chrono::steady_clock::time_point now) noexcept;
    /** Gives back the concurrency entry of an admitted connection (no-op for kNoSlot). */
    void release(std::uint32_t slot) noexcept;

    std::uint32_t maxConcurrent() const { return max_concurrent_; }
    std::uint32_t ratePerSecond() const { return rate_; }
    std::size_t buckets() const { return bucket_mask_ + 1; }
    /** Bytes held by the tables. */
    std::size_t memoryBytes() const;
    /** Live connections counted for `client` right now (tests and diagnostics; a racy read). */
    std::uint32_t concurrentOf(const net::SocketAddress& client) const noexcept;

private:
    struct Key {
        std::uint64_t k0, k1;
    };
    static Key processKey();
    std::uint64_t hash(const net::SocketAddress& client) const noexcept;
    /** True: admitted (possibly untracked); false: over the rate. */
    bool takeToken(std::uint64_t h, std::uint64_t now_us, bool* untracked) noexcept;
    /** True: admitted (*slot set, or kNoSlot when untracked); false: at the limit. */
    bool takeSlot(std::uint64_t h, std::uint32_t* slot, bool* untracked) noexcept;

    const std::uint32_t max_concurrent_;
    const std::uint32_t rate_;
    const std::uint64_t interval_us_;   ///< GCRA T
    const std::uint64_t tolerance_us_;  ///< GCRA τ = (rate - 1) · T
    std::size_t bucket_mask_ = 0;
    Key key_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> concurrent_;    ///< null without that limit
    std::unique_ptr<std::atomic<std::uint64_t>[]> rate_entries_;  ///< null without that limit
};

}  // namespace postern::proxy
