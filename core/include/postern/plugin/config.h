// postern/plugin/config.h — a read-only view of the plugin's own TOML table, with positioned errors.
// Part of the header-only plugin SDK: standard library and abi.h only.
//
// The host hands the plugin its table (for example `[pool.discovery]`) while the plugin is being
// created. Every key the plugin looks up with get() is marked as known; the host reports every other
// key as "unknown key" at its own file:line:column, so a plugin only reads what it understands.
// Readers never coerce: an integer is not a float and a string is not a number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "postern/plugin/abi.h"
#include "postern/plugin/str.h"

namespace postern::sdk {

enum class NodeType {
    None = POSTERN_NODE_NONE,  ///< absent (a key that is not there, an index out of range)
    String = POSTERN_NODE_STRING,
    Integer = POSTERN_NODE_INTEGER,
    Float = POSTERN_NODE_FLOAT,
    Boolean = POSTERN_NODE_BOOLEAN,
    Array = POSTERN_NODE_ARRAY,
    Table = POSTERN_NODE_TABLE,
    Other = POSTERN_NODE_OTHER,  ///< dates and times
};

/** "a string", "an integer", ... for messages such as "weight must be an integer, not a string".
 * Any thread. */
inline std::string_view describe(NodeType type) noexcept {
    switch (type) {
        case NodeType::None: return "nothing";
        case NodeType::String: return "a string";
        case NodeType::Integer: return "an integer";
        case NodeType::Float: return "a float";
        case NodeType::Boolean: return "a boolean";
        case NodeType::Array: return "an array";
        case NodeType::Table: return "a table";
        case NodeType::Other: return "a date or time";
    }
    return "an unknown value";
}

/** One value of the plugin's configuration: a table, an array or a scalar, or "absent".
 *
 * A cheap copyable handle. Valid only during the plugin's `create` call, which runs on the host's
 * control thread; never keep a Node (or a string_view read from one) after `create` returns: copy
 * what you need into your object.
 *
 * An absent Node (a missing key, an out-of-range index) answers every query with "nothing" and
 * reports error() at the position of the table or array it was looked up in, so
 * `config.get("targets").error("needs 'targets'")` points at the right place. */
class Node {
public:
    /** An absent node that is not attached to any configuration (error() does nothing). */
    Node() noexcept = default;

    /** The value's type; NodeType::None when absent. Control thread, during create. */
    NodeType type() const noexcept {
        if (node_ == nullptr || config_ == nullptr) return NodeType::None;
        return static_cast<NodeType>(config_->type(config_->ctx, node_));
    }
    /** Whether the value exists. Control thread, during create. */
    bool present() const noexcept { return type() != NodeType::None; }
    /** Same as present(). */
    explicit operator bool() const noexcept { return present(); }

    /** Looks `key` up in this table and marks it as known (so the host does not report it as
     * unknown). Absent when this is not a table or the key is missing. Control thread, during
     * create. */
    Node get(std::string_view key) const noexcept {
        if (node_ == nullptr || config_ == nullptr) return Node(config_, nullptr, anchor(), errors_);
        const postern_node* child = config_->get(config_->ctx, node_, str(key));
        return Node(config_, child, node_, errors_);
    }

    /** Number of elements of an array; 0 for anything else. Control thread, during create. */
    std::size_t size() const noexcept {
        if (node_ == nullptr || config_ == nullptr) return 0;
        return config_->size(config_->ctx, node_);
    }
    /** Element `index` of an array; absent when out of range or not an array. Control thread,
     * during create. */
    Node at(std::size_t index) const noexcept {
        if (node_ == nullptr || config_ == nullptr) return Node(config_, nullptr, anchor(), errors_);
        return Node(config_, config_->at(config_->ctx, node_, index), node_, errors_);
    }

    /** The string, when this is exactly a string. The view lives as long as the configuration:
     * copy it before create returns. Control thread, during create. */
    std::optional<std::string_view> asString() const noexcept {
        postern_str out{nullptr, 0};
        if (node_ == nullptr || config_ == nullptr || !config_->as_string(config_->ctx, node_, &out))
            return std::nullopt;
        return view(out);
    }
    /** The integer, when this is exactly an integer. Control thread, during create. */
    std::optional<std::int64_t> asInteger() const noexcept {
        std::int64_t out = 0;
        if (node_ == nullptr || config_ == nullptr || !config_->as_integer(config_->ctx, node_, &out))
            return std::nullopt;
        return out;
    }
    /** The number, when this is exactly a float (an integer is not a float). Control thread,
     * during create. */
    std::optional<double> asFloat() const noexcept {
        double out = 0;
        if (node_ == nullptr || config_ == nullptr || !config_->as_float(config_->ctx, node_, &out))
            return std::nullopt;
        return out;
    }
    /** The boolean, when this is exactly a boolean. Control thread, during create. */
    std::optional<bool> asBoolean() const noexcept {
        int out = 0;
        if (node_ == nullptr || config_ == nullptr || !config_->as_boolean(config_->ctx, node_, &out))
            return std::nullopt;
        return out != 0;
    }
    /** The string as a file path, when this is exactly a string: a relative path is resolved
     * against the directory of the main configuration file (as the core does for every path in
     * it), so the plugin never depends on the current directory. The view lives as long as the
     * configuration: copy it before create returns. Control thread, during create. */
    std::optional<std::string_view> asPath() const noexcept {
        if (node_ == nullptr || config_ == nullptr) return std::nullopt;
        if (config_->as_path == nullptr) return asString();  // a host without the resolver
        postern_str out{nullptr, 0};
        if (!config_->as_path(config_->ctx, node_, &out)) return std::nullopt;
        return view(out);
    }
    /** A duration ("250ms", "30s", "4m", "1h", or an integer number of seconds) in milliseconds.
     * When the value is present but not a valid duration, the host has already reported a
     * positioned error (it counts towards Config::errorCount()) and this returns nullopt.
     * Control thread, during create. */
    std::optional<std::int64_t> asDurationMs() const noexcept {
        if (node_ == nullptr || config_ == nullptr) return std::nullopt;
        std::int64_t out = 0;
        if (!config_->as_duration_ms(config_->ctx, node_, &out)) {
            if (errors_ != nullptr) ++*errors_;
            return std::nullopt;
        }
        return out;
    }

    /** Reports a configuration error at this value's file:line:column (for an absent value: at the
     * table or array it was looked up in). Any error makes the whole configuration invalid; report
     * every problem you find, then return nullptr from create. Control thread, during create. */
    void error(std::string_view message) const noexcept {
        if (config_ == nullptr) return;
        config_->error(config_->ctx, node_ != nullptr ? node_ : anchor_, str(message));
        if (errors_ != nullptr) ++*errors_;
    }

    /** The opaque ABI handle (NULL when absent). Control thread, during create. */
    const postern_node* raw() const noexcept { return node_; }

protected:
    Node(const postern_config* config, const postern_node* node, const postern_node* anchor,
         std::size_t* errors) noexcept
        : config_(config), node_(node), anchor_(anchor), errors_(errors) {}

private:
    const postern_node* anchor() const noexcept { return node_ != nullptr ? node_ : anchor_; }

    const postern_config* config_ = nullptr;
    const postern_node* node_ = nullptr;    // the value, NULL when absent
    const postern_node* anchor_ = nullptr;  // where an absent value's errors are reported
    std::size_t* errors_ = nullptr;         // the owning Config's error counter
};

/** The plugin's own table (the root Node), plus a count of the errors reported through it.
 * Handed to the plugin's `create` by reference; valid only during that call, on the host's control
 * thread. Not copyable: the Nodes taken from it point at its error counter. */
class Config : public Node {
public:
    /** Wraps the host's configuration view (`config` may be NULL: an empty, error-less config). */
    explicit Config(const postern_config* config) noexcept
        : Node(config, config != nullptr ? config->root : nullptr,
               config != nullptr ? config->root : nullptr, &errors_),
          raw_(config) {}
    Config(const Config&) = delete;
    Config& operator=(const Config&) = delete;

    /** How many errors were reported through this configuration (error() on any of its nodes, or
     * an invalid duration). Control thread, during create. */
    std::size_t errorCount() const noexcept { return errors_; }
    /** errorCount() == 0. Control thread, during create. */
    bool ok() const noexcept { return errors_ == 0; }
    /** The underlying ABI table. Control thread, during create. */
    const postern_config* rawConfig() const noexcept { return raw_; }

private:
    std::size_t errors_ = 0;
    const postern_config* raw_;
};

}  // namespace postern::sdk
