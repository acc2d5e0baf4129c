// Shared by the config loader tests: load text against the real built plugins and look at the
// errors as the "file:line:col: message" lines a user sees.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "plugin/registry.h"

namespace postern::config::test {

/** One Registry for the whole test binary: plugin libraries stay loaded anyway, and a directory
 * already scanned is skipped, exactly as on a reload. */
inline plugin::Registry& sharedRegistry() {
    static plugin::Registry registry;
    return registry;
}

inline LoadOptions testOptions() {
    LoadOptions options;
    options.default_plugin_dirs = {POSTERN_TEST_PLUGIN_DIR};
    options.cpu_count = 3;
    return options;
}

/** Loads `text` as "t.toml" in /etc/postern (relative paths resolve there). */
inline LoadResult loadText(std::string_view text, const LoadOptions& options = testOptions()) {
    return loadConfigText(text, "t.toml", "/etc/postern", sharedRegistry(), options);
}

inline std::vector<std::string> errorLines(const LoadResult& result) {
    std::vector<std::string> out;
    for (const auto& e : result.errors) out.push_back(e.format());
    return out;
}

/** The smallest valid configuration; tests append or prepend the part they are about. */
inline constexpr std::string_view kMinimalPool = R"(
[[pool]]
name = "pg"
  [pool.discovery]
  targets = ["10.0.0.4:5432"]
)";

}  // namespace postern::config::test
