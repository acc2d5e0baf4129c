#include "upstream/target_diff.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace postern::upstream {

namespace {

std::string identityKey(const net::SocketAddress& address, const std::string& host,
                        const DiffOptions& options) {
    std::string key = address.toString();
    if (options.name_is_identity) {
        key += '\n';
        key += host;
    }
    return key;
}

std::string display(const std::string& host, std::uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

Resolution resolveTargets(std::span<const DiscoveredTarget> targets, std::uint16_t default_port,
                          const Resolver& resolve) {
    Resolution out;
    // Each distinct (name, port) is resolved once per round.
    std::unordered_map<std::string, std::vector<net::SocketAddress>> cache;
    std::unordered_set<std::string> failed_names;
    for (const auto& t : targets) {
        const std::uint16_t port = t.port ? t.port : default_port;
        if (port == 0) {
            out.errors.push_back("target " + t.host +
                                 " has no port and [pool.backend] sets none; skipped");
            continue;
        }
        const std::string what = display(t.host, port);
        auto it = cache.find(what);
        if (it == cache.end()) {
            std::string error;
            auto addresses = resolve(t.host, port, &error);
            if (addresses.empty()) {
                out.errors.push_back(error.empty() ? "cannot resolve " + what : error);
                if (failed_names.insert(t.host).second) out.unresolved.push_back(t.host);
            }
            it = cache.emplace(what, std::move(addresses)).first;
        }
        for (const auto& address : it->second)
            out.targets.push_back(ResolvedTarget{t.host, address, t.weight ? t.weight : 1,
                                                 t.max_connections, t.region, t.priority});
    }
    return out;
}

std::shared_ptr<Backend> makeBackend(const ResolvedTarget& target, const DiffOptions& options) {
    auto b = std::make_shared<Backend>(options.workers);
    b->host = target.host;
    b->address = target.address;
    b->port = target.address.port();
    b->address_text = target.address.toString();
    b->ip_text = target.address.ip();
    b->id = options.name_is_identity ? backendId(target.host + "@" + b->ip_text, b->port)
                                     : backendId(b->ip_text, b->port);
    b->weight = target.weight ? target.weight : 1;
    b->region = target.region;
    b->priority = target.priority;
    b->max_connections.store(target.max_connections);
    b->up.store(options.up_without_probe);
    return b;
}

bool attributesDiffer(const Backend& b, const ResolvedTarget& t) {
    return b.weight != (t.weight ? t.weight : 1) || b.region != t.region ||
           b.priority != t.priority ||
           b.max_connections.load(std::memory_order_relaxed) != t.max_connections;
}

void applyInPlace(Backend& b, const ResolvedTarget& t) {
    b.weight = t.weight ? t.weight : 1;
    if (b.region != t.region) b.region = t.region;
    b.priority = t.priority;
    b.max_connections.store(t.max_connections, std::memory_order_relaxed);
}

TargetDiff diffTargets(std::span<const std::shared_ptr<Backend>> current,
                       std::span<const std::shared_ptr<Backend>> draining,
                       const Resolution& resolution, const DiffOptions& options) {
    TargetDiff diff;
    std::unordered_map<std::string, const std::shared_ptr<Backend>*> existing;
    for (const auto& b : current) existing.emplace(identityKey(b->address, b->host, options), &b);
    std::unordered_map<std::string, const std::shared_ptr<Backend>*> retired;
    for (const auto& b : draining) retired.emplace(identityKey(b->address, b->host, options), &b);

    // identity → the target that claimed it first this round
    std::unordered_map<std::string, const ResolvedTarget*> claimed;
    std::unordered_set<const Backend*> in_next;
    for (const auto& t : resolution.targets) {
        // Without the name in the identity, an address is matched whatever name reported it.
        std::string key = identityKey(t.address, t.host, options);
        auto [slot, first] = claimed.emplace(key, &t);
        if (!first) {
            diff.merged.push_back(t.host + " " + t.address.toString());
            continue;
        }
        std::shared_ptr<Backend> b;
        if (auto it = existing.find(key); it != existing.end()) {
            b = *it->second;
        } else if (auto rt = retired.find(key); rt != retired.end()) {
            b = *rt->second;
            diff.readmitted.push_back(b);
        } else {
            b = makeBackend(t, options);
            diff.added.push_back(b);
            diff.next.push_back(b);
            in_next.insert(b.get());
            continue;
        }
        if (attributesDiffer(*b, t))
            diff.updated.push_back({b, t});
        else if (existing.count(key))
            diff.kept.push_back(b);
        diff.next.push_back(b);
        in_next.insert(b.get());
    }

    // A name that did not resolve keeps what it had.
    std::unordered_set<std::string> unresolved(resolution.unresolved.begin(),
                                               resolution.unresolved.end());
    for (const auto& b : current) {
        if (in_next.count(b.get())) continue;
        if (unresolved.count(b->host)) {
            diff.kept.push_back(b);
            diff.next.push_back(b);
            in_next.insert(b.get());
        } else {
            diff.removed.push_back(b);
        }
    }
    return diff;
}

}  // namespace postern::upstream
