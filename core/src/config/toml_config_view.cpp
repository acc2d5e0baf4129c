#include "config/toml_config_view.h"

#include <algorithm>

#include "config/table_reader.h"

namespace postern::config {

TomlConfigView::TomlConfigView(const toml::table* table, std::string context, std::string owner,
                               SourcePos pos, std::vector<std::string> core_keys, Diagnostics& diag,
                               std::filesystem::path base_dir)
    : table_(table ? table : &empty_),
      context_(std::move(context)),
      owner_(std::move(owner)),
      pos_(pos),
      core_keys_(std::move(core_keys)),
      diag_(diag),
      base_dir_(std::move(base_dir)) {
    abi_.ctx = this;
    abi_.root = handle(table_);
    abi_.type = &TomlConfigView::type;
    abi_.get = &TomlConfigView::get;
    abi_.size = &TomlConfigView::size;
    abi_.at = &TomlConfigView::at;
    abi_.as_string = &TomlConfigView::asString;
    abi_.as_integer = &TomlConfigView::asInteger;
    abi_.as_float = &TomlConfigView::asFloat;
    abi_.as_boolean = &TomlConfigView::asBoolean;
    abi_.as_duration_ms = &TomlConfigView::asDurationMs;
    abi_.error = &TomlConfigView::error;
    abi_.as_path = &TomlConfigView::asPath;
}

postern_node_type TomlConfigView::type(void*, const postern_node* h) noexcept {
    const toml::node* n = node(h);
    if (!n) return POSTERN_NODE_NONE;
    switch (n->type()) {
        case toml::node_type::string:
            return POSTERN_NODE_STRING;
        case toml::node_type::integer:
            return POSTERN_NODE_INTEGER;
        case toml::node_type::floating_point:
            return POSTERN_NODE_FLOAT;
        case toml::node_type::boolean:
            return POSTERN_NODE_BOOLEAN;
        case toml::node_type::array:
            return POSTERN_NODE_ARRAY;
        case toml::node_type::table:
            return POSTERN_NODE_TABLE;
        case toml::node_type::date:
        case toml::node_type::time:
        case toml::node_type::date_time:
            return POSTERN_NODE_OTHER;
        case toml::node_type::none:
            break;
    }
    return POSTERN_NODE_NONE;
}

const postern_node* TomlConfigView::get(void* ctx, const postern_node* h,
                                        postern_str key) noexcept {
    auto* self = static_cast<TomlConfigView*>(ctx);
    const toml::node* n = node(h);
    if (!self || !n || (!key.data && key.size)) return nullptr;
    const auto* table = n->as_table();
    if (!table) return nullptr;
    try {
        const std::string_view name(key.data ? key.data : "", key.size);
        if (table == self->table_ && std::find(self->core_keys_.begin(), self->core_keys_.end(),
                                               name) != self->core_keys_.end())
            return nullptr;
        auto& asked = self->asked_[table];
        if (std::find(asked.begin(), asked.end(), name) == asked.end()) asked.emplace_back(name);
        const toml::node* child = table->get(name);
        if (!child) return nullptr;
        self->read_.insert(child);
        if (!self->names_.count(child)) {
            const std::string parent = table == self->table_ ? std::string() : self->nameOf(table);
            self->names_.emplace(
                child, parent.empty() ? std::string(name) : parent + "." + std::string(name));
        }
        return handle(child);
    } catch (...) {
        // Out of memory while recording the lookup: the plugin sees an absent key and most
        // likely reports it missing, which fails the load safely.
        return nullptr;
    }
}

size_t TomlConfigView::size(void*, const postern_node* h) noexcept {
    const toml::node* n = node(h);
    if (!n) return 0;
    const auto* arr = n->as_array();
    return arr ? arr->size() : 0;
}

const postern_node* TomlConfigView::at(void* ctx, const postern_node* h, size_t index) noexcept {
    auto* self = static_cast<TomlConfigView*>(ctx);
    const toml::node* n = node(h);
    if (!self || !n) return nullptr;
    const auto* arr = n->as_array();
    if (!arr || index >= arr->size()) return nullptr;
    const toml::node* element = arr->get(index);
    try {
        if (element && !self->names_.count(element))
            self->names_.emplace(element, self->nameOf(n) + "[" + std::to_string(index) + "]");
    } catch (...) {
        // Only the name used in messages is lost.
    }
    return handle(element);
}

int TomlConfigView::asString(void*, const postern_node* h, postern_str* out) noexcept {
    const toml::node* n = node(h);
    if (!n || !out) return 0;
    const auto* s = n->as_string();
    if (!s) return 0;
    out->data = s->get().data();
    out->size = s->get().size();
    return 1;
}

int TomlConfigView::asInteger(void*, const postern_node* h, int64_t* out) noexcept {
    const toml::node* n = node(h);
    if (!n || !out) return 0;
    const auto* i = n->as_integer();
    if (!i) return 0;
    *out = i->get();
    return 1;
}

int TomlConfigView::asFloat(void*, const postern_node* h, double* out) noexcept {
    const toml::node* n = node(h);
    if (!n || !out) return 0;
    const auto* f = n->as_floating_point();
    if (!f) return 0;
    *out = f->get();
    return 1;
}

int TomlConfigView::asBoolean(void*, const postern_node* h, int* out) noexcept {
    const toml::node* n = node(h);
    if (!n || !out) return 0;
    const auto* b = n->as_boolean();
    if (!b) return 0;
    *out = b->get() ? 1 : 0;
    return 1;
}

int TomlConfigView::asDurationMs(void* ctx, const postern_node* h, int64_t* out_ms) noexcept {
    auto* self = static_cast<TomlConfigView*>(ctx);
    const toml::node* n = node(h);
    if (!self || !n || !out_ms) return 0;
    try {
        const std::size_t before = self->diag_.count();
        auto d = readDuration(*n, self->nameOf(n), self->diag_);
        self->errors_reported_ += self->diag_.count() - before;
        if (!d) return 0;
        *out_ms = d->count();
        return 1;
    } catch (...) {
        return 0;
    }
}

int TomlConfigView::asPath(void* ctx, const postern_node* h, postern_str* out) noexcept {
    auto* self = static_cast<TomlConfigView*>(ctx);
    const toml::node* n = node(h);
    if (!self || !n || !out) return 0;
    const auto* s = n->as_string();
    if (!s) return 0;
    try {
        // The same rule as every path the core reads (ConfigReader::resolvePath).
        std::filesystem::path p(s->get());
        if (p.is_relative() && !self->base_dir_.empty()) p = self->base_dir_ / p;
        self->paths_.push_back(p.lexically_normal().string());
        out->data = self->paths_.back().data();
        out->size = self->paths_.back().size();
        return 1;
    } catch (...) {
        return 0;  // out of memory: the plugin sees "not a string" and reports it
    }
}

void TomlConfigView::error(void* ctx, const postern_node* h, postern_str message) noexcept {
    auto* self = static_cast<TomlConfigView*>(ctx);
    if (!self) return;
    try {
        const toml::node* n = node(h);
        const SourcePos pos = (n && n != self->table_) ? positionOf(*n, self->pos_) : self->pos_;
        std::string text = message.data ? std::string(message.data, message.size) : std::string();
        if (text.empty()) text = self->owner_ + " reported an error without a message";
        self->diag_.error(pos, std::move(text));
        ++self->errors_reported_;
    } catch (...) {
        // Cannot record it (out of memory): still count it so the load fails.
        ++self->errors_reported_;
    }
}

std::string TomlConfigView::nameOf(const toml::node* n) const {
    auto it = names_.find(n);
    return it != names_.end() ? it->second : std::string("value");
}

void TomlConfigView::reportUnusedKeys() { reportUnusedIn(*table_, true); }

void TomlConfigView::reportUnusedIn(const toml::table& table, bool is_root) {
    for (auto&& [key, value] : table) {
        const std::string_view name = key.str();
        if (is_root && std::find(core_keys_.begin(), core_keys_.end(), name) != core_keys_.end())
            continue;
        if (read_.count(&value)) {
            walkUnused(value);
            continue;
        }
        std::string message = "unknown key '" + std::string(name) + "' in " + context_ +
                              " (not used by " + owner_ + ")";
        std::vector<std::string> candidates;
        if (auto it = asked_.find(&table); it != asked_.end()) candidates = it->second;
        if (is_root) candidates.insert(candidates.end(), core_keys_.begin(), core_keys_.end());
        if (auto suggestion = suggestKey(name, candidates); !suggestion.empty())
            message += "; did you mean '" + suggestion + "'?";
        diag_.error(positionOf(key, positionOf(value, pos_)), std::move(message));
    }
}

void TomlConfigView::walkUnused(const toml::node& value) {
    if (const auto* t = value.as_table()) {
        reportUnusedIn(*t, false);
    } else if (const auto* arr = value.as_array()) {
        for (const auto& element : *arr) walkUnused(element);
    }
}

}  // namespace postern::config
