#include "tls/sni_selector.h"

#include <algorithm>
#include <cctype>

namespace postern::tls {

namespace {

constexpr std::size_t kMaxName = 255;  // DNS names are at most 253 characters

std::string normalise(std::string_view name) {
    std::string out(name);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!out.empty() && out.back() == '.') out.pop_back();
    return out;
}

}  // namespace

SniSelector::SniSelector(const std::vector<std::vector<std::string>>& names) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        for (const auto& raw : names[i]) {
            std::string name = normalise(raw);
            if (name.empty() || name.size() > kMaxName) continue;
            auto* table = &exact_;
            if (name.size() > 2 && name[0] == '*' && name[1] == '.') {
                name.erase(0, 2);
                table = &wildcard_;
            }
            auto it = std::find_if(table->begin(), table->end(), [&](const Entry& e) { return e.first == name; });
            if (it != table->end()) {
                if (it->second != i)
                    duplicates_.push_back({table == &wildcard_ ? "*." + name : name, it->second, i});
                continue;
            }
            table->emplace_back(std::move(name), i);
        }
    }
    std::sort(exact_.begin(), exact_.end());
    std::sort(wildcard_.begin(), wildcard_.end());
}

std::optional<std::size_t> SniSelector::find(const std::vector<Entry>& table, std::string_view key) {
    auto it = std::lower_bound(table.begin(), table.end(), key,
                               [](const Entry& e, std::string_view k) { return std::string_view(e.first) < k; });
    if (it != table.end() && it->first == key) return it->second;
    return std::nullopt;
}

std::optional<std::size_t> SniSelector::select(std::string_view server_name) const {
    if (!server_name.empty() && server_name.back() == '.') server_name.remove_suffix(1);
    if (server_name.empty() || server_name.size() > kMaxName) return std::nullopt;
    char buf[kMaxName];
    for (std::size_t i = 0; i < server_name.size(); ++i)
        buf[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(server_name[i])));
    const std::string_view name(buf, server_name.size());
    if (auto hit = find(exact_, name)) return hit;
    auto dot = name.find('.');
    // The wildcard label must cover one whole, non-empty label.
    if (dot == std::string_view::npos || dot == 0) return std::nullopt;
    return find(wildcard_, name.substr(dot + 1));
}

}  // namespace postern::tls
