// Finds, checks and loads plugin libraries (Boost.DLL, rtld_now), and owns them for the life of
// the process: libraries are never unloaded, so every handle in plugin/instances.h stays valid.
// Control thread only (start-up, reload, `postern plugins`).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/instances.h"

namespace postern::plugin {

class Registry {
public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    /** Loads every plugin library (*.so / *.dll) in each directory, in order. Returns one message per
     * library that was refused (wrong ABI, no descriptor, duplicate kind+name, not loadable...);
     * refused libraries are skipped, the rest are usable. A directory already scanned is skipped. */
    std::vector<std::string> scan(const std::vector<std::filesystem::path>& dirs);

    /** Loads one library. Returns the refusal message, or nullopt when it was accepted. */
    std::optional<std::string> load(const std::filesystem::path& file);

    /** nullptr when no plugin of that kind and name was accepted. */
    const LoadedPlugin* find(postern_kind kind, std::string_view name) const;

    /** Every accepted plugin, in load order. */
    std::vector<const LoadedPlugin*> plugins() const;

    /** Host services handed to plugin instances (logging tagged with the plugin's name). */
    const postern_host* host(const LoadedPlugin& plugin) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/** Where built-in plugins live relative to the running binary: <exe dir>/../lib/postern/plugins
 * (Linux: /usr/bin/postern → /usr/lib/postern/plugins; the build tree mirrors it) and, on Windows,
 * <exe dir>/plugins. */
std::vector<std::filesystem::path> defaultPluginDirs();

}  // namespace postern::plugin
