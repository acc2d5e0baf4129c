// postern/plugin/str.h — conversions between the ABI's borrowed strings and std::string_view.
// Part of the header-only plugin SDK: standard library and abi.h only.
#pragma once

#include <cstddef>
#include <string_view>

#include "postern/plugin/abi.h"

namespace postern::sdk {

/** Views a borrowed ABI string (tolerates a NULL data pointer). Any thread. The view is valid only
 * as long as the string it borrows from (see the call that handed it over). */
inline std::string_view view(postern_str s) noexcept {
    return s.data != nullptr ? std::string_view(s.data, s.size) : std::string_view();
}

/** Lends a string_view to the host as an ABI string. Any thread. The host copies what it keeps. */
inline postern_str str(std::string_view s) noexcept { return postern_str{s.data(), s.size()}; }

/** Whether `s` is a DNS host name as SNI and Host headers allow it: dot-separated labels of
 * 1..63 letters, digits, '-' or '_', 253 characters in all (no IP literal check: callers test
 * for those first). For validating host names in plugin settings; the core uses it too. */
inline bool isHostName(std::string_view s) noexcept {
    if (s.empty() || s.size() > 253) return false;
    std::size_t label = 0;
    for (char c : s) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

}  // namespace postern::sdk
