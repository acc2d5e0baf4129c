#include "harness/line_pattern.h"

#include <regex>

namespace postern::test {

struct LinePattern::Impl {
    std::regex re;
};

LinePattern::LinePattern(std::string_view ecmascript)
    : source_(ecmascript),
      impl_(std::make_shared<const Impl>(Impl{std::regex(source_, std::regex::ECMAScript)})) {}

LinePattern LinePattern::withFields(const std::map<std::string, std::string>& fields) {
    std::string re = "^";
    for (const auto& [k, v] : fields) re += "(?=.*" + fieldPattern(k, v) + ")";
    return LinePattern(re);
}

LinePattern LinePattern::containing(std::string_view text) { return LinePattern(escapeRegex(text)); }

bool LinePattern::matches(std::string_view line) const {
    return std::regex_search(line.begin(), line.end(), impl_->re);
}

std::string escapeRegex(std::string_view s) {
    static constexpr std::string_view kSpecial = R"(\^$.|?*+()[]{})";
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (kSpecial.find(c) != std::string_view::npos) out.push_back('\\');
        out.push_back(c);
    }
    return out;
}

std::string fieldPattern(std::string_view key, std::string_view value) {
    return "(^|\\s)" + escapeRegex(key) + "=\"?" + escapeRegex(value) + "\"?(\\s|$)";
}

}  // namespace postern::test
