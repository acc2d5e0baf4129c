#include "config/table_reader.h"

#include <algorithm>

#include "common/duration.h"

namespace postern::config {

namespace {

std::string quoteKey(std::string_view s) { return "'" + std::string(s) + "'"; }

// Same bound as common::parseDuration applies to its number: far beyond any useful timeout, and
// seconds * 1000 cannot overflow.
constexpr std::int64_t kMaxDurationSeconds = std::int64_t{1} << 40;

}  // namespace

std::string quotedList(std::initializer_list<std::string_view> items) {
    std::string out;
    std::size_t i = 0;
    for (auto item : items) {
        if (i > 0) out += (i + 1 == items.size()) ? " or " : ", ";
        out += "\"" + std::string(item) + "\"";
        ++i;
    }
    return out;
}

std::optional<Millis> readDuration(const toml::node& node, std::string_view name, Diagnostics& diag,
                                   DurationRules rules) {
    const std::string key = quoteKey(name);
    if (const auto* s = node.as_string()) {
        const std::string& text = s->get();
        if (rules.allow_unlimited && text == "unlimited") return kUnlimited;
        std::string why;
        auto d = common::parseDuration(text, &why);
        if (!d) {
            diag.error(node, key + ": " + why);
            return std::nullopt;
        }
        if (rules.positive && d->count() == 0) {
            diag.error(node, key + " must be greater than 0");
            return std::nullopt;
        }
        return d;
    }
    if (const auto* i = node.as_integer()) {
        const std::int64_t seconds = i->get();
        if (seconds < 0) {
            diag.error(node, key + " must not be negative, got " + std::to_string(seconds));
            return std::nullopt;
        }
        if (seconds > kMaxDurationSeconds) {
            diag.error(node, key + " is too large: " + std::to_string(seconds) + " seconds");
            return std::nullopt;
        }
        if (rules.positive && seconds == 0) {
            diag.error(node, key + " must be greater than 0");
            return std::nullopt;
        }
        return Millis(seconds * 1000);
    }
    diag.error(node, key + " must be a duration string like \"30s\"" +
                         (rules.allow_unlimited ? std::string(", \"unlimited\"") : std::string()) +
                         " or an integer number of seconds, not " + std::string(typeName(node)));
    return std::nullopt;
}

TableReader::TableReader(const toml::table* table, std::string context, SourcePos pos,
                         Diagnostics& diag)
    : table_(table), context_(std::move(context)), pos_(pos), diag_(diag) {}

const toml::node* TableReader::get(std::string_view key) {
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
    return table_ ? table_->get(key) : nullptr;
}

SourcePos TableReader::valuePos(std::string_view key) const {
    const toml::node* n = table_ ? table_->get(key) : nullptr;
    return n ? positionOf(*n, pos_) : pos_;
}

void TableReader::wrongType(const toml::node& node, std::string_view key,
                            std::string_view expected) {
    diag_.error(node, quoteKey(key) + " must be " + std::string(expected) + ", not " +
                          std::string(typeName(node)));
}

std::optional<std::string> TableReader::string(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    if (const auto* s = n->as_string()) return s->get();
    wrongType(*n, key, "a string");
    return std::nullopt;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min,
                                                 std::int64_t max) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    const auto* i = n->as_integer();
    if (!i) {
        wrongType(*n, key, "an integer");
        return std::nullopt;
    }
    const std::int64_t v = i->get();
    if (v < min || v > max) {
        if (max == std::numeric_limits<std::int64_t>::max())
            diag_.error(*n, quoteKey(key) + " must be at least " + std::to_string(min) + ", got " +
                                std::to_string(v));
        else
            diag_.error(*n, quoteKey(key) + " must be from " + std::to_string(min) + " to " +
                                std::to_string(max) + ", got " + std::to_string(v));
        return std::nullopt;
    }
    return v;
}

std::optional<bool> TableReader::boolean(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    if (const auto* b = n->as_boolean()) return b->get();
    wrongType(*n, key, "a boolean (true or false)");
    return std::nullopt;
}

std::optional<double> TableReader::floating(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    if (const auto* f = n->as_floating_point()) return f->get();
    wrongType(*n, key, "a float (e.g. 0.8)");
    return std::nullopt;
}

std::optional<Millis> TableReader::duration(std::string_view key, DurationRules rules) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    return readDuration(*n, key, diag_, rules);
}

std::optional<std::vector<TableReader::StringItem>> TableReader::stringArray(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return std::nullopt;
    const auto* arr = n->as_array();
    if (!arr) {
        wrongType(*n, key, "an array of strings");
        return std::nullopt;
    }
    std::vector<StringItem> out;
    bool ok = true;
    for (const auto& element : *arr) {
        if (const auto* s = element.as_string()) {
            out.push_back(StringItem{s->get(), positionOf(element, positionOf(*n))});
        } else {
            diag_.error(element, "each element of " + quoteKey(key) + " must be a string, not " +
                                     std::string(typeName(element)));
            ok = false;
        }
    }
    if (!ok) return std::nullopt;
    return out;
}

const toml::table* TableReader::table(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    if (const auto* t = n->as_table()) return t;
    wrongType(*n, key, "a table");
    return nullptr;
}

const toml::array* TableReader::arrayOfTables(std::string_view key) {
    const toml::node* n = get(key);
    if (!n) return nullptr;
    const auto* arr = n->as_array();
    if (!arr) {
        diag_.error(*n, quoteKey(key) + " must be an array of tables ([[" + std::string(key) +
                            "]]), not " + std::string(typeName(*n)));
        return nullptr;
    }
    bool ok = true;
    for (const auto& element : *arr) {
        if (!element.is_table()) {
            diag_.error(element, "each element of " + quoteKey(key) + " must be a table, not " +
                                     std::string(typeName(element)));
            ok = false;
        }
    }
    return ok ? arr : nullptr;
}

bool TableReader::require(std::string_view key) {
    if (get(key)) return true;
    diag_.error(pos_, context_ + " is missing required key " + quoteKey(key));
    return false;
}

void TableReader::notSupported(std::string_view key, std::string_view what) {
    diag_.error(valuePos(key), quoteKey(key) + " is not supported yet (" + std::string(what) + ")");
}

void TableReader::invalidChoice(std::string_view key, std::string_view value,
                                std::initializer_list<std::string_view> allowed) {
    diag_.error(valuePos(key), quoteKey(key) + " must be " + quotedList(allowed) + ", not \"" +
                                   std::string(value) + "\"");
}

void TableReader::finish() {
    if (!table_) return;
    for (auto&& [key, value] : *table_) {
        const std::string_view name = key.str();
        if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
        std::string message = context_.empty()
                                  ? "unknown top-level key " + quoteKey(name)
                                  : "unknown key " + quoteKey(name) + " in " + context_;
        if (auto suggestion = suggestKey(name, known_); !suggestion.empty())
            message += "; did you mean " + quoteKey(suggestion) + "?";
        diag_.error(positionOf(key, positionOf(value, pos_)), std::move(message));
    }
}

}  // namespace postern::config
