// A compiled ECMAScript regex for matching log lines, with <regex> kept out of this header: the
// regex templates are instantiated once, in line_pattern.cpp, instead of in every test file
// (they dominate the compile time of a test translation unit). Immutable; any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace postern::test {

class LinePattern {
public:
    /** `ecmascript` is searched for anywhere in a line (regex_search). Throws std::regex_error
     * on a bad pattern. Implicit, so a string literal can be passed where a pattern is wanted. */
    LinePattern(std::string_view ecmascript);  // NOLINT(google-explicit-constructor)
    LinePattern(const char* ecmascript) : LinePattern(std::string_view(ecmascript)) {}
    LinePattern(const std::string& ecmascript) : LinePattern(std::string_view(ecmascript)) {}

    /** A line that has every key=value of `fields` as logfmt fields (values literal, optionally
     * quoted), in any order. */
    static LinePattern withFields(const std::map<std::string, std::string>& fields);
    /** A line that contains `text` literally. */
    static LinePattern containing(std::string_view text);

    bool matches(std::string_view line) const;
    const std::string& source() const { return source_; }

private:
    struct Impl;
    std::string source_;
    std::shared_ptr<const Impl> impl_;
};

/** `s` with every ECMAScript regex metacharacter escaped. */
std::string escapeRegex(std::string_view s);
/** `(^|\s)key="?value"?(\s|$)` with `value` taken literally. */
std::string fieldPattern(std::string_view key, std::string_view value);

}  // namespace postern::test
