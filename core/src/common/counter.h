// Counters with one writer each (the per-worker blocks of common/per_worker.h; the control thread
// for probe figures), read by any thread. The writer adds with a relaxed load and store: no
// lock-prefixed read-modify-write, so a count costs what a plain increment costs. Readers (a
// scrape) load relaxed and may see a count a moment old, never a torn one.
#pragma once

#include <atomic>
#include <cstdint>

namespace postern::common {

class Counter {
public:
    /** The one writer only. */
    void add(std::uint64_t n = 1) {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    /** Any thread. */
    std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

}  // namespace postern::common
