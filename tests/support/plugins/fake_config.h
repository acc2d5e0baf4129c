// A test double for the host side of the plugin ABI: a postern_config over an in-memory tree, a
// discovery sink and a probe output that record what the plugin did. Each node's "position" is
// its path in the tree ("targets[1].weight"), so tests can assert where an error was reported.
// Mimics the real host: keys never looked up with `get` are reported as unknown afterwards.
// Header-only; test code, single thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/plugin/abi.h"

namespace postern::testing {

/** A TOML-like value for building fake configurations. */
class Value {
public:
    static Value string(std::string s) { Value v(POSTERN_NODE_STRING); v.s_ = std::move(s); return v; }
    static Value integer(std::int64_t i) { Value v(POSTERN_NODE_INTEGER); v.i_ = i; return v; }
    static Value floating(double f) { Value v(POSTERN_NODE_FLOAT); v.f_ = f; return v; }
    static Value boolean(bool b) { Value v(POSTERN_NODE_BOOLEAN); v.b_ = b; return v; }
    static Value date() { return Value(POSTERN_NODE_OTHER); }
    static Value array(std::vector<Value> elements) {
        Value v(POSTERN_NODE_ARRAY);
        v.elements_ = std::move(elements);
        return v;
    }
    static Value table(std::vector<std::pair<std::string, Value>> members) {
        Value v(POSTERN_NODE_TABLE);
        v.members_ = std::move(members);
        return v;
    }

private:
    friend class FakeConfig;
    explicit Value(postern_node_type t) : type_(t) {}
    postern_node_type type_;
    std::string s_;
    std::int64_t i_ = 0;
    double f_ = 0;
    bool b_ = false;
    std::vector<Value> elements_;
    std::vector<std::pair<std::string, Value>> members_;
};

/** Owns the tree and the postern_config table over it. Not copyable (the table points at it). */
class FakeConfig {
public:
    struct Error {
        std::string position;  ///< "" for the root table, else e.g. "targets[2].weight"
        std::string message;
    };

    explicit FakeConfig(Value root = Value::table({})) : root_(build(root, "")) {
        config_.ctx = this;
        config_.root = handle(root_.get());
        config_.type = &typeOf;
        config_.get = &get;
        config_.size = &size;
        config_.at = &at;
        config_.as_string = &asString;
        config_.as_integer = &asInteger;
        config_.as_float = &asFloat;
        config_.as_boolean = &asBoolean;
        config_.as_duration_ms = &asDurationMs;
        config_.error = &error;
    }
    FakeConfig(const FakeConfig&) = delete;
    FakeConfig& operator=(const FakeConfig&) = delete;

    const postern_config* raw() const { return &config_; }

    /** Errors the plugin reported, in order. */
    const std::vector<Error>& errors() const { return errors_; }

    /** What the real host does after create: every table key nobody looked up is an error. */
    void reportUnknownKeys() { reportUnknown(*root_); }

    /** "position: message" lines, for readable assertions. */
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        for (const auto& e : errors_)
            out.push_back((e.position.empty() ? std::string("<root>") : e.position) + ": " + e.message);
        return out;
    }

private:
    struct Node {
        postern_node_type type = POSTERN_NODE_NONE;
        std::string path;
        std::string s;
        std::int64_t i = 0;
        double f = 0;
        bool b = false;
        std::vector<std::unique_ptr<Node>> elements;
        std::vector<std::pair<std::string, std::unique_ptr<Node>>> members;
        std::vector<bool> looked_up;  // per member
    };

    static std::unique_ptr<Node> build(const Value& v, const std::string& path) {
        auto n = std::make_unique<Node>();
        n->type = v.type_;
        n->path = path;
        n->s = v.s_;
        n->i = v.i_;
        n->f = v.f_;
        n->b = v.b_;
        for (std::size_t k = 0; k < v.elements_.size(); ++k)
            n->elements.push_back(build(v.elements_[k], path + "[" + std::to_string(k) + "]"));
        for (const auto& [key, value] : v.members_)
            n->members.emplace_back(key, build(value, path.empty() ? key : path + "." + key));
        n->looked_up.assign(n->members.size(), false);
        return n;
    }

    void reportUnknown(Node& n) {
        for (std::size_t k = 0; k < n.members.size(); ++k)
            if (!n.looked_up[k])
                errors_.push_back({n.members[k].second->path, "unknown key '" + n.members[k].first + "'"});
        for (auto& [key, child] : n.members) reportUnknown(*child);
        for (auto& child : n.elements) reportUnknown(*child);
    }

    static const postern_node* handle(const Node* n) { return reinterpret_cast<const postern_node*>(n); }
    static Node* node(const postern_node* n) { return const_cast<Node*>(reinterpret_cast<const Node*>(n)); }
    static FakeConfig* self(void* ctx) { return static_cast<FakeConfig*>(ctx); }

    static postern_node_type typeOf(void*, const postern_node* n) noexcept {
        return n ? node(n)->type : POSTERN_NODE_NONE;
    }
    static const postern_node* get(void*, const postern_node* table, postern_str key) noexcept {
        Node* t = node(table);
        if (!t || t->type != POSTERN_NODE_TABLE) return nullptr;
        std::string_view k(key.data, key.size);
        for (std::size_t i = 0; i < t->members.size(); ++i)
            if (t->members[i].first == k) {
                t->looked_up[i] = true;
                return handle(t->members[i].second.get());
            }
        return nullptr;
    }
    static size_t size(void*, const postern_node* array) noexcept {
        Node* a = node(array);
        return a && a->type == POSTERN_NODE_ARRAY ? a->elements.size() : 0;
    }
    static const postern_node* at(void*, const postern_node* array, size_t index) noexcept {
        Node* a = node(array);
        if (!a || a->type != POSTERN_NODE_ARRAY || index >= a->elements.size()) return nullptr;
        return handle(a->elements[index].get());
    }
    static int asString(void*, const postern_node* n, postern_str* out) noexcept {
        if (!n || node(n)->type != POSTERN_NODE_STRING) return 0;
        *out = postern_str{node(n)->s.data(), node(n)->s.size()};
        return 1;
    }
    static int asInteger(void*, const postern_node* n, std::int64_t* out) noexcept {
        if (!n || node(n)->type != POSTERN_NODE_INTEGER) return 0;
        *out = node(n)->i;
        return 1;
    }
    static int asFloat(void*, const postern_node* n, double* out) noexcept {
        if (!n || node(n)->type != POSTERN_NODE_FLOAT) return 0;
        *out = node(n)->f;
        return 1;
    }
    static int asBoolean(void*, const postern_node* n, int* out) noexcept {
        if (!n || node(n)->type != POSTERN_NODE_BOOLEAN) return 0;
        *out = node(n)->b ? 1 : 0;
        return 1;
    }
    static int asDurationMs(void* ctx, const postern_node* n, std::int64_t* out) noexcept {
        if (!n) return 0;
        const Node* d = node(n);
        if (d->type == POSTERN_NODE_INTEGER && d->i >= 0) {
            *out = d->i * 1000;
            return 1;
        }
        if (d->type == POSTERN_NODE_STRING) {
            std::string_view s = d->s;
            std::size_t digits = s.find_first_not_of("0123456789");
            if (digits != 0 && digits != std::string_view::npos) {
                std::int64_t v = std::stoll(std::string(s.substr(0, digits)));
                std::string_view unit = s.substr(digits);
                std::int64_t scale = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000
                                   : unit == "h" ? 3600000 : 0;
                if (scale != 0) {
                    *out = v * scale;
                    return 1;
                }
            }
        }
        self(ctx)->errors_.push_back({d->path, "invalid duration"});
        return 0;
    }
    static void error(void* ctx, const postern_node* n, postern_str message) noexcept {
        const Node* at = n ? node(n) : self(ctx)->root_.get();
        self(ctx)->errors_.push_back({at->path, std::string(message.data, message.size)});
    }

    std::unique_ptr<Node> root_;
    postern_config config_{};
    std::vector<Error> errors_;
};

/** A discovery sink that records one round. */
struct FakeSink {
    struct Target {
        std::string host;
        std::uint16_t port;
        std::uint32_t weight;
        std::uint32_t max_connections;
        std::string region;
        std::uint32_t priority = 0;
    };
    std::vector<Target> targets;
    std::vector<std::string> failures;
    postern_discovery_sink sink{this, &add, &fail};

    static void add(void* ctx, const postern_target* t) noexcept {
        static_cast<FakeSink*>(ctx)->targets.push_back(
            {std::string(t->host.data, t->host.size), t->port, t->weight, t->max_connections,
             std::string(t->region.data, t->region.size), t->priority});
    }
    static void fail(void* ctx, postern_str reason) noexcept {
        static_cast<FakeSink*>(ctx)->failures.emplace_back(reason.data, reason.size);
    }
};

/** A host whose log lines are recorded. */
struct FakeHost {
    std::vector<std::pair<postern_log_level, std::string>> lines;
    postern_host host{this, &log};
    static void log(void* ctx, postern_log_level level, postern_str message) noexcept {
        static_cast<FakeHost*>(ctx)->lines.emplace_back(level, std::string(message.data, message.size));
    }
};

/** A backend for snapshots and probe sessions; the strings must outlive the use. */
inline postern_backend backend(std::string_view host, std::uint16_t port, std::uint32_t weight = 1) {
    return postern_backend{0, {host.data(), host.size()}, {host.data(), host.size()}, port, weight, 0,
                           {nullptr, 0}};
}

}  // namespace postern::testing
