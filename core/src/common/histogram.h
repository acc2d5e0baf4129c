// A fixed-bucket latency histogram with one writer (a worker's block, or the control thread),
// in the shape Prometheus exposes (`_bucket{le}` cumulative, `_sum`, `_count`): observe() finds
// the bucket by a short scan of constant bounds and adds with single-writer stores (no lock, no
// allocation). Readers sum any number of them into a HistogramTotals at scrape time.
//
// One set of bounds for every duration Postern measures (backend connect, TLS handshake, probe,
// HTTP request): 0.5 ms to 10 s, roughly ×2–2.5 apart, then +Inf. Fixed at compile time so that
// every histogram of a scrape has the same `le` labels and merging is a plain sum.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/counter.h"

namespace postern::common {

/** Upper bounds of the finite buckets, in seconds, as written in `le` labels. */
inline constexpr std::array<double, 14> kHistogramBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
/** The finite buckets and the +Inf one. */
inline constexpr std::size_t kHistogramBuckets = kHistogramBounds.size() + 1;

/** The same bounds in nanoseconds (what observe() compares with). */
inline constexpr std::array<std::uint64_t, kHistogramBounds.size()> kHistogramBoundsNs = [] {
    std::array<std::uint64_t, kHistogramBounds.size()> out{};
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = static_cast<std::uint64_t>(kHistogramBounds[i] * 1e9 + 0.5);
    return out;
}();

/** Plain sums of histograms (what a scrape reads and writes out). */
struct HistogramTotals {
    std::array<std::uint64_t, kHistogramBuckets> buckets{};  ///< per bucket, not cumulative
    std::uint64_t sum_ns = 0;

    std::uint64_t count() const {
        std::uint64_t n = 0;
        for (std::uint64_t b : buckets) n += b;
        return n;
    }
    double sumSeconds() const { return static_cast<double>(sum_ns) / 1e9; }
    HistogramTotals& operator+=(const HistogramTotals& other) {
        for (std::size_t i = 0; i < kHistogramBuckets; ++i) buckets[i] += other.buckets[i];
        sum_ns += other.sum_ns;
        return *this;
    }
};

class Histogram {
public:
    /** The one writer only. A negative duration (a clock read out of order) counts as 0. */
    void observe(std::chrono::nanoseconds d) {
        const std::uint64_t ns = d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
        std::size_t i = 0;
        while (i < kHistogramBoundsNs.size() && ns > kHistogramBoundsNs[i]) ++i;
        buckets_[i].add();
        sum_ns_.add(ns);
    }
    /** Any thread: adds this histogram's counts to `out`. */
    void addTo(HistogramTotals& out) const {
        for (std::size_t i = 0; i < kHistogramBuckets; ++i) out.buckets[i] += buckets_[i].get();
        out.sum_ns += sum_ns_.get();
    }

private:
    std::array<Counter, kHistogramBuckets> buckets_{};
    Counter sum_ns_;
};

}  // namespace postern::common
