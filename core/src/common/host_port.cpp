#include "common/host_port.h"

#include <algorithm>

namespace postern::common {

namespace {

bool parsePort(std::string_view s, std::uint32_t& out) {
    if (s.empty() || s.size() > 5) return false;
    std::uint32_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
    }
    out = v;
    return v <= 65535;
}

bool validHostChars(std::string_view h) {
    return !h.empty() && std::all_of(h.begin(), h.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_' || c == '*';
    });
}

}  // namespace

std::optional<HostPort> parseHostPort(std::string_view text, bool port_required,
                                      std::string* error, bool allow_zero_port) {
    auto fail = [&](const std::string& why) -> std::optional<HostPort> {
        if (error) *error = "invalid address \"" + std::string(text) + "\": " + why;
        return std::nullopt;
    };
    HostPort hp;
    std::string_view port_text;
    if (text.empty()) return fail("empty");
    if (text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return fail("missing ']'");
        hp.host = std::string(text.substr(1, close - 1));
        hp.is_ipv6_literal = true;
        if (hp.host.empty() || hp.host.find(':') == std::string::npos ||
            hp.host.find_first_not_of("0123456789abcdefABCDEF:.%") != std::string::npos)
            return fail("not an IPv6 address between brackets");
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return fail("expected ':' after ']'");
            port_text = rest.substr(1);
            hp.has_port = true;
        }
    } else {
        auto colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') != colon) {
            // Several colons without brackets: a bare IPv6 literal, no port.
            if (port_required) return fail("IPv6 addresses need brackets: [addr]:port");
            hp.host = std::string(text);
            hp.is_ipv6_literal = true;
            if (hp.host.find_first_not_of("0123456789abcdefABCDEF:.%") != std::string::npos)
                return fail("not a valid IPv6 address");
            return hp;
        }
        if (colon != std::string_view::npos) {
            hp.host = std::string(text.substr(0, colon));
            port_text = text.substr(colon + 1);
            hp.has_port = true;
        } else {
            hp.host = std::string(text);
        }
        if (!validHostChars(hp.host)) return fail("not a valid host name or IP address");
    }
    if (hp.has_port) {
        std::uint32_t p = 0;
        if (!parsePort(port_text, p)) return fail("port must be a number from 0 to 65535");
        if (p == 0 && !allow_zero_port) return fail("port must be from 1 to 65535");
        hp.port = static_cast<std::uint16_t>(p);
    } else if (port_required) {
        return fail("missing port (use host:port or [ipv6]:port)");
    }
    return hp;
}

std::string formatHostPort(std::string_view host, std::uint16_t port) {
    std::string out;
    if (host.find(':') != std::string_view::npos) {
        out = "[" + std::string(host) + "]";
    } else {
        out = std::string(host);
    }
    return out + ":" + std::to_string(port);
}

}  // namespace postern::common
