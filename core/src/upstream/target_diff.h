// What one discovery round changes in a pool, as pure functions: resolveTargets() turns the targets
// a plugin reported into one entry per address (discovery thread: it may block on DNS), and
// diffTargets() compares those with the pool's backends (control thread, touches nothing it is
// given). DiscoveryRunner applies the result.
//
// The rules:
//  - identity: a backend is its resolved address and port (net::SocketAddress), not the name it
//    came from. A name with several addresses gives several backends; two targets that resolve to
//    the same address give one (the first reported wins: its name, weight, region, limits,
//    priority). An address that moves to another name stays the same backend (health, counters,
//    connections) and keeps the name it was created with — unless the name is part of how we
//    talk to the backend (TLS SNI taken from the name: DiffOptions::name_is_identity), where a
//    new name is a new backend;
//  - weight, region, max_connections and priority change in place on the existing Backend;
//  - a backend no longer reported is removed (the caller retires it: it drains); a removed
//    backend still draining that is reported again comes back as the same object;
//  - a name that failed to resolve this round keeps the backends it had (a resolver hiccup must
//    not drain them); a target without a port in a pool without a default port is skipped with
//    an error.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket_address.h"
#include "upstream/backend.h"

namespace postern::upstream {

/** One target as the plugin reported it (copied out of its sink). */
struct DiscoveredTarget {
    std::string host;        ///< IP literal or a name
    std::uint16_t port = 0;  ///< 0 = the pool's default backend port
    std::uint32_t weight = 1;
    std::uint32_t max_connections = 0;
    std::string region;
    std::uint32_t priority = 0;
};

/** One address of a target. */
struct ResolvedTarget {
    std::string host;            ///< the name (or literal) it was reported as
    net::SocketAddress address;  ///< with the port
    std::uint32_t weight = 1;
    std::uint32_t max_connections = 0;
    std::string region;
    std::uint32_t priority = 0;
};

struct Resolution {
    std::vector<ResolvedTarget> targets;
    /** Names that did not resolve this round (their current backends are kept). */
    std::vector<std::string> unresolved;
    /** One message per skipped target (no port, name that did not resolve). */
    std::vector<std::string> errors;
};

/** Every address of `host` (port set), or empty with *error set. */
using Resolver = std::function<std::vector<net::SocketAddress>(
    std::string_view host, std::uint16_t port, std::string* error)>;

/** Applies `default_port` to targets without one, resolves each name with `resolve` (each
 * distinct name once) and expands it to one entry per address. Any thread (blocks as long as
 * `resolve` does). */
Resolution resolveTargets(std::span<const DiscoveredTarget> targets, std::uint16_t default_port,
                          const Resolver& resolve);

struct DiffOptions {
    /** New backends start up (a pool without a probe) or down until probed. */
    bool up_without_probe = true;
    /** The name is part of the identity (see the rules above). */
    bool name_is_identity = false;
    /** The gateway's worker count: new backends get a counter block per worker. */
    unsigned workers = 1;
};

struct TargetDiff {
    struct Update {
        std::shared_ptr<Backend> backend;
        ResolvedTarget target;  ///< the attributes to set (applyInPlace)
    };
    /** The pool's backend list after the round: the targets' backends in report order, then the
     * ones kept for names that did not resolve. */
    std::vector<std::shared_ptr<Backend>> next;
    std::vector<std::shared_ptr<Backend>> added;       ///< new objects (in next)
    std::vector<std::shared_ptr<Backend>> kept;        ///< unchanged (in next)
    std::vector<Update> updated;                       ///< attributes change in place (in next)
    std::vector<std::shared_ptr<Backend>> readmitted;  ///< were draining, reported again (in next)
    std::vector<std::shared_ptr<Backend>> removed;     ///< to retire
    /** Targets merged into an earlier one with the same address ("name address"). */
    std::vector<std::string> merged;

    bool changed() const {
        return !added.empty() || !updated.empty() || !readmitted.empty() || !removed.empty();
    }
};

/** Compares the pool's `current` backends (and the `draining` ones discovery removed earlier)
 * with a round's `resolution`. Reads the backends, changes nothing; new Backend objects are
 * created for the `added` ones. Control thread (reads control-thread attributes). */
TargetDiff diffTargets(std::span<const std::shared_ptr<Backend>> current,
                       std::span<const std::shared_ptr<Backend>> draining,
                       const Resolution& resolution, const DiffOptions& options);

/** A new Backend for `target`. */
std::shared_ptr<Backend> makeBackend(const ResolvedTarget& target, const DiffOptions& options);

/** Whether `backend`'s in-place attributes differ from `target`'s. Control thread. */
bool attributesDiffer(const Backend& backend, const ResolvedTarget& target);

/** Sets the in-place attributes (weight, region, max_connections, priority). Control thread; the
 * caller republishes the pool's snapshot afterwards. */
void applyInPlace(Backend& backend, const ResolvedTarget& target);

}  // namespace postern::upstream
