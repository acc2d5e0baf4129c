// Chooses the route of a connection (by the SNI of its ClientHello, on tls and tcp listeners) or
// of an HTTP request (by its host and path, on http and https listeners) among a listener's
// [[listener.route]] tables (SPEC §2): the routes are tried in the order the file lists them and
// the first that matches wins; a route without match keys matches everything (the catch-all).
// When none matches the caller uses the listener's own pool, and without one answers 404 (HTTP)
// or closes the connection.
//
// Matching (the patterns are normalised by the config loader, common/host_pattern.h):
//  - sni and host: exact or "*.example.com" (a suffix of one label or more), case-insensitive, a
//    trailing dot ignored; the host is the request's Host header (or the authority of an
//    absolute-form target) without its port;
//  - path_prefix: a byte-for-byte prefix of the request target's path as received (not decoded,
//    not normalised; "/ws" matches "/ws", "/ws/x" and "/wsx" — write "/ws/" for the subtree);
//  - a key a route leaves out matches anything, including a client that sent no SNI.
//
// Built once per listener and config generation (control thread); immutable, so the match
// functions are const, allocation-free and safe from any thread.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace postern::proxy {

class Router {
public:
    /** No route matched. */
    static constexpr std::size_t kNoRoute = std::numeric_limits<std::size_t>::max();

    Router() = default;
    /** The routes of a listener, in file order (indexes returned below are into this list). */
    explicit Router(const std::vector<config::RouteConfig>& routes);

    /** The first route for a TLS client that sent `sni` ("" = none), or kNoRoute. */
    std::size_t matchSni(std::string_view sni) const noexcept;
    /** The first route for an HTTP request with Host header `host` (a port, an IPv6 literal's
     * brackets, a trailing dot are handled here) and request-target path `path`, or kNoRoute. */
    std::size_t matchHttp(std::string_view host, std::string_view path) const noexcept;

    std::size_t size() const { return rules_.size(); }
    bool empty() const { return rules_.empty(); }
    /** Some route matches on SNI: a tcp listener must read the ClientHello to choose. */
    bool usesSni() const { return uses_sni_; }

    /** `host` without its port: "a.example.com:8080" → "a.example.com", "[::1]:80" → "::1". */
    static std::string_view stripPort(std::string_view host) noexcept;

private:
    struct Rule {
        std::string host;
        std::string path_prefix;
        std::string sni;
    };
    std::vector<Rule> rules_;
    bool uses_sni_ = false;
};

}  // namespace postern::proxy
