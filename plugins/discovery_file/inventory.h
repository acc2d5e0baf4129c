// Parsing and validation of a `file` discovery inventory: a TOML file of [[target]] tables
//
//     [[target]]
//     address = "10.0.0.4:5432"      # "host:port", "host", "[v6]:port" (as in `static` targets)
//     weight = 2                     # optional, 1..1000000 (default 1)
//     max_connections = 500          # optional, 0 = unlimited (default)
//     region = "eu-north"            # optional
//     priority = 0                   # optional, 0 = best (default)
//
// Every problem of a version is reported, each as "path:line:col: message", sorted by position.
// Pure functions over the file's text; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::plugins::file_discovery {

/** Priorities go up to SRV's 65535. */
inline constexpr std::int64_t kMaxPriority = 65535;

struct InventoryTarget {
    std::string host;        ///< without brackets
    std::uint16_t port = 0;  ///< 0 = the pool's default backend port
    std::uint32_t weight = 1;
    std::uint32_t max_connections = 0;
    std::string region;
    std::uint32_t priority = 0;

    bool operator==(const InventoryTarget&) const = default;
};

struct ParsedInventory {
    /** The targets when the text is valid (possibly none, with `target = []`), else nullopt. */
    std::optional<std::vector<InventoryTarget>> targets;
    /** "path:line:col: message" lines, sorted by position; empty when valid. */
    std::vector<std::string> errors;
};

/** Parses and validates `text`; `display_path` names the file in messages. Never throws (out of
 * memory is reported as an error), never hands hostile input to toml++'s undefined corners. */
ParsedInventory parseInventory(std::string_view text, const std::string& display_path) noexcept;

/** "host:port" as a person writes it ("[v6]:port" for IPv6; no port when it has none). */
std::string displayAddress(const InventoryTarget& target);

}  // namespace postern::plugins::file_discovery
