// Duration strings of the config: "250ms", "30s", "4m", "1h" (or an integer number of seconds,
// which the config layer converts before calling here). Pure functions, any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::common {

using Millis = std::chrono::milliseconds;

/** Parses "<non-negative integer><unit>" with unit ms|s|m|h. On failure returns nullopt and sets
 * *error (when given) to a sentence fragment such as "invalid duration \"5x\": unknown unit 'x'". */
std::optional<Millis> parseDuration(std::string_view text, std::string* error = nullptr);

/** "1500ms" → "1.5s"-style human form for logs. */
std::string formatDuration(Millis d);

}  // namespace postern::common
