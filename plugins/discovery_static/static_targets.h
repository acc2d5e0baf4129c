// Parsing and validation of the `static` discovery plugin's `targets` array. Pure functions over
// the SDK's Config view; control thread (during create).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/target_attributes.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::static_discovery {

inline constexpr std::int64_t kMaxWeight = common::kMaxWeight;
inline constexpr std::int64_t kMaxPriority = common::kMaxPriority;

struct StaticTarget {
    std::string host;  ///< without brackets
    std::uint16_t port = 0;  ///< 0 = the pool's default backend port
    std::uint32_t weight = 1;
    std::uint32_t max_connections = 0;
    std::string region;
    std::uint32_t priority = 0;  ///< 0 = best (see postern_target.priority)
};

/** Parses "host", "host:port", "[v6]:port", "[v6]" or a bare IPv6 literal. An explicit port must be
 * 1..65535. On failure returns nullopt and sets `error` (e.g. "invalid address \"a:0\": port must
 * be from 1 to 65535"). */
std::optional<StaticTarget> parseAddress(std::string_view text, std::string& error);

/** Reads and validates `targets` from the plugin's table, reporting every problem at its own
 * node. nullopt when anything was wrong. */
std::optional<std::vector<StaticTarget>> readTargets(const postern::sdk::Config& config);

}  // namespace postern::plugins::static_discovery
