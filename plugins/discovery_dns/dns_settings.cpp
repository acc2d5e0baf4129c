#include "dns_settings.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

#include <algorithm>
#include <limits>
#include <utility>

namespace postern::plugins::dns_discovery {

namespace {

using postern::sdk::Node;
using postern::sdk::NodeType;

std::string str(std::string_view s) { return std::string(s); }

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

bool isLabelChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

// A DNS name: dot-separated labels of 1..63 label characters, 253 characters at most (the
// trailing dot of an absolute name is removed before).
bool isDnsName(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        std::string_view label = name.substr(start, dot - start);
        if (label.empty() || label.size() > 63 ||
            !std::all_of(label.begin(), label.end(), isLabelChar))
            return false;
        start = dot + 1;
    }
    return true;
}

// "65535" -> 65535; nullopt unless 1..65535 in plain digits.
std::optional<std::uint16_t> parsePort(std::string_view text) {
    if (text.empty() || text.size() > 5 ||
        text.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
    unsigned long port = std::stoul(std::string(text));
    if (port < 1 || port > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(port);
}

struct HostPort {
    std::string host;
    bool bracketed = false;
    std::optional<std::string_view> port_text;
};

// Splits "host", "host:port", "[v6]", "[v6]:port" and a bare IPv6 literal. nullopt + why.
std::optional<HostPort> split(std::string_view text, std::string& why) {
    HostPort out;
    if (text.empty()) {
        why = "empty";
        return std::nullopt;
    }
    if (text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            why = "missing ']'";
            return std::nullopt;
        }
        out.host = str(text.substr(1, close - 1));
        out.bracketed = true;
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                why = "expected ':' after ']'";
                return std::nullopt;
            }
            out.port_text = rest.substr(1);
        }
        return out;
    }
    auto first = text.find(':');
    if (first != std::string_view::npos && first != text.rfind(':')) {
        out.host = str(text);  // several colons: a bare IPv6 literal
        return out;
    }
    out.host = str(first == std::string_view::npos ? text : text.substr(0, first));
    if (first != std::string_view::npos) out.port_text = text.substr(first + 1);
    return out;
}

bool isIpv6(std::string_view text) {
    if (text.empty() || text.size() >= 64) return false;
    std::string s(text);
    unsigned char buf[16];
    return inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool isIpv4(std::string_view text) {
    if (text.empty() || text.size() >= 16) return false;
    std::string s(text);
    unsigned char buf[4];
    return inet_pton(AF_INET, s.c_str(), buf) == 1;
}

std::optional<std::int64_t> readDuration(const Node& node, std::string_view key,
                                         std::int64_t min_ms, bool& ok) {
    if (!node) return std::nullopt;
    auto ms = node.asDurationMs();  // an invalid one is reported by the host
    if (!ms) {
        ok = false;
        return std::nullopt;
    }
    if (*ms < min_ms) {
        node.error(str(key) + (min_ms > 0 ? " must be longer than 0" : " must not be negative"));
        ok = false;
        return std::nullopt;
    }
    return ms;
}

// { address = "...", weight = N, max_connections = N, region = "...", priority = N }. Every known
// key is looked up even after a problem, so the host reports only truly unknown keys.
std::optional<DnsTarget> readTable(const Node& element) {
    const Node address = element.get("address");
    const Node weight = element.get("weight");
    const Node max_connections = element.get("max_connections");
    const Node region = element.get("region");
    const Node priority = element.get("priority");
    bool ok = true;

    std::optional<DnsTarget> target;
    if (!address) {
        element.error("a target table needs 'address' (\"name:port\" or \"_service._tcp.name\")");
        ok = false;
    } else if (auto text = address.asString()) {
        std::string why;
        target = parseTarget(*text, why);
        if (!target) {
            address.error(why);
            ok = false;
        }
    } else {
        address.error("address must be a string (\"name:port\"), not " +
                      str(sdk::describe(address.type())));
        ok = false;
    }

    common::TargetAttributes attrs;
    const std::string_view records = target && target->kind == TargetKind::Srv ? "SRV" : "";
    if (!common::readTargetAttributes(weight, max_connections, region, priority, records, attrs))
        ok = false;

    if (!ok || !target) return std::nullopt;
    target->priority = attrs.priority;
    target->weight = attrs.weight;
    target->max_connections = attrs.max_connections;
    target->region = std::move(attrs.region);
    return target;
}

}  // namespace

bool isIpLiteral(std::string_view text) { return isIpv4(text) || isIpv6(text); }

bool isSrvName(std::string_view name) {
    auto dot = name.find('.');
    return name.size() > 1 && name[0] == '_' && dot != std::string_view::npos &&
           dot + 1 < name.size() && name[dot + 1] == '_';
}

std::optional<DnsTarget> parseTarget(std::string_view text, std::string& error) {
    auto fail = [&](const std::string& why) -> std::optional<DnsTarget> {
        error = "invalid target \"" + str(text) + "\": " + why;
        return std::nullopt;
    };
    std::string why;
    auto hp = split(text, why);
    if (!hp) return fail(why);

    DnsTarget t;
    if (hp->bracketed || hp->host.find(':') != std::string::npos) {
        if (!isIpv6(hp->host))
            return fail("not a valid IPv6 address (write [addr]:port to give a port)");
        t.kind = TargetKind::Literal;
        t.name = hp->host;
    } else if (isIpv4(hp->host)) {
        t.kind = TargetKind::Literal;
        t.name = hp->host;
    } else {
        std::string name = lower(hp->host);
        if (name.size() > 1 && name.back() == '.') name.pop_back();
        if (!isDnsName(name))
            return fail(
                "not a valid DNS name (labels of letters, digits, '-' and '_', separated by dots)");
        t.kind = isSrvName(name) ? TargetKind::Srv : TargetKind::Address;
        t.name = std::move(name);
    }
    if (hp->port_text) {
        if (t.kind == TargetKind::Srv)
            return fail("an SRV name takes its ports from the SRV records; remove ':" +
                        str(*hp->port_text) + "'");
        auto port = parsePort(*hp->port_text);
        if (!port) return fail("port must be a number from 1 to 65535");
        t.port = *port;
    }
    return t;
}

std::optional<Resolver> parseResolver(std::string_view text, std::string& error) {
    auto fail = [&](const std::string& why) -> std::optional<Resolver> {
        error = "invalid resolver \"" + str(text) + "\": " + why;
        return std::nullopt;
    };
    std::string why;
    auto hp = split(text, why);
    if (!hp) return fail(why);
    Resolver r;
    if (hp->bracketed || hp->host.find(':') != std::string::npos) {
        if (!isIpv6(hp->host))
            return fail("not a valid IPv6 address (write [addr]:port to give a port)");
    } else if (!isIpv4(hp->host)) {
        return fail("a resolver must be an IP address (\"127.0.0.1:53\", \"[::1]:53\")");
    }
    r.ip = hp->host;
    if (hp->port_text) {
        auto port = parsePort(*hp->port_text);
        if (!port) return fail("port must be a number from 1 to 65535");
        r.port = *port;
    }
    return r;
}

std::string display(const Resolver& r) {
    return (r.ip.find(':') != std::string::npos ? "[" + r.ip + "]" : r.ip) + ":" +
           std::to_string(r.port);
}

std::string display(const DnsTarget& t) {
    std::string host = t.name.find(':') != std::string::npos ? "[" + t.name + "]" : t.name;
    return t.port != 0 ? host + ":" + std::to_string(t.port) : host;
}

std::optional<DnsSettings> readSettings(const postern::sdk::Config& config) {
    DnsSettings s;
    bool ok = true;
    // Look every key up first, so the host never calls a known key "unknown".
    const Node targets = config.get("targets");
    const Node resolvers = config.get("resolvers");
    const Node family = config.get("family");
    const Node min_refresh = config.get("min_refresh");
    const Node max_refresh = config.get("max_refresh");
    const Node hold_nx = config.get("hold_nx");

    if (!targets) {
        config.error(
            "needs 'targets': DNS names with a port or SRV names, e.g. targets = "
            "[\"db.example:5432\", \"_postgres._tcp.example\"]");
        ok = false;
    } else if (targets.type() != NodeType::Array) {
        targets.error("targets must be an array of names, not " +
                      str(sdk::describe(targets.type())));
        ok = false;
    } else if (targets.size() == 0) {
        targets.error("targets must not be empty");
        ok = false;
    } else {
        std::vector<std::pair<std::string, std::size_t>> seen;  // display form, element
        for (std::size_t i = 0; i < targets.size(); ++i) {
            const Node element = targets.at(i);
            std::optional<DnsTarget> target;
            if (element.type() == NodeType::String) {
                std::string why;
                target = parseTarget(*element.asString(), why);
                if (!target) element.error(why);
            } else if (element.type() == NodeType::Table) {
                target = readTable(element);
            } else {
                element.error(
                    "a target must be a string (\"name:port\", \"_service._tcp.name\") or a "
                    "table { address = \"name:port\", weight = N, max_connections = N, "
                    "region = \"...\", priority = N }, not " +
                    str(sdk::describe(element.type())));
            }
            if (!target) {
                ok = false;
                continue;
            }
            std::string key = display(*target);
            auto dup = std::find_if(seen.begin(), seen.end(),
                                    [&](const auto& e) { return e.first == key; });
            if (dup != seen.end()) {
                element.error("duplicate target " + key + " (already element " +
                              std::to_string(dup->second + 1) + " of targets)");
                ok = false;
                continue;
            }
            seen.emplace_back(std::move(key), i);
            s.targets.push_back(std::move(*target));
        }
    }

    if (resolvers) {
        if (resolvers.type() != NodeType::Array) {
            resolvers.error("resolvers must be an array of \"ip:port\" strings, not " +
                            str(sdk::describe(resolvers.type())));
            ok = false;
        } else {
            for (std::size_t i = 0; i < resolvers.size(); ++i) {
                const Node element = resolvers.at(i);
                auto text = element.asString();
                if (!text) {
                    element.error("a resolver must be a string (\"127.0.0.1:53\"), not " +
                                  str(sdk::describe(element.type())));
                    ok = false;
                    continue;
                }
                std::string why;
                auto r = parseResolver(*text, why);
                if (!r) {
                    element.error(why);
                    ok = false;
                    continue;
                }
                s.resolvers.push_back(std::move(*r));
            }
        }
    }

    if (family) {
        auto text = family.asString();
        if (!text) {
            family.error("family must be a string (\"any\", \"ipv4\" or \"ipv6\"), not " +
                         str(sdk::describe(family.type())));
            ok = false;
        } else if (*text == "any") {
            s.family = Family::Any;
        } else if (*text == "ipv4") {
            s.family = Family::Ipv4;
        } else if (*text == "ipv6") {
            s.family = Family::Ipv6;
        } else {
            family.error("family must be \"any\", \"ipv4\" or \"ipv6\", not \"" + str(*text) +
                         "\"");
            ok = false;
        }
    }

    if (auto v = readDuration(min_refresh, "min_refresh", 1, ok)) s.min_refresh_ms = *v;
    if (auto v = readDuration(max_refresh, "max_refresh", 1, ok)) s.max_refresh_ms = *v;
    if (auto v = readDuration(hold_nx, "hold_nx", 0, ok)) s.hold_nx_ms = *v;
    if (ok && s.max_refresh_ms < s.min_refresh_ms) {
        (max_refresh ? max_refresh : min_refresh)
            .error("max_refresh (" + std::to_string(s.max_refresh_ms) +
                   " ms) must not be shorter than "
                   "min_refresh (" +
                   std::to_string(s.min_refresh_ms) + " ms)");
        ok = false;
    }
    if (!ok) return std::nullopt;
    return s;
}

}  // namespace postern::plugins::dns_discovery
