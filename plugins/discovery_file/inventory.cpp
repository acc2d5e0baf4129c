#include "discovery_file/inventory.h"

#include <toml++/toml.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "config/toml_guard.h"
#include "discovery_static/static_targets.h"

namespace postern::plugins::file_discovery {

namespace {

constexpr std::int64_t kMaxWeight = static_discovery::kMaxWeight;
constexpr std::int64_t kMaxUint32 = std::numeric_limits<std::uint32_t>::max();

struct Pos {
    std::uint32_t line = 1;
    std::uint32_t column = 1;
};

Pos posOf(const toml::source_region& region) {
    return {region.begin.line ? region.begin.line : 1,
            region.begin.column ? region.begin.column : 1};
}

std::string_view typeName(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

/** Edit distance with transpositions, for "did you mean" (small words only). */
std::size_t distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

std::string suggestion(std::string_view word, std::initializer_list<std::string_view> known) {
    if (word.size() > 64) return {};
    for (std::string_view k : known) {
        const std::size_t limit = k.size() >= 8 ? 2 : 1;
        if (distance(word, k) <= limit) return "; did you mean '" + std::string(k) + "'?";
    }
    return {};
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return s;
}

class Validator {
public:
    explicit Validator(const std::string& path) : path_(path) {}

    void error(Pos pos, std::string message) {
        errors_.push_back({pos, path_ + ":" + std::to_string(pos.line) + ":" +
                                    std::to_string(pos.column) + ": " + std::move(message)});
    }
    void error(const toml::node& node, std::string message) {
        error(posOf(node.source()), std::move(message));
    }

    std::optional<std::vector<InventoryTarget>> validate(const toml::table& root) {
        const toml::node* targets = nullptr;
        for (auto&& [key, value] : root) {
            if (key.str() == "target") {
                targets = &value;
                continue;
            }
            error(posOf(key.source()), "unknown key '" + std::string(key.str()) +
                                           "' (an inventory has only [[target]] tables)" +
                                           suggestion(key.str(), {"target"}));
        }
        std::vector<InventoryTarget> out;
        if (!targets) {
            // An empty file is more often one being written than a wish to drop every backend.
            error(Pos{1, 1},
                  "no [[target]] tables (write `target = []` for an inventory that "
                  "deliberately has no backends)");
        } else if (const auto* array = targets->as_array()) {
            for (const auto& element : *array) {
                if (const auto* table = element.as_table()) {
                    readTarget(*table, out);
                } else {
                    error(element,
                          "each target must be a table ([[target]] with address = "
                          "\"host:port\"), not " +
                              std::string(typeName(element)));
                }
            }
        } else {
            error(*targets, "'target' must be an array of tables ([[target]]), not " +
                                std::string(typeName(*targets)));
        }
        if (!errors_.empty()) return std::nullopt;
        return out;
    }

    std::vector<std::string> sortedErrors() {
        std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
            return a.first.line != b.first.line ? a.first.line < b.first.line
                                                : a.first.column < b.first.column;
        });
        std::vector<std::string> lines;
        for (auto& e : errors_) lines.push_back(std::move(e.second));
        return lines;
    }

private:
    /** An integer in [min, max], or nullopt after reporting why. */
    std::optional<std::int64_t> integer(const toml::node& node, std::string_view key,
                                        std::int64_t min, std::int64_t max,
                                        std::string_view range) {
        const auto* v = node.as_integer();
        if (!v) {
            error(node,
                  std::string(key) + " must be an integer, not " + std::string(typeName(node)));
            return std::nullopt;
        }
        if (v->get() < min || v->get() > max) {
            error(node, std::string(key) + " must be " + std::string(range) + ", got " +
                            std::to_string(v->get()));
            return std::nullopt;
        }
        return v->get();
    }

    void readTarget(const toml::table& table, std::vector<InventoryTarget>& out) {
        const std::size_t errors_before = errors_.size();
        InventoryTarget t;
        const toml::node* address = nullptr;
        for (auto&& [key, value] : table) {
            const std::string_view k = key.str();
            if (k == "address") {
                address = &value;
            } else if (k == "weight") {
                if (auto v =
                        integer(value, k, 1, kMaxWeight, "from 1 to " + std::to_string(kMaxWeight)))
                    t.weight = static_cast<std::uint32_t>(*v);
            } else if (k == "max_connections") {
                if (auto v = integer(value, k, 0, kMaxUint32,
                                     "from 0 (unlimited) to " + std::to_string(kMaxUint32)))
                    t.max_connections = static_cast<std::uint32_t>(*v);
            } else if (k == "priority") {
                if (auto v = integer(value, k, 0, kMaxPriority,
                                     "from 0 (best) to " + std::to_string(kMaxPriority)))
                    t.priority = static_cast<std::uint32_t>(*v);
            } else if (k == "region") {
                if (const auto* s = value.as_string())
                    t.region = s->get();
                else
                    error(value, "region must be a string, not " + std::string(typeName(value)));
            } else {
                error(posOf(key.source()),
                      "unknown key '" + std::string(k) + "' in [[target]]" +
                          suggestion(
                              k, {"address", "weight", "max_connections", "region", "priority"}));
            }
        }
        if (!address) {
            error(table, "a [[target]] needs 'address' (\"host:port\")");
        } else if (const auto* s = address->as_string()) {
            std::string why;
            if (auto parsed = static_discovery::parseAddress(s->get(), why)) {
                t.host = std::move(parsed->host);
                t.port = parsed->port;
            } else {
                error(*address, why);
            }
        } else {
            error(*address, "address must be a string (\"host:port\"), not " +
                                std::string(typeName(*address)));
        }
        if (!t.host.empty()) {
            // A target with other problems still claims its address, so a later copy is reported.
            std::string key = lower(displayAddress(t));
            const auto dup = std::find_if(seen_.begin(), seen_.end(),
                                          [&](const auto& s) { return s.first == key; });
            if (dup != seen_.end())
                error(*address, "duplicate target " + displayAddress(t) + " (already at line " +
                                    std::to_string(dup->second.line) + ")");
            else
                seen_.emplace_back(std::move(key), posOf(address->source()));
        }
        if (errors_.size() != errors_before) return;
        out.push_back(std::move(t));
    }

    const std::string& path_;
    std::vector<std::pair<Pos, std::string>> errors_;
    std::vector<std::pair<std::string, Pos>> seen_;
};

}  // namespace

std::string displayAddress(const InventoryTarget& t) {
    std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
    return t.port != 0 ? host + ":" + std::to_string(t.port) : host;
}

ParsedInventory parseInventory(std::string_view text, const std::string& display_path) noexcept {
    ParsedInventory result;
    try {
        // toml++ 3.3 reaches __builtin_unreachable() on some non-ASCII characters outside strings:
        // an inventory is written by other tools (and people), so refuse those first, as the core
        // does for its own file.
        if (auto hazard = config::findTomlParserHazard(text)) {
            result.errors.push_back(display_path + ":" + std::to_string(hazard->pos.line) + ":" +
                                    std::to_string(hazard->pos.column) + ": " + hazard->message);
            return result;
        }
        toml::table root;
        try {
            root = toml::parse(text, display_path);
        } catch (const toml::parse_error& e) {
            // The parser stops at its first error: a syntax error is always reported alone.
            const Pos pos = posOf(e.source());
            result.errors.push_back(display_path + ":" + std::to_string(pos.line) + ":" +
                                    std::to_string(pos.column) + ": " +
                                    std::string(e.description()));
            return result;
        }
        Validator v(display_path);
        result.targets = v.validate(root);
        result.errors = v.sortedErrors();
        return result;
    } catch (...) {
        // Out of memory (the only exception left): never a half-read inventory.
        result.targets.reset();
        result.errors.clear();
        try {
            result.errors.push_back(display_path +
                                    ":1:1: cannot parse the inventory (out of memory)");
        } catch (...) {
        }
        return result;
    }
}

}  // namespace postern::plugins::file_discovery
