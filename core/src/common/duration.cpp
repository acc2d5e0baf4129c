#include "common/duration.h"

#include <limits>

namespace postern::common {

std::optional<Millis> parseDuration(std::string_view text, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<Millis> {
        if (error) *error = "invalid duration \"" + std::string(text) + "\": " + why;
        return std::nullopt;
    };
    if (text.empty()) return fail("empty (use e.g. \"250ms\", \"30s\", \"4m\", \"1h\")");
    std::size_t i = 0;
    std::uint64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
        if (value > (std::uint64_t{1} << 40)) return fail("too large");
        ++i;
    }
    if (i == 0) return fail("expected a number followed by a unit (ms, s, m, h)");
    std::string_view unit = text.substr(i);
    std::uint64_t mult = 0;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit.empty()) return fail("missing unit (ms, s, m, h)");
    else return fail("unknown unit '" + std::string(unit) + "' (use ms, s, m or h)");
    return Millis(static_cast<std::int64_t>(value * mult));
}

std::string formatDuration(Millis d) {
    auto ms = d.count();
    if (ms % 3'600'000 == 0 && ms) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0 && ms) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

}  // namespace postern::common
