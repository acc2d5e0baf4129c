#include "common/host_pattern.h"

#include "postern/plugin/str.h"

namespace postern::common {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool isWildcard(std::string_view p) { return p.size() > 2 && p[0] == '*' && p[1] == '.'; }

}  // namespace

std::optional<std::string> normalisePattern(std::string_view written, std::string* why) {
    std::string p;
    p.reserve(written.size());
    for (char c : written) p += lower(c);
    if (!p.empty() && p.back() == '.') p.pop_back();
    if (p.empty()) {
        *why = "must not be empty";
        return std::nullopt;
    }
    const bool wildcard = isWildcard(p);
    const std::string_view name = wildcard ? std::string_view(p).substr(2) : std::string_view(p);
    if (name.find('*') != std::string_view::npos) {
        *why = "a wildcard is \"*.\" followed by a name, as \"*.example.com\", not \"" +
               std::string(written) + "\"";
        return std::nullopt;
    }
    if (p.find(':') != std::string::npos) {
        *why = "must be a host name without a port, not \"" + std::string(written) + "\"";
        return std::nullopt;
    }
    if (!sdk::isHostName(name)) {
        *why =
            "must be a host name (letters, digits, '-' and '_' in dot-separated labels) or \"*.\" "
            "followed by one, not \"" +
            std::string(written) + "\"";
        return std::nullopt;
    }
    return p;
}

bool patternMatches(std::string_view pattern, std::string_view name) noexcept {
    if (!isWildcard(pattern)) return pattern == name;
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
}

bool patternCovers(std::string_view outer, std::string_view inner) noexcept {
    if (outer == inner) return true;
    if (!isWildcard(outer)) return false;
    // A wildcard inner pattern stands for names ending in its suffix; the outer wildcard covers
    // them when its own suffix ends that suffix. An exact inner name is covered when it matches.
    return patternMatches(outer, isWildcard(inner) ? inner.substr(2) : inner);
}

std::string_view normaliseName(std::string_view name, char (&buf)[kMaxHostName]) noexcept {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > kMaxHostName) return {};
    for (std::size_t i = 0; i < name.size(); ++i) buf[i] = lower(name[i]);
    return std::string_view(buf, name.size());
}

}  // namespace postern::common
