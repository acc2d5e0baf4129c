// A check of the raw text before toml++ parses it, for a bug of toml++ 3.3 (Debian 12's): its
// test for non-ASCII horizontal whitespace reaches __builtin_unreachable() — undefined behaviour —
// for most code points in U+00A1..U+0499 (Latin-1 letters, Greek, Cyrillic...), U+2C6E..U+3067
// and U+FBA6..U+FEFE (tomlplusplus issues #190 and #295, fixed upstream after 3.4). The parser
// asks that question only where TOML allows ASCII alone (outside strings and comments, right
// after a backslash in a multi-line basic string) and in one valid place: the first character of
// the text a line-ending backslash joins in a multi-line basic string. This finds the first such
// code point so the loader reports it instead of parsing. Pure; any thread. Standard library
// only: the `file` discovery plugin compiles it too, for the inventories it parses.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/source_pos.h"

namespace postern::config {

struct TomlGuardProblem {
    SourcePos pos;        ///< line and column (in code points) of the character, from 1
    std::string message;  ///< names the character and its code point
};

/** The first character toml++ 3.3 cannot classify safely where it would try, or nullopt. */
std::optional<TomlGuardProblem> findTomlParserHazard(std::string_view text);

/** Whether toml++ 3.3's is_non_ascii_horizontal_whitespace(cp) is undefined for `cp`. */
bool tomlWhitespaceTestUndefined(char32_t cp);

}  // namespace postern::config
