// Turns a parsed TOML document into a Config following SPEC §2: every section and key checked with
// exact types, cross-references resolved (listener → pool, duplicate names and bind addresses),
// keys of features not built yet refused, and the plugins each pool names created from their own
// tables. All problems go to Diagnostics; nothing stops at the first. Control thread only.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/loader.h"
#include "config/model.h"
#include "config/plugin_binder.h"
#include "config/table_reader.h"
#include "config/tls_reader.h"

namespace postern::config {

class ConfigReader {
public:
    /** `base_dir` (absolute) resolves relative paths. `root` must outlive read(). */
    ConfigReader(const toml::table& root, std::filesystem::path base_dir,
                 plugin::Registry& registry, const LoadOptions& options, Diagnostics& diag);

    /** The config, or null when any error was reported. */
    std::shared_ptr<Config> read();

private:
    /** What plugin creation needs from one pool, kept until every pool has been read. */
    struct PoolPlugins {
        std::size_t pool = 0;
        std::optional<PluginUse> balancer;
        std::optional<PluginUse> discovery;
        std::optional<PluginUse> probe;
    };
    struct PoolRef {
        std::size_t listener = 0;
        std::optional<std::size_t> route;  ///< set: the route's pool, else the listener's
        SourcePos pos;
    };
    struct NameDef {
        SourcePos defined_at;  ///< the [[listener]] / [[pool]] header
        std::size_t index = 0;
    };
    struct BindDef {
        std::string listener;
        SourcePos pos;
    };

    void readGateway(const toml::table* table, SourcePos pos);
    void readControlSocket(TableReader& r, const std::string& value, GatewayConfig& g);
    void readLog(const toml::table* table, SourcePos pos);
    void readAdmin(const toml::table* table, SourcePos pos);
    void readListeners(TableReader& root);
    void readListener(const toml::table& table);
    /** `[[listener.route]]` of listener `index` (its protocol read; `protocol_known` false when
     * that was invalid, so protocol-specific keys are not judged against a guess). */
    void readRoutes(TableReader& r, ListenerConfig& l, std::size_t index, bool protocol_known);
    /** request_timeout, ws_idle_timeout, ws_max_session. */
    void readHttpTimeouts(TableReader& r, ListenerConfig& l, bool protocol_known);
    void readPools(TableReader& root);
    void readPool(const toml::table& table);
    void readBackend(const toml::table* table, SourcePos pos, BackendSettings& out);
    std::optional<PluginUse> readDiscovery(const toml::table* table, SourcePos pos,
                                           DiscoveryConfig& out);
    std::optional<PluginUse> readProbe(const toml::table& table, ProbeConfig& out);
    /** Reads `plugin` of a plugin table; null when present but invalid. */
    std::optional<std::string> pluginName(TableReader& reader, std::string_view fallback);
    /** `listener`/`pool` names: required, [A-Za-z0-9_.-]+, unique within their kind. */
    std::optional<std::string> readName(TableReader& reader, std::string_view kind,
                                        std::map<std::string, NameDef>& seen, std::size_t index);
    std::filesystem::path resolvePath(const std::string& path) const;
    void resolvePoolReferences();
    void createPlugins();

    const toml::table& root_;
    std::filesystem::path base_dir_;
    plugin::Registry& registry_;
    const LoadOptions& options_;
    Diagnostics& diag_;

    std::shared_ptr<Config> config_;
    bool plugin_dirs_valid_ = true;
    std::map<std::string, NameDef> listener_names_;
    std::map<std::string, NameDef> pool_names_;
    std::map<std::string, BindDef> binds_;  ///< normalised "host:port" → first use
    std::vector<PoolRef> pool_refs_;
    std::vector<PoolPlugins> pool_plugins_;
    TlsReader tls_;  ///< [listener.tls] and [pool.backend] tls_*: read, then built after plugins
};

}  // namespace postern::config
