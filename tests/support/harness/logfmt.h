// Parses one logfmt line (`key=value key="quoted value"`) as postern writes its diagnostic and
// access logs. Pure function; any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace postern::test {

using LogfmtFields = std::map<std::string, std::string, std::less<>>;

LogfmtFields parseLogfmt(std::string_view line);

/** The value of `key` in `line`, if present. */
std::optional<std::string> logfmtField(std::string_view line, std::string_view key);

}  // namespace postern::test
