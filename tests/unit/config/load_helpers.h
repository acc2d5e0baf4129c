// Shared by the config loader tests: load text against the real built plugins and look at the
// errors as the "file:line:col: message" lines a user sees.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "net/socket_address.h"
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

/** An absolute POSIX path ("/etc/x") as the loader stores it. On Windows such a path has no
 * drive, so it resolves to the drive of the directory it is taken against (the current one here,
 * as for loadText's "/etc/postern") and gets native separators: Z:\etc\x under wine. */
inline std::filesystem::path asLoaded(std::string_view posix_absolute) {
#ifdef _WIN32
    return (std::filesystem::current_path().root_name() / std::filesystem::path(posix_absolute))
        .lexically_normal();
#else
    return std::filesystem::path(posix_absolute);
#endif
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

/** A [[listener]] "pg" with `keys` in its table, and kMinimalPool. */
inline std::string withListenerKeys(std::string_view keys) {
    return std::string(R"([[listener]]
name = "pg"
bind = ["127.0.0.1:0"]
pool = "pg"
)") + std::string(keys) +
           "\n" + std::string(kMinimalPool);
}

/** `text` (an IP literal) on port 5000. */
inline net::SocketAddress ip(const char* text) { return *net::SocketAddress::fromIp(text, 5000); }

}  // namespace postern::config::test
