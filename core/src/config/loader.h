// Loads and validates a postern TOML file into an immutable Config: every problem collected with
// its position, sorted, all reported at once. Control thread only.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "plugin/registry.h"

namespace postern::config {

struct LoadOptions {
    /** Used when [gateway] has no plugin_dirs. */
    std::vector<std::filesystem::path> default_plugin_dirs;
    /** What workers = 0 resolves to. */
    unsigned cpu_count = 1;
    /** A reload: the configuration running now. A pool's plugin instance (balancer factory,
     * discovery, probe) is taken over from the pool of the same name here when the plugin name
     * and its whole TOML table are the same (Plugin fingerprints), instead of being created
     * again: a reload that does not touch [pool.discovery] keeps the discovery's state. */
    const Config* previous = nullptr;
};

struct LoadResult {
    std::shared_ptr<const Config> config;  ///< null when errors is not empty
    std::vector<ConfigError> errors;       ///< sorted by (line, column)
};

/** Reads and validates `file`. Scans the configured plugin directories into `registry` and creates
 * the plugin instances each pool needs (plugins validate their own tables). */
LoadResult loadConfigFile(const std::filesystem::path& file, plugin::Registry& registry,
                          const LoadOptions& options);

/** Same, from text; `display_name` is used in messages, `base_dir` resolves relative paths. */
LoadResult loadConfigText(std::string_view text, const std::string& display_name,
                          const std::filesystem::path& base_dir, plugin::Registry& registry,
                          const LoadOptions& options);

}  // namespace postern::config
