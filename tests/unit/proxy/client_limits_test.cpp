// ClientLimits: per-client concurrency and GCRA rate in a fixed, lock-free table; the full-bucket
// rule (admitted untracked); IPv4-mapped IPv6 counted as IPv4; several threads at once.
#include "proxy/client_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace postern::proxy {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Verdict = ClientLimits::Verdict;

net::SocketAddress ip(const std::string& text) { return *net::SocketAddress::fromIp(text, 40000); }

TEST(ClientLimits, ConcurrencyPerClient) {
    ClientLimits limits(2, 0);
    const auto now = Clock::now();
    auto a1 = limits.admit(ip("10.0.0.2"), now);
    auto a2 = limits.admit(ip("10.0.0.2"), now);
    ASSERT_EQ(a1.verdict, Verdict::Admitted);
    ASSERT_EQ(a2.verdict, Verdict::Admitted);
    EXPECT_NE(a1.slot, ClientLimits::kNoSlot);
    EXPECT_EQ(a1.slot, a2.slot);  // one entry per client
    EXPECT_FALSE(a1.untracked);
    // The same client as a dual-stack socket reports it: the same limit.
    auto a3 = limits.admit(ip("::ffff:10.0.0.2"), now);
    EXPECT_EQ(a3.verdict, Verdict::ConcurrencyExceeded);
    EXPECT_EQ(a3.slot, ClientLimits::kNoSlot);
    EXPECT_EQ(limits.concurrentOf(ip("10.0.0.2")), 2u);
    // Another client is not affected.
    auto b1 = limits.admit(ip("10.0.0.3"), now);
    EXPECT_EQ(b1.verdict, Verdict::Admitted);
    auto c1 = limits.admit(ip("2001:db8::3"), now);
    EXPECT_EQ(c1.verdict, Verdict::Admitted);
    // A release frees one slot.
    limits.release(a1.slot);
    EXPECT_EQ(limits.concurrentOf(ip("10.0.0.2")), 1u);
    auto a4 = limits.admit(ip("10.0.0.2"), now);
    EXPECT_EQ(a4.verdict, Verdict::Admitted);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), now).verdict, Verdict::ConcurrencyExceeded);
    limits.release(a2.slot);
    limits.release(a4.slot);
    limits.release(b1.slot);
    limits.release(c1.slot);
    limits.release(ClientLimits::kNoSlot);  // no-op
    EXPECT_EQ(limits.concurrentOf(ip("10.0.0.2")), 0u);
    EXPECT_EQ(limits.concurrentOf(ip("10.0.0.3")), 0u);
}

TEST(ClientLimits, RateIsATokenBucketOfOneSecond) {
    ClientLimits limits(0, 5);  // T = 200 ms, burst 5
    const auto t0 = Clock::now();
    for (int i = 0; i < 5; ++i) {
        auto a = limits.admit(ip("10.0.0.2"), t0);
        EXPECT_EQ(a.verdict, Verdict::Admitted) << i;
        EXPECT_EQ(a.slot, ClientLimits::kNoSlot);  // no concurrency limit: nothing to release
    }
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0).verdict, Verdict::RateExceeded);
    EXPECT_EQ(limits.admit(ip("::ffff:10.0.0.2"), t0).verdict, Verdict::RateExceeded);
    EXPECT_EQ(limits.admit(ip("10.0.0.3"), t0).verdict, Verdict::Admitted);
    // One token back every 200 ms, not earlier.
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0 + milliseconds(199)).verdict, Verdict::RateExceeded);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0 + milliseconds(200)).verdict, Verdict::Admitted);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0 + milliseconds(201)).verdict, Verdict::RateExceeded);
    // A second of silence refills the whole burst, and no more.
    const auto t1 = t0 + milliseconds(1200);
    for (int i = 0; i < 5; ++i)
        EXPECT_EQ(limits.admit(ip("10.0.0.2"), t1).verdict, Verdict::Admitted) << i;
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t1).verdict, Verdict::RateExceeded);
    // A steady 5/s never hits the limit.
    const auto t2 = t1 + milliseconds(5000);
    for (int i = 0; i < 50; ++i)
        EXPECT_EQ(limits.admit(ip("10.0.0.4"), t2 + milliseconds(200 * i)).verdict,
                  Verdict::Admitted)
            << i;
}

TEST(ClientLimits, RateHoldsAcrossSkewedCallerClocks) {
    // Workers pass their loop's cached time: one that woke a little earlier is a little behind.
    ClientLimits limits(0, 5);
    const auto t0 = Clock::now();
    for (int i = 0; i < 5; ++i)
        ASSERT_EQ(limits.admit(ip("10.0.0.2"), t0).verdict, Verdict::Admitted);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0 - milliseconds(5)).verdict, Verdict::RateExceeded);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0 - milliseconds(30000)).verdict,
              Verdict::RateExceeded);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0 + milliseconds(100)).verdict, Verdict::RateExceeded);
}

TEST(ClientLimits, RateThenConcurrency) {
    ClientLimits limits(1, 2);
    const auto t0 = Clock::now();
    auto a = limits.admit(ip("10.0.0.2"), t0);
    ASSERT_EQ(a.verdict, Verdict::Admitted);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0).verdict, Verdict::ConcurrencyExceeded);
    // The refused attempt took a token: attempts count against the rate.
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0).verdict, Verdict::RateExceeded);
    limits.release(a.slot);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0).verdict, Verdict::RateExceeded);
    EXPECT_EQ(limits.admit(ip("10.0.0.2"), t0 + milliseconds(500)).verdict, Verdict::Admitted);
}

TEST(ClientLimits, FullBucketAdmitsUntracked) {
    // One bucket: every client lands in it; 4 entries.
    ClientLimits limits(1, 0, 1);
    EXPECT_EQ(limits.buckets(), 1u);
    const auto now = Clock::now();
    std::vector<ClientLimits::Admission> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(limits.admit(ip("10.0.1." + std::to_string(i)), now));
        ASSERT_EQ(held.back().verdict, Verdict::Admitted);
        ASSERT_FALSE(held.back().untracked);
    }
    // A fifth client finds no free entry: let in, untracked, nothing to release.
    for (int i = 0; i < 3; ++i) {
        auto extra = limits.admit(ip("10.0.2.9"), now);
        EXPECT_EQ(extra.verdict, Verdict::Admitted);
        EXPECT_TRUE(extra.untracked);
        EXPECT_EQ(extra.slot, ClientLimits::kNoSlot);
    }
    // The tracked clients still get their limit.
    EXPECT_EQ(limits.admit(ip("10.0.1.0"), now).verdict, Verdict::ConcurrencyExceeded);
    // A freed entry is taken by the next new client, which is then limited.
    limits.release(held[2].slot);
    auto tracked = limits.admit(ip("10.0.2.9"), now);
    EXPECT_EQ(tracked.verdict, Verdict::Admitted);
    EXPECT_FALSE(tracked.untracked);
    EXPECT_EQ(tracked.slot, held[2].slot);
    EXPECT_EQ(limits.admit(ip("10.0.2.9"), now).verdict, Verdict::ConcurrencyExceeded);
}

TEST(ClientLimits, FullRateBucketAdmitsUntrackedUntilASecondPasses) {
    ClientLimits limits(0, 1, 1);
    const auto t0 = Clock::now();
    for (int i = 0; i < 4; ++i)
        ASSERT_FALSE(limits.admit(ip("10.0.1." + std::to_string(i)), t0).untracked);
    auto extra = limits.admit(ip("10.0.2.9"), t0);
    EXPECT_EQ(extra.verdict, Verdict::Admitted);
    EXPECT_TRUE(extra.untracked);
    EXPECT_EQ(limits.admit(ip("10.0.1.0"), t0).verdict, Verdict::RateExceeded);
    // A second later the four hold nothing any more: the fifth is tracked, then limited.
    const auto t1 = t0 + milliseconds(1000);
    auto later = limits.admit(ip("10.0.2.9"), t1);
    EXPECT_EQ(later.verdict, Verdict::Admitted);
    EXPECT_FALSE(later.untracked);
    EXPECT_EQ(limits.admit(ip("10.0.2.9"), t1).verdict, Verdict::RateExceeded);
}

TEST(ClientLimits, MemoryIsFixedAndOnlyForTheLimitsSet) {
    EXPECT_EQ(ClientLimits(3, 0).memoryBytes(), 8192u * 4 * 8);
    EXPECT_EQ(ClientLimits(0, 3).memoryBytes(), 8192u * 4 * 8);
    EXPECT_EQ(ClientLimits(3, 3).memoryBytes(), 2u * 8192 * 4 * 8);
    EXPECT_EQ(ClientLimits(3, 0, 1000).buckets(), 1024u);
}

TEST(ClientLimits, ManyClientsSpreadOverTheDefaultTable) {
    // Keyed hashing spreads a /24 (sequential addresses) without overflowing a bucket (for 256
    // clients in 8192 buckets of 4, a chance of about 2e-6).
    ClientLimits limits(1, 0);
    const auto now = Clock::now();
    int untracked = 0;
    for (int i = 0; i < 256; ++i) {
        auto a = limits.admit(ip("10.7.0." + std::to_string(i)), now);
        ASSERT_EQ(a.verdict, Verdict::Admitted);
        untracked += a.untracked ? 1 : 0;
    }
    EXPECT_EQ(untracked, 0);
}

TEST(ClientLimits, MoreLiveClientsThanEntriesAreAllLetIn) {
    // 16 buckets = 64 entries, 200 clients each holding a connection: at most 64 tracked, the
    // rest admitted untracked; nobody refused.
    ClientLimits limits(1, 0, 16);
    const auto now = Clock::now();
    int tracked = 0, untracked = 0;
    for (int i = 0; i < 200; ++i) {
        auto a = limits.admit(ip("10.8.0." + std::to_string(i)), now);
        ASSERT_EQ(a.verdict, Verdict::Admitted) << i;
        (a.untracked ? untracked : tracked) += 1;
        EXPECT_EQ(a.untracked, a.slot == ClientLimits::kNoSlot) << i;
    }
    EXPECT_LE(tracked, 64);
    EXPECT_GE(untracked, 200 - 64);
}

TEST(ClientLimits, ConcurrentAdmissionsOfOneClientAreExact) {
    constexpr int kThreads = 4;
    constexpr std::uint32_t kLimit = 100;
    ClientLimits limits(kLimit, 0);
    std::atomic<int> go{0};
    std::atomic<std::uint32_t> admitted{0}, refused{0}, untracked{0};
    std::vector<std::vector<std::uint32_t>> slots(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            go.fetch_add(1);
            while (go.load() < kThreads) std::this_thread::yield();
            for (std::uint32_t i = 0; i < kLimit; ++i) {
                auto a = limits.admit(ip("192.0.2.1"), Clock::now());
                if (a.verdict == Verdict::Admitted) {
                    admitted.fetch_add(1);
                    if (a.untracked) untracked.fetch_add(1);
                    slots[t].push_back(a.slot);
                } else {
                    refused.fetch_add(1);
                }
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(admitted.load(), kLimit);
    EXPECT_EQ(refused.load(), kThreads * kLimit - kLimit);
    EXPECT_EQ(untracked.load(), 0u);
    EXPECT_EQ(limits.concurrentOf(ip("192.0.2.1")), kLimit);
    for (auto& v : slots)
        for (auto s : v) limits.release(s);
    EXPECT_EQ(limits.concurrentOf(ip("192.0.2.1")), 0u);
}

TEST(ClientLimits, ConcurrentAdmitAndReleaseKeepExactCounts) {
    // Threads take and give back slots of a few shared clients in one bucket (entries freed and
    // reclaimed all along); every count taken is given back: nothing leaks, nothing is lost.
    constexpr int kThreads = 4;
    constexpr int kClients = 3;
    constexpr std::uint32_t kLimit = 3;
    ClientLimits limits(kLimit, 0, 1);
    std::atomic<int> held[kClients] = {};
    std::atomic<bool> over{false};
    std::atomic<std::uint32_t> untracked{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20000; ++i) {
                const int c = (i + t) % kClients;
                auto a = limits.admit(ip("198.51.100." + std::to_string(c)), Clock::now());
                if (a.verdict != Verdict::Admitted) continue;
                if (a.untracked) {
                    untracked.fetch_add(1);
                    continue;
                }
                if (held[c].fetch_add(1) + 1 > static_cast<int>(kLimit)) over = true;
                held[c].fetch_sub(1);
                limits.release(a.slot);
            }
        });
    for (auto& th : threads) th.join();
    // The documented race (a client split over two entries at the instant another client's last
    // connection ends) may let a client over its limit by the connections admitted in that
    // instant; it never loses or leaks a count.
    if (over.load()) RecordProperty("over_limit_seen", "true");
    for (int c = 0; c < kClients; ++c)
        EXPECT_EQ(limits.concurrentOf(ip("198.51.100." + std::to_string(c))), 0u) << c;
    // All entries free again: four new clients are all tracked.
    for (int c = 0; c < 4; ++c)
        EXPECT_FALSE(
            limits.admit(ip("198.51.100." + std::to_string(100 + c)), Clock::now()).untracked)
            << c;
}

TEST(ClientLimits, ConcurrentRateIsExact) {
    constexpr int kThreads = 4;
    ClientLimits limits(0, 50);
    const auto t0 = Clock::now();  // one instant: no refill while the threads race
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 40; ++i)
                if (limits.admit(ip("203.0.113.5"), t0).verdict == Verdict::Admitted)
                    admitted.fetch_add(1);
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(admitted.load(), 50);
}

}  // namespace
}  // namespace postern::proxy
