// "host:port" / "[v6]:port" / bare host parsing. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::common {

struct HostPort {
    std::string host;      ///< without brackets
    std::uint16_t port = 0;  ///< 0 when absent and not required
    bool has_port = false;
    bool is_ipv6_literal = false;
};

/** Parses "h:p", "[v6]:p", and (when !port_required) "h", "[v6]" or a bare IPv6 literal.
 * Ports must be 0..65535 (0 allowed only when allow_zero_port). On failure returns nullopt and
 * fills *error with a message such as "invalid address \"x\": missing port". */
std::optional<HostPort> parseHostPort(std::string_view text, bool port_required, std::string* error,
                                      bool allow_zero_port = true);

/** "[::1]:80" or "1.2.3.4:80". */
std::string formatHostPort(std::string_view host, std::uint16_t port);

}  // namespace postern::common
