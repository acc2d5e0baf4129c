// The `file` discovery plugin: an on-prem inventory, a TOML file of [[target]] tables named by
// `path` in [pool.discovery], re-read when it changes. Every round reports the last good set
// (level-triggered); a bad, half-written or missing file keeps it. Built against the plugin SDK
// (see CMakeLists.txt for the two sources it shares with the tree).
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "discovery_file/inventory_watcher.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::file_discovery {

/** Created on the control thread; discover() and nextRefreshMs() run on the pool's discovery
 * thread, one call at a time. */
class FileDiscovery final : public postern::sdk::Discovery {
public:
    /** How often a round looks at the file (one stat); see inventory_watcher.h for why a poll. */
    static constexpr std::int64_t kPollMs = 1000;

    static std::unique_ptr<FileDiscovery> create(postern::sdk::Config& config,
                                                 postern::sdk::Host& host) noexcept {
        try {
            const postern::sdk::Node path_node = config.get("path");
            if (!path_node) {
                config.error(
                    "needs 'path': the inventory file of [[target]] tables, e.g. "
                    "path = \"backends.toml\" (relative to this config file's directory)");
                return nullptr;
            }
            if (path_node.type() != postern::sdk::NodeType::String) {
                path_node.error("path must be a string (a file name), not " +
                                std::string(postern::sdk::describe(path_node.type())));
                return nullptr;
            }
            if (path_node.asString()->empty()) {
                path_node.error("path must not be empty");
                return nullptr;
            }
            auto path = path_node.asPath();
            if (!path) {
                path_node.error("path cannot be resolved (out of memory)");
                return nullptr;
            }
            auto watcher = std::make_unique<InventoryWatcher>(
                std::string(*path), [host](postern::sdk::LogLevel level, std::string_view message) {
                    host.log(level, message);
                });
            std::vector<std::string> errors;
            if (!watcher->load(errors)) {
                // At the `path` key of the main config; each message carries the inventory's own
                // position.
                for (const auto& e : errors) path_node.error(e);
                return nullptr;
            }
            host.debug("inventory " + watcher->path() +
                       " loaded: " + std::to_string(watcher->targets().size()) + " target(s)");
            return std::unique_ptr<FileDiscovery>(new FileDiscovery(std::move(watcher)));
        } catch (...) {
            config.error(
                "the file discovery plugin failed while reading its inventory (out of memory)");
            return nullptr;
        }
    }

    void discover(postern::sdk::Sink& sink, std::int64_t budget_ms) noexcept override {
        (void)budget_ms;  // one stat, at most one read of a small file
        try {
            watcher_->poll();
        } catch (...) {
            // Out of memory while reading: the last good set stands.
        }
        for (const auto& t : watcher_->targets())
            sink.add({t.host, t.port, t.weight, t.max_connections, t.region, t.priority});
    }

    std::int64_t nextRefreshMs() const noexcept override { return kPollMs; }

private:
    explicit FileDiscovery(std::unique_ptr<InventoryWatcher> watcher)
        : watcher_(std::move(watcher)) {}

    std::unique_ptr<InventoryWatcher> watcher_;
};

}  // namespace postern::plugins::file_discovery

POSTERN_DISCOVERY_PLUGIN("file", "1.0.0", postern::plugins::file_discovery::FileDiscovery);
