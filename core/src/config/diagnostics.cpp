#include "config/diagnostics.h"

#include <algorithm>

namespace postern::config {

namespace {

SourcePos fromRegion(const toml::source_region& region, SourcePos fallback) {
    if (region.begin.line == 0) return fallback;
    return SourcePos{region.begin.line, region.begin.column};
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("bnid" → "bind" =
// 1).
std::size_t editDistance(std::string_view a, std::string_view b) {
    const std::size_t n = a.size(), m = b.size();
    std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
    for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    }
    return d[n][m];
}

}  // namespace

SourcePos positionOf(const toml::node& node, SourcePos fallback) {
    return fromRegion(node.source(), fallback);
}

SourcePos positionOf(const toml::key& key, SourcePos fallback) {
    return fromRegion(key.source(), fallback);
}

std::string formatPosition(SourcePos pos) {
    return std::to_string(pos.line) + ":" + std::to_string(pos.column);
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

std::string suggestKey(std::string_view word, const std::vector<std::string>& candidates) {
    if (word.size() < 3) return {};
    // Short words are one edit from many unrelated keys ("foo" → "log"), so they get one edit;
    // long ones two.
    const std::size_t max_distance = word.size() >= 8 ? 2 : 1;
    std::string best;
    std::size_t best_distance = max_distance + 1;
    for (const auto& c : candidates) {
        if (c == word) continue;
        const std::size_t d = editDistance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

void Diagnostics::error(SourcePos pos, std::string message) {
    errors_.push_back(ConfigError{file_, pos.line, pos.column, std::move(message)});
}

std::vector<ConfigError> Diagnostics::sorted() const {
    std::vector<ConfigError> out = errors_;
    std::stable_sort(out.begin(), out.end(), [](const ConfigError& a, const ConfigError& b) {
        if (a.line != b.line) return a.line < b.line;
        return a.column < b.column;
    });
    return out;
}

}  // namespace postern::config
