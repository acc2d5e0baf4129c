// common::Histogram: an observation lands in the first bucket whose bound it does not exceed (the
// bound itself included, as Prometheus' `le` says), the sum is exact in nanoseconds, totals of
// several histograms add up bucket by bucket.
#include "common/histogram.h"

#include <gtest/gtest.h>

#include <chrono>

namespace postern::common {
namespace {

using namespace std::chrono_literals;

HistogramTotals totalsOf(const Histogram& h) {
    HistogramTotals t;
    h.addTo(t);
    return t;
}

TEST(Histogram, BoundsAreInclusiveAndTheLastBucketIsInfinite) {
    Histogram h;
    h.observe(500us);                  // == 0.0005: first bucket
    h.observe(500us + 1ns);            // just above: second
    h.observe(1ms);                    // == 0.001: second
    h.observe(10s);                    // == 10: last finite bucket
    h.observe(10s + 1ns);              // +Inf
    h.observe(std::chrono::hours(1));  // +Inf
    const HistogramTotals t = totalsOf(h);
    EXPECT_EQ(t.buckets[0], 1u);
    EXPECT_EQ(t.buckets[1], 2u);
    EXPECT_EQ(t.buckets[kHistogramBuckets - 2], 1u);
    EXPECT_EQ(t.buckets[kHistogramBuckets - 1], 2u);
    EXPECT_EQ(t.count(), 6u);
    const std::uint64_t expected_ns = 500'000 + 500'001 + 1'000'000 + 10'000'000'000ull +
                                      10'000'000'001ull + 3'600'000'000'000ull;
    EXPECT_EQ(t.sum_ns, expected_ns);
    EXPECT_DOUBLE_EQ(t.sumSeconds(), static_cast<double>(expected_ns) / 1e9);
}

TEST(Histogram, EveryBoundMatchesItsNanoseconds) {
    for (std::size_t i = 0; i < kHistogramBounds.size(); ++i) {
        Histogram h;
        h.observe(std::chrono::nanoseconds(kHistogramBoundsNs[i]));
        const HistogramTotals t = totalsOf(h);
        EXPECT_EQ(t.buckets[i], 1u) << "bound " << kHistogramBounds[i];
        if (i > 0) {
            EXPECT_LT(kHistogramBoundsNs[i - 1], kHistogramBoundsNs[i]);
        }
    }
}

TEST(Histogram, NegativeDurationCountsAsZero) {
    Histogram h;
    h.observe(-5ms);
    const HistogramTotals t = totalsOf(h);
    EXPECT_EQ(t.buckets[0], 1u);
    EXPECT_EQ(t.sum_ns, 0u);
}

TEST(Histogram, TotalsAddUp) {
    Histogram a, b;
    a.observe(2ms);
    b.observe(2ms);
    b.observe(200ms);
    HistogramTotals t;
    a.addTo(t);
    b.addTo(t);
    EXPECT_EQ(t.count(), 3u);
    EXPECT_EQ(t.sum_ns, 204'000'000u);
    HistogramTotals u = t;
    u += t;
    EXPECT_EQ(u.count(), 6u);
    EXPECT_EQ(u.sum_ns, 408'000'000u);
}

}  // namespace
}  // namespace postern::common
