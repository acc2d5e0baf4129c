#include "server/config_diff.h"

#include <algorithm>

namespace postern::server {

namespace {

template <class T>
const T* byName(const std::vector<T>& items, const std::string& name) {
    for (const auto& item : items)
        if (item.name == name) return &item;
    return nullptr;
}

bool sameFile(const tls::FileRef& a, const tls::FileRef& b) { return a.path == b.path; }

bool sameBackend(const config::BackendSettings& a, const config::BackendSettings& b) {
    return a.port == b.port && a.connect_timeout == b.connect_timeout && a.retries == b.retries &&
           a.proxy_protocol == b.proxy_protocol && a.proxy_protocol_crc == b.proxy_protocol_crc &&
           a.protocol == b.protocol && a.passive_failures == b.passive_failures &&
           a.tls.sni == b.tls.sni && sameFile(a.tls.ca, b.tls.ca) && a.tls.verify == b.tls.verify &&
           sameFile(a.tls.client_cert, b.tls.client_cert) &&
           sameFile(a.tls.client_key, b.tls.client_key);
}

bool sameProbe(const std::optional<config::ProbeConfig>& a,
               const std::optional<config::ProbeConfig>& b) {
    if (a.has_value() != b.has_value()) return false;
    return !a || a->fingerprint == b->fingerprint;
}

}  // namespace

bool sameListenerBinds(const config::ListenerConfig& before, const config::ListenerConfig& after) {
    if (before.binds.size() != after.binds.size()) return false;
    for (std::size_t i = 0; i < before.binds.size(); ++i) {
        const auto& x = before.binds[i];
        const auto& y = after.binds[i];
        if (x.host != y.host || x.port != y.port) return false;
    }
    return true;
}

bool sameRouting(const config::ListenerConfig& a, const config::ListenerConfig& b) {
    if (a.pool != b.pool || a.routes.size() != b.routes.size()) return false;
    for (std::size_t i = 0; i < a.routes.size(); ++i) {
        const auto& x = a.routes[i];
        const auto& y = b.routes[i];
        if (x.host != y.host || x.path_prefix != y.path_prefix || x.sni != y.sni ||
            x.pool != y.pool)
            return false;
    }
    return true;
}

bool samePoolSettings(const config::PoolConfig& a, const config::PoolConfig& b) {
    return a.balancer_fingerprint == b.balancer_fingerprint && a.affinity == b.affinity &&
           a.drain_timeout == b.drain_timeout && a.balancing_mode == b.balancing_mode &&
           a.max_connections_per_backend == b.max_connections_per_backend &&
           a.max_utilization == b.max_utilization && a.region_order == b.region_order &&
           a.local_region == b.local_region && sameBackend(a.backend, b.backend) &&
           a.discovery.fingerprint == b.discovery.fingerprint &&
           a.discovery.refresh == b.discovery.refresh && sameProbe(a.probe, b.probe);
}

ConfigDiff diffConfigs(const config::Config& before, const config::Config& after) {
    ConfigDiff d;
    for (const auto& l : after.listeners) {
        const auto* old = byName(before.listeners, l.name);
        if (old && sameListenerBinds(*old, l)) {
            d.listeners_kept.push_back(l.name);
            if (!sameRouting(*old, l)) d.routes_changed.push_back(l.name);
        } else
            d.listeners_added.push_back(l.name);
    }
    for (const auto& l : before.listeners) {
        const auto* now = byName(after.listeners, l.name);
        if (!now || !sameListenerBinds(l, *now)) d.listeners_removed.push_back(l.name);
    }
    for (const auto& p : after.pools) {
        const auto* old = byName(before.pools, p.name);
        if (!old)
            d.pools_added.push_back(p.name);
        else if (samePoolSettings(*old, p))
            d.pools_kept.push_back(p.name);
        else
            d.pools_changed.push_back(p.name);
    }
    for (const auto& p : before.pools)
        if (!byName(after.pools, p.name)) d.pools_removed.push_back(p.name);

    const auto& g0 = before.gateway;
    const auto& g1 = after.gateway;
    if (g0.workers != g1.workers) d.restart_only.push_back("[gateway] workers");
    if (g0.user != g1.user) d.restart_only.push_back("[gateway] user");
    if (g0.splice != g1.splice) d.restart_only.push_back("[gateway] splice");
    d.log_level_changed = before.log.level != after.log.level;
    d.access_log_changed = before.log.access != after.log.access ||
                           before.log.format != after.log.format ||
                           before.log.fields != after.log.fields;
    d.log_file_changed = before.log.file != after.log.file;
    return d;
}

}  // namespace postern::server
