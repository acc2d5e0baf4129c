#include "static_targets.h"

#include <algorithm>
#include <limits>

namespace postern::plugins::static_discovery {

namespace {

using postern::sdk::Node;
using postern::sdk::NodeType;

bool isHostChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

bool isIpv6Literal(std::string_view s) {
    return !s.empty() && s.find(':') != std::string_view::npos &&
           s.find_first_not_of("0123456789abcdefABCDEF:.%") == std::string_view::npos;
}

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
    return out;
}

std::string display(const StaticTarget& t) {
    std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
    return t.port != 0 ? host + ":" + std::to_string(t.port) : host;
}

std::string str(std::string_view s) { return std::string(s); }

// A table element: { address = "...", weight = N, max_connections = N, region = "...",
// priority = N }.
// Every known key is looked up even after a problem, so the host reports only truly unknown keys.
std::optional<StaticTarget> readTable(const Node& element) {
    const Node address = element.get("address");
    const Node weight = element.get("weight");
    const Node max_connections = element.get("max_connections");
    const Node region = element.get("region");
    const Node priority = element.get("priority");
    bool ok = true;

    std::optional<StaticTarget> target;
    if (!address) {
        element.error("a target table needs 'address' (\"host:port\")");
        ok = false;
    } else if (auto text = address.asString()) {
        std::string why;
        target = parseAddress(*text, why);
        if (!target) {
            address.error(why);
            ok = false;
        }
    } else {
        address.error("address must be a string (\"host:port\"), not " + str(sdk::describe(address.type())));
        ok = false;
    }

    common::TargetAttributes attrs;
    if (!common::readTargetAttributes(weight, max_connections, region, priority, {}, attrs))
        ok = false;

    if (!ok || !target) return std::nullopt;
    target->weight = attrs.weight;
    target->max_connections = attrs.max_connections;
    target->region = std::move(attrs.region);
    target->priority = attrs.priority;
    return target;
}

}  // namespace

std::optional<StaticTarget> parseAddress(std::string_view text, std::string& error) {
    auto fail = [&](const std::string& why) -> std::optional<StaticTarget> {
        error = "invalid address \"" + std::string(text) + "\": " + why;
        return std::nullopt;
    };
    StaticTarget t;
    std::string_view port_text;
    bool has_port = false;
    if (text.empty()) return fail("empty");
    if (text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) return fail("missing ']'");
        auto host = text.substr(1, close - 1);
        if (!isIpv6Literal(host)) return fail("not an IPv6 address between brackets");
        t.host = std::string(host);
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return fail("expected ':' after ']'");
            port_text = rest.substr(1);
            has_port = true;
        }
    } else {
        auto first = text.find(':');
        auto last = text.rfind(':');
        if (first != std::string_view::npos && first != last) {
            // Several colons without brackets: a bare IPv6 literal, without a port.
            if (!isIpv6Literal(text))
                return fail("not a valid IPv6 address (write [addr]:port to give a port)");
            t.host = std::string(text);
            return t;
        }
        auto host = first == std::string_view::npos ? text : text.substr(0, first);
        if (host.empty() || !std::all_of(host.begin(), host.end(), isHostChar))
            return fail("not a valid host name or IP address");
        t.host = std::string(host);
        if (first != std::string_view::npos) {
            port_text = text.substr(first + 1);
            has_port = true;
        }
    }
    if (has_port) {
        if (port_text.empty() || port_text.size() > 5 ||
            port_text.find_first_not_of("0123456789") != std::string_view::npos)
            return fail("port must be a number from 1 to 65535");
        unsigned long port = std::stoul(std::string(port_text));
        if (port < 1 || port > 65535) return fail("port must be from 1 to 65535");
        t.port = static_cast<std::uint16_t>(port);
    }
    return t;
}

std::optional<std::vector<StaticTarget>> readTargets(const postern::sdk::Config& config) {
    const Node targets = config.get("targets");
    if (!targets) {
        config.error("needs 'targets': the backends' addresses, e.g. targets = [\"10.0.0.4\", \"10.0.0.5:5433\"]");
        return std::nullopt;
    }
    if (targets.type() != NodeType::Array) {
        targets.error("targets must be an array of addresses, not " + str(sdk::describe(targets.type())));
        return std::nullopt;
    }
    if (targets.size() == 0) {
        targets.error("targets must not be empty");
        return std::nullopt;
    }

    bool ok = true;
    std::vector<StaticTarget> out;
    std::vector<std::pair<std::string, std::size_t>> seen;  // (lower-cased "host:port", element)
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const Node element = targets.at(i);
        std::optional<StaticTarget> target;
        if (element.type() == NodeType::String) {
            std::string why;
            target = parseAddress(*element.asString(), why);
            if (!target) element.error(why);
        } else if (element.type() == NodeType::Table) {
            target = readTable(element);
        } else {
            element.error(
                "a target must be an address string (\"host:port\") or a table "
                "{ address = \"host:port\", weight = N, max_connections = N, region = \"...\", "
                "priority = N }, not " +
                str(sdk::describe(element.type())));
        }
        if (!target) {
            ok = false;
            continue;
        }
        std::string key = lower(display(*target));
        auto dup = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == key; });
        if (dup != seen.end()) {
            element.error("duplicate target " + display(*target) + " (already element " +
                          std::to_string(dup->second + 1) + " of targets)");
            ok = false;
            continue;
        }
        seen.emplace_back(std::move(key), i);
        out.push_back(std::move(*target));
    }
    if (!ok) return std::nullopt;
    return out;
}

}  // namespace postern::plugins::static_discovery
