// A hand-made GatewaySnapshot for the writers' tests: two listeners (tcp, https), a pool with a
// probe and three backends (one down, one draining, two of them with the same address), a pool
// without a probe, a rejected and an applied reload; names with characters to escape.
#pragma once

#include <chrono>

#include "admin/gateway_snapshot.h"

namespace postern::admin::testing {

inline GatewaySnapshot sampleSnapshot() {
    using namespace std::chrono_literals;
    GatewaySnapshot s;
    s.version = "0.1.0";
    s.started = WallClock::time_point(1'765'000'000'000ms);
    s.loaded = s.started + 60s;
    s.now = s.loaded + 1500ms;
    s.generation = 2;
    s.connections_active = 4;
    s.reloads_applied = 1;
    s.reloads_rejected = 1;
    s.reloads.push_back({s.loaded, true, 2, {}});
    s.reloads.push_back(
        {s.started + 30s,
         false,
         1,
         {"/etc/postern/postern.toml:3:9: unknown key \"bnd\"", "f:1:2: tab\there"}});

    ListenerSnapshot tcp;
    tcp.name = "pg";
    tcp.protocol = "tcp";
    tcp.bind = {"127.0.0.1:5432", "[::1]:5432"};
    tcp.pool = "pg";
    tcp.totals.active = 3;
    tcp.totals.total = 100;
    tcp.totals.bytes_in = 1234;
    tcp.totals.bytes_out = 5678;
    tcp.totals.refused_max_connections = 2;
    tcp.totals.refused_acl = 1;
    tcp.totals.closed[static_cast<std::size_t>(proxy::CloseCause::ClientFin)] = 95;
    s.listeners.push_back(tcp);

    ListenerSnapshot web;
    web.name = "we\"b\\site\n2";  // every character a label value must escape
    web.protocol = "https";
    web.bind = {"127.0.0.1:8443"};
    web.http = true;
    web.tls = true;
    web.totals.active = 1;
    web.totals.total = 10;
    web.totals.tls_handshake_failures = 2;
    web.totals.tls_handshake.buckets[2] = 5;  // 5 handshakes ≤ 2.5 ms
    web.totals.tls_handshake.buckets[4] = 3;  // 3 ≤ 10 ms
    web.totals.tls_handshake.sum_ns = 30'000'000;
    web.totals.request_duration.buckets[7] = 9;
    web.totals.request_duration.buckets[common::kHistogramBuckets - 1] = 1;
    web.totals.request_duration.sum_ns = 20'500'000'000;
    s.listeners.push_back(web);

    PoolSnapshot pg;
    pg.name = "pg";
    pg.balancer = "least_connections";
    pg.connect_time.buckets[1] = 40;
    pg.connect_time.sum_ns = 30'000'000;
    BackendSnapshot a;
    a.address = "127.0.0.1:9001";
    a.host = "db1.internal";
    a.region = "eu";
    a.up = true;
    a.active = 2;
    a.connections_total = 40;
    a.probe_duration = common::HistogramTotals{};
    a.probe_duration->buckets[0] = 7;
    a.probe_duration->sum_ns = 2'100'000;
    a.last_probe = upstream::ProbeResult{s.now - 2s, true, std::chrono::nanoseconds(412'345), ""};
    pg.backends.push_back(a);
    BackendSnapshot b;
    b.address = "[::1]:9002";
    b.host = "db2.internal";
    b.connect_failures = 3;
    b.probe_duration = common::HistogramTotals{};
    b.probe_duration->buckets[3] = 2;
    b.last_probe = upstream::ProbeResult{s.now - 1s, false, std::chrono::milliseconds(3),
                                         "connect: Connection refused"};
    pg.backends.push_back(b);
    BackendSnapshot old_a = a;  // removed, still draining, beside its successor of the same address
    old_a.host = "db1-old.internal";
    old_a.up = false;
    old_a.draining = true;
    old_a.active = 1;
    old_a.connections_total = 5;
    old_a.probe_duration = common::HistogramTotals{};
    old_a.last_probe.reset();
    pg.backends.push_back(old_a);
    s.pools.push_back(pg);

    PoolSnapshot site;
    site.name = "site";
    site.balancer = "round_robin";
    BackendSnapshot c;
    c.address = "127.0.0.1:9100";
    c.host = "127.0.0.1";
    c.up = true;
    c.weight = 3;
    c.priority = 1;
    site.backends.push_back(c);
    s.pools.push_back(site);
    return s;
}

}  // namespace postern::admin::testing
