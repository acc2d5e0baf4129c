// The optional per-target keys of a discovery target table — weight, max_connections, region,
// priority — read and validated the same way by every discovery plugin that takes inline tables
// (static, dns). Header-only, SDK only.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "postern/plugin/sdk.h"

namespace postern::plugins::common {

inline constexpr std::int64_t kMaxWeight = 1000000;
inline constexpr std::int64_t kMaxPriority = 65535;  ///< as DNS SRV priorities

struct TargetAttributes {
    std::uint32_t weight = 1;
    std::uint32_t max_connections = 0;  ///< 0 = unlimited
    std::string region;
    std::uint32_t priority = 0;  ///< 0 = best (see postern_target.priority)
};

/** Reads the keys that are present (absent ones keep their defaults), reporting each problem at
 * its own node. `records`: non-empty when the target takes its weights and priorities from DNS
 * records of that kind (e.g. "SRV"): a valid `weight` or `priority` is then an error too. False
 * when anything was wrong. */
inline bool readTargetAttributes(const sdk::Node& weight, const sdk::Node& max_connections,
                                 const sdk::Node& region, const sdk::Node& priority,
                                 std::string_view records, TargetAttributes& out) {
    auto str = [](std::string_view s) { return std::string(s); };
    auto fromRecords = [&](const sdk::Node& node, const char* what, const char* key) {
        node.error("an " + str(records) + " target takes its " + what + " from the " +
                   str(records) + " records; remove '" + key + "'");
    };
    bool ok = true;
    if (weight) {
        auto v = weight.asInteger();
        if (!v) {
            weight.error("weight must be an integer, not " + str(sdk::describe(weight.type())));
            ok = false;
        } else if (*v < 1 || *v > kMaxWeight) {
            weight.error("weight must be from 1 to " + std::to_string(kMaxWeight) + ", got " +
                         std::to_string(*v));
            ok = false;
        } else if (!records.empty()) {
            fromRecords(weight, "weights", "weight");
            ok = false;
        } else {
            out.weight = static_cast<std::uint32_t>(*v);
        }
    }
    if (max_connections) {
        auto v = max_connections.asInteger();
        if (!v) {
            max_connections.error("max_connections must be an integer, not " +
                                  str(sdk::describe(max_connections.type())));
            ok = false;
        } else if (*v < 0 || *v > std::numeric_limits<std::uint32_t>::max()) {
            max_connections.error("max_connections must be 0 (unlimited) to " +
                                  std::to_string(std::numeric_limits<std::uint32_t>::max()) +
                                  ", got " + std::to_string(*v));
            ok = false;
        } else {
            out.max_connections = static_cast<std::uint32_t>(*v);
        }
    }
    if (region) {
        if (auto v = region.asString()) {
            out.region = str(*v);
        } else {
            region.error("region must be a string, not " + str(sdk::describe(region.type())));
            ok = false;
        }
    }
    if (priority) {
        auto v = priority.asInteger();
        if (!v) {
            priority.error("priority must be an integer, not " +
                           str(sdk::describe(priority.type())));
            ok = false;
        } else if (*v < 0 || *v > kMaxPriority) {
            priority.error("priority must be from 0 (best) to " + std::to_string(kMaxPriority) +
                           ", got " + std::to_string(*v));
            ok = false;
        } else if (!records.empty()) {
            fromRecords(priority, "priorities", "priority");
            ok = false;
        } else {
            out.priority = static_cast<std::uint32_t>(*v);
        }
    }
    return ok;
}

}  // namespace postern::plugins::common
