#include "proxy/router.h"

#include "common/host_pattern.h"

namespace postern::proxy {

Router::Router(const std::vector<config::RouteConfig>& routes) {
    rules_.reserve(routes.size());
    for (const auto& r : routes) {
        rules_.push_back(Rule{r.host, r.path_prefix, r.sni});
        if (!r.sni.empty()) uses_sni_ = true;
    }
}

std::string_view Router::stripPort(std::string_view host) noexcept {
    if (!host.empty() && host.front() == '[') {
        const auto close = host.find(']');
        return close == std::string_view::npos ? host : host.substr(1, close - 1);
    }
    const auto colon = host.find(':');
    return colon == std::string_view::npos ? host : host.substr(0, colon);
}

std::size_t Router::matchSni(std::string_view sni) const noexcept {
    char buf[common::kMaxHostName];
    const std::string_view name = common::normaliseName(sni, buf);
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const Rule& r = rules_[i];
        if (!r.host.empty() || !r.path_prefix.empty()) continue;  // not a connection's route
        if (r.sni.empty() || (!name.empty() && common::patternMatches(r.sni, name))) return i;
    }
    return kNoRoute;
}

std::size_t Router::matchHttp(std::string_view host, std::string_view path) const noexcept {
    char buf[common::kMaxHostName];
    const std::string_view name = common::normaliseName(stripPort(host), buf);
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const Rule& r = rules_[i];
        if (!r.sni.empty()) continue;  // not a request's route
        if (!r.host.empty() && (name.empty() || !common::patternMatches(r.host, name))) continue;
        if (path.substr(0, r.path_prefix.size()) != r.path_prefix) continue;
        return i;
    }
    return kNoRoute;
}

}  // namespace postern::proxy
