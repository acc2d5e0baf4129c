// Host-name patterns of routes (SPEC §2, [[listener.route]] host and sni): an exact name
// ("api.example.com") or a wildcard ("*.example.com") that matches every name ending in
// ".example.com" — one label or more in front, as nginx's server_name and Envoy's virtual host
// domains do, not "example.com" itself. Names compare case-insensitively and a trailing dot is
// ignored; patterns are stored normalised (lowercase, no trailing dot). Pure functions: any
// thread, no allocation except in normalisePattern().
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace postern::common {

/** Longest name a pattern or a looked-up name may have (a DNS name has at most 253 characters). */
inline constexpr std::size_t kMaxHostName = 253;

/** The normalised pattern for `written` (lowercase, trailing dot dropped), or nullopt with `*why`
 * set when it is neither a host name nor "*." followed by one. */
std::optional<std::string> normalisePattern(std::string_view written, std::string* why);

/** Whether `name` (already lowercase, no trailing dot) matches the normalised `pattern`. */
bool patternMatches(std::string_view pattern, std::string_view name) noexcept;

/** Whether every name `inner` matches is also matched by `outer` (both normalised, non-empty). */
bool patternCovers(std::string_view outer, std::string_view inner) noexcept;

/** Copies `name` lowercased into `buf` (kMaxHostName bytes), dropping one trailing dot; the
 * result views `buf`. Empty when `name` is empty or too long (it then matches no pattern). */
std::string_view normaliseName(std::string_view name, char (&buf)[kMaxHostName]) noexcept;

}  // namespace postern::common
