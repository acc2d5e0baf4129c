// common::PerWorker and common::Counter: each worker's block on its own cache line, counts
// written by one thread each without read-modify-write are exact when summed after the writers
// ran concurrently (the property ListenerStats, Backend and Pool counters rely on).
#include "common/per_worker.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <thread>
#include <vector>

#include "common/counter.h"

namespace postern::common {
namespace {

struct Block {
    Counter a;
    Counter b;
};

TEST(PerWorker, BlocksAreCacheLineAlignedAndApart) {
    PerWorker<Block> blocks(4);
    ASSERT_EQ(blocks.size(), 4u);
    for (unsigned i = 0; i < 4; ++i) {
        const auto addr = reinterpret_cast<std::uintptr_t>(&blocks.at(i));
        EXPECT_EQ(addr % kCacheLine, 0u) << i;
        if (i > 0) {
            const auto prev = reinterpret_cast<std::uintptr_t>(&blocks.at(i - 1));
            EXPECT_GE(addr - prev, kCacheLine) << i;
        }
    }
}

TEST(PerWorker, ZeroWorkersMeansOneBlockAndAnIndexPastTheEndGetsTheLast) {
    PerWorker<Block> one(0);
    EXPECT_EQ(one.size(), 1u);
    PerWorker<Block> two(2);
    two.at(1).a.add(3);
    // A writer with a larger index than blocks (an object made for fewer workers): the last.
    const PerWorker<Block>& view = two;
    EXPECT_EQ(view.at(7).a.get(), 3u);
}

TEST(PerWorker, ConcurrentWritersEachOnTheirOwnBlockSumExactly) {
    constexpr unsigned kWorkers = 4;
    constexpr std::uint64_t kAdds = 200'000;
    PerWorker<Block> blocks(kWorkers);
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < kWorkers; ++w) {
        threads.emplace_back([&blocks, w] {
            Block& mine = blocks.at(w);
            for (std::uint64_t i = 0; i < kAdds; ++i) {
                mine.a.add();
                mine.b.add(w + 1);
            }
        });
    }
    // A reader summing while the writers run sees monotonic, never torn, values.
    std::uint64_t last = 0;
    for (int i = 0; i < 1000; ++i) {
        std::uint64_t sum = 0;
        blocks.forEach([&](const Block& b) { sum += b.a.get(); });
        EXPECT_GE(sum, last);
        EXPECT_LE(sum, kWorkers * kAdds);
        last = sum;
    }
    for (auto& t : threads) t.join();
    std::uint64_t a = 0, b = 0;
    blocks.forEach([&](const Block& blk) {
        a += blk.a.get();
        b += blk.b.get();
    });
    EXPECT_EQ(a, kWorkers * kAdds);
    EXPECT_EQ(b, kAdds * (1 + 2 + 3 + 4));
}

}  // namespace
}  // namespace postern::common
