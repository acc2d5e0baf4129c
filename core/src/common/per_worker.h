// One block of T per worker thread, each on its own cache lines, so that workers counting the
// same listener (or backend, or pool) never write to the same line. Worker i writes only
// `at(i)` (with common::Counter's single-writer add); a scrape reads every block and sums them.
// The number of blocks is fixed at construction ([gateway] workers needs a restart); objects
// made outside a gateway (tests, benchmarks) get one block.
#pragma once

#include <cassert>
#include <cstddef>
#include <memory>

namespace postern::common {

/** The size a block is aligned and padded to: a cache line (two on CPUs that fetch lines in
 * pairs would be 128; 64 is what x86-64 and most arm64 cores use). */
inline constexpr std::size_t kCacheLine = 64;

template <class T>
class PerWorker {
public:
    explicit PerWorker(unsigned workers = 1)
        : size_(workers ? workers : 1), slots_(std::make_unique<Slot[]>(size_)) {}

    /** Worker `worker`'s block (its own thread writes it). An index past the last block (an
     * object made for fewer workers, e.g. in a test) gets the last one: counts stay exact as
     * long as one thread writes it. */
    T& at(unsigned worker) {
        assert(worker < size_);
        return slots_[worker < size_ ? worker : size_ - 1].value;
    }
    const T& at(unsigned worker) const { return slots_[worker < size_ ? worker : size_ - 1].value; }
    unsigned size() const { return size_; }

    /** Calls f(const T&) for every block (a scrape summing them). */
    template <class F>
    void forEach(F&& f) const {
        for (unsigned i = 0; i < size_; ++i) f(slots_[i].value);
    }

private:
    struct alignas(kCacheLine) Slot {
        T value{};
    };
    unsigned size_;
    std::unique_ptr<Slot[]> slots_;
};

}  // namespace postern::common
