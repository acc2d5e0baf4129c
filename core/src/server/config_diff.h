// What a reload changes: the running configuration compared with the new one, as names. A pure
// function of the two Configs (no sockets, no threads), so the rules are unit-tested on their own:
//  - listeners match by name AND bind addresses (as written): the same = kept (its sockets stay);
//    a changed bind list is a removal plus an addition of the same name;
//  - pools match by name: kept (same settings), changed (same name, other settings: the Pool
//    object, its backends and their health stay) or added / removed;
//  - a kept listener whose routes (or own pool) changed is named in routes_changed: its new
//    connections and requests follow the new routes, established ones keep the pool they have;
//    every pool a route names is a pool of the configuration like any other (kept, changed,
//    added or removed by name), held by the listener generations that route to it;
//  - keys that cannot change in a running process are reported by name (restart_only): the
//    running value stays.
#pragma once

#include <string>
#include <vector>

#include "config/model.h"

namespace postern::server {

struct ConfigDiff {
    std::vector<std::string> listeners_kept;
    std::vector<std::string> listeners_added;    ///< new names and changed binds
    std::vector<std::string> listeners_removed;  ///< gone names and changed binds
    /** Kept listeners whose pool or [[listener.route]] tables changed. */
    std::vector<std::string> routes_changed;
    std::vector<std::string> pools_kept;         ///< same name, same settings
    std::vector<std::string> pools_changed;      ///< same name, other settings
    std::vector<std::string> pools_added;
    std::vector<std::string> pools_removed;
    /** "[gateway] workers" …: changed in the file, kept as they run until a restart. */
    std::vector<std::string> restart_only;
    bool log_level_changed = false;
    bool access_log_changed = false;  ///< [log] access, format or fields
    bool log_file_changed = false;    ///< [log] file
};

/** Whether a listener of `before` is kept as `after` (same name, same bind list). */
bool sameListenerBinds(const config::ListenerConfig& before, const config::ListenerConfig& after);
/** Whether two listeners send the same traffic to the same pools (own pool, routes in order). */
bool sameRouting(const config::ListenerConfig& before, const config::ListenerConfig& after);
/** Whether a pool's settings are the same (plugins compared by their fingerprints). */
bool samePoolSettings(const config::PoolConfig& before, const config::PoolConfig& after);

ConfigDiff diffConfigs(const config::Config& before, const config::Config& after);

}  // namespace postern::server
