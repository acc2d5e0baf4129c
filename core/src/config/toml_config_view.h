// The plugin-facing `postern_config` (postern/plugin/abi.h) over one toml++ table: the only way a
// plugin sees its configuration. Node handles are `const toml::node*` cast to `postern_node*`.
// Every lookup is recorded, so that after the plugin's create call returns, every key it never
// looked up is reported as an unknown key (a typo in a plugin table is an error, not a silent
// default). Control thread only; lives for one create call; the table must outlive it.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <deque>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/diagnostics.h"
#include "postern/plugin/abi.h"

namespace postern::config {

class TomlConfigView {
public:
    /** `table` is the plugin's table (null = no table: the plugin sees an empty one). `context`
     * names it in messages ("[pool.discovery]"), `owner` names the plugin ("discovery plugin
     * 'static'"), `pos` is where errors about the table as a whole go. `core_keys` belong to the
     * core: the plugin does not see them (get returns NULL) and they are never reported here.
     * `base_dir` (the main config file's directory) resolves relative paths read with as_path;
     * empty = they stay relative. */
    TomlConfigView(const toml::table* table, std::string context, std::string owner, SourcePos pos,
                   std::vector<std::string> core_keys, Diagnostics& diag,
                   std::filesystem::path base_dir = {});
    TomlConfigView(const TomlConfigView&) = delete;
    TomlConfigView& operator=(const TomlConfigView&) = delete;

    const postern_config* abi() const { return &abi_; }

    /** Errors the plugin reported (through `error` or a failed `as_duration_ms`). */
    std::size_t errorsReported() const { return errors_reported_; }

    /** Reports every key of the plugin's table, and of the tables inside values it read, that the
     * plugin never looked up. Call once, after create returned. */
    void reportUnusedKeys();

private:
    static postern_node_type type(void* ctx, const postern_node* node) noexcept;
    static const postern_node* get(void* ctx, const postern_node* table, postern_str key) noexcept;
    static size_t size(void* ctx, const postern_node* array) noexcept;
    static const postern_node* at(void* ctx, const postern_node* array, size_t index) noexcept;
    static int asString(void* ctx, const postern_node* node, postern_str* out) noexcept;
    static int asInteger(void* ctx, const postern_node* node, int64_t* out) noexcept;
    static int asFloat(void* ctx, const postern_node* node, double* out) noexcept;
    static int asBoolean(void* ctx, const postern_node* node, int* out) noexcept;
    static int asDurationMs(void* ctx, const postern_node* node, int64_t* out_ms) noexcept;
    static int asPath(void* ctx, const postern_node* node, postern_str* out) noexcept;
    static void error(void* ctx, const postern_node* node, postern_str message) noexcept;

    static const toml::node* node(const postern_node* handle) {
        return reinterpret_cast<const toml::node*>(handle);
    }
    static const postern_node* handle(const toml::node* n) {
        return reinterpret_cast<const postern_node*>(n);
    }

    /** The key path of a node the plugin reached ("targets[2].weight"), for messages. */
    std::string nameOf(const toml::node* n) const;
    void walkUnused(const toml::node& value);
    void reportUnusedIn(const toml::table& table, bool is_root);

    toml::table empty_;
    const toml::table* table_;
    std::string context_;
    std::string owner_;
    SourcePos pos_;
    std::vector<std::string> core_keys_;
    Diagnostics& diag_;
    std::size_t errors_reported_ = 0;
    std::filesystem::path base_dir_;
    /** Resolved paths handed out by as_path (stable addresses until the view dies). */
    std::deque<std::string> paths_;

    std::unordered_set<const toml::node*> read_;
    std::unordered_map<const toml::node*, std::string> names_;
    /** Per table: every key the plugin asked for, present or not (for "did you mean"). */
    std::unordered_map<const toml::table*, std::vector<std::string>> asked_;

    postern_config abi_;
};

}  // namespace postern::config
