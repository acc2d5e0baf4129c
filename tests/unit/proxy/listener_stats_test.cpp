// proxy::ListenerStats: every count and both histograms summed over the workers' blocks; the
// shared `active` count as it is; total() (the memory trimmer's figure) equal to sum().total.
#include "proxy/listener_stats.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace postern::proxy {
namespace {

using namespace std::chrono_literals;

TEST(ListenerStats, SumsEveryFieldOverTheWorkers) {
    ListenerStats stats(3);
    EXPECT_EQ(stats.workers(), 3u);
    for (unsigned w = 0; w < 3; ++w) {
        ListenerCounters& c = stats.worker(w);
        c.total.add(10);
        c.bytes_in.add(100 * (w + 1));
        c.bytes_out.add(7);
        c.refused_max_connections.add();
        c.refused_no_backend.add(2);
        c.refused_capacity.add(3);
        c.connect_failed.add(4);
        c.proxy_untrusted.add(5);
        c.proxy_invalid.add(6);
        c.proxy_timeout.add(7);
        c.tls_handshake_failures.add(8);
        c.refused_acl.add(9);
        c.refused_client_rate.add(10);
        c.refused_client_limit.add(11);
        c.client_untracked.add(12);
        c.countClose(CloseCause::ClientFin);
        c.tls_handshake.observe(3ms);
        c.request_duration.observe(20ms);
    }
    stats.active.store(5);
    const ListenerTotals t = stats.sum();
    EXPECT_EQ(t.active, 5u);
    EXPECT_EQ(t.total, 30u);
    EXPECT_EQ(stats.total(), 30u);
    EXPECT_EQ(t.bytes_in, 600u);
    EXPECT_EQ(t.bytes_out, 21u);
    EXPECT_EQ(t.refused_max_connections, 3u);
    EXPECT_EQ(t.refused_no_backend, 6u);
    EXPECT_EQ(t.refused_capacity, 9u);
    EXPECT_EQ(t.connect_failed, 12u);
    EXPECT_EQ(t.proxy_untrusted, 15u);
    EXPECT_EQ(t.proxy_invalid, 18u);
    EXPECT_EQ(t.proxy_timeout, 21u);
    EXPECT_EQ(t.tls_handshake_failures, 24u);
    EXPECT_EQ(t.refused_acl, 27u);
    EXPECT_EQ(t.refused_client_rate, 30u);
    EXPECT_EQ(t.refused_client_limit, 33u);
    EXPECT_EQ(t.client_untracked, 36u);
    EXPECT_EQ(t.closedBy(CloseCause::ClientFin), 3u);
    EXPECT_EQ(t.closedBy(CloseCause::BackendFin), 0u);
    EXPECT_EQ(t.tls_handshake.count(), 3u);
    EXPECT_EQ(t.tls_handshake.sum_ns, 9'000'000u);
    EXPECT_EQ(t.request_duration.count(), 3u);
}

TEST(ListenerStats, WorkersCountingAtOnceAddUp) {
    constexpr unsigned kWorkers = 4;
    constexpr std::uint64_t kConnections = 50'000;
    ListenerStats stats(kWorkers);
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < kWorkers; ++w) {
        threads.emplace_back([&stats, w] {
            for (std::uint64_t i = 0; i < kConnections; ++i) {
                ListenerCounters& c = stats.worker(w);
                c.total.add();
                stats.active.fetch_add(1, std::memory_order_relaxed);
                c.bytes_in.add(3);
                c.countClose(CloseCause::BackendFin);
                stats.active.fetch_sub(1, std::memory_order_relaxed);
            }
        });
    }
    for (auto& t : threads) t.join();
    const ListenerTotals t = stats.sum();
    EXPECT_EQ(t.total, kWorkers * kConnections);
    EXPECT_EQ(t.bytes_in, 3 * kWorkers * kConnections);
    EXPECT_EQ(t.closedBy(CloseCause::BackendFin), kWorkers * kConnections);
    EXPECT_EQ(t.active, 0u);
}

}  // namespace
}  // namespace postern::proxy
