// Finds the plugins a configuration names and creates their instances, each from its own TOML table
// through a TomlConfigView, so plugins validate their tables with positioned errors. Scans the
// plugin directories into the Registry once per load (refused libraries are logged as warnings;
// only a plugin the config names and that is missing is a config error). Control thread only.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "plugin/instances.h"
#include "plugin/registry.h"

namespace postern::config {

/** One place where the config uses a plugin. */
struct PluginUse {
    std::string name;
    SourcePos name_pos;        ///< the value naming the plugin, or where the default applies
    const toml::table* table;  ///< the plugin's table; null = none (it sees an empty table)
    std::string context;       ///< "[pool.discovery]", for messages
    SourcePos table_pos;       ///< where errors about the table as a whole go
    std::vector<std::string> core_keys;  ///< keys of `table` that belong to the core
};

/** The plugin name and its table (every key, the core's too) in one canonical string: tables are
 * ordered by key, values printed by toml++. Equal strings mean the plugin would be created from
 * exactly the same input. */
std::string pluginFingerprint(const PluginUse& use);

class PluginBinder {
public:
    /** Scans `dirs` into `registry` (a directory already scanned is skipped by the registry).
     * `base_dir` is the main config file's directory: plugins resolve relative paths against it. */
    PluginBinder(plugin::Registry& registry, std::vector<std::filesystem::path> dirs,
                 Diagnostics& diag, std::filesystem::path base_dir = {});

    /** Null after reporting why (not found, configuration rejected). A non-null instance may still
     * come with reported errors; the load then fails and the instance is simply destroyed. */
    std::shared_ptr<plugin::BalancerFactory> balancer(const PluginUse& use);
    std::shared_ptr<plugin::Discovery> discovery(const PluginUse& use);
    std::shared_ptr<plugin::Probe> probe(const PluginUse& use);

private:
    struct Created {
        const plugin::LoadedPlugin* plugin = nullptr;
        void* instance = nullptr;
    };
    Created create(postern_kind kind, const PluginUse& use);
    std::string searchedDirs() const;

    plugin::Registry& registry_;
    std::vector<std::filesystem::path> dirs_;
    Diagnostics& diag_;
    std::filesystem::path base_dir_;
};

}  // namespace postern::config
