// postern/plugin/str.h — conversions between the ABI's borrowed strings and std::string_view.
// Part of the header-only plugin SDK: standard library and abi.h only.
#pragma once

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

}  // namespace postern::sdk
