#include "http_probe.h"

#include <new>

namespace postern::plugins::http_probe {

namespace {

bool hasSpaceOrControl(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
    return false;
}

constexpr std::string_view kAlpn = "http/1.1";

}  // namespace

postern::sdk::Verdict HttpSession::onConnected(postern::sdk::Output& out) noexcept {
    out.write(request_);
    return postern::sdk::Verdict::NeedMore;
}

postern::sdk::Verdict HttpSession::onData(std::string_view data, bool eof,
                                          postern::sdk::Output& out) noexcept {
    (void)out;
    try {
        return judge_.feed(data, eof);
    } catch (...) {
        return postern::sdk::Verdict::Unhealthy;  // out of memory
    }
}

std::unique_ptr<HttpProbe> HttpProbe::create(postern::sdk::Config& config, postern::sdk::Host& host,
                                             bool tls) noexcept {
    (void)host;
    try {
        std::unique_ptr<HttpProbe> probe(new HttpProbe());
        probe->tls_ = tls;
        bool ok = true;
        // Look every key up first, so none is reported as unknown after an error elsewhere.
        postern::sdk::Node path_node = config.get("path");
        postern::sdk::Node host_node = config.get("host");
        postern::sdk::Node expect_node = config.get("expect_status");
        postern::sdk::Node sni_node = tls ? config.get("sni") : postern::sdk::Node();
        if (path_node) {
            auto v = path_node.asString();
            if (!v) {
                path_node.error("'path' must be a string, not " +
                                std::string(describe(path_node.type())));
                ok = false;
            } else if (v->empty() || v->front() != '/' || hasSpaceOrControl(*v)) {
                path_node.error(
                    "'path' must start with '/' and contain no spaces or control characters, got "
                    "\"" +
                    std::string(*v) + "\"");
                ok = false;
            } else {
                probe->path_ = std::string(*v);
            }
        }
        if (host_node) {
            auto v = host_node.asString();
            if (!v) {
                host_node.error("'host' must be a string, not " +
                                std::string(describe(host_node.type())));
                ok = false;
            } else if (hasSpaceOrControl(*v)) {
                host_node.error("'host' must contain no spaces or control characters, got \"" +
                                std::string(*v) + "\"");
                ok = false;
            } else {
                probe->host_ = std::string(*v);
            }
        }
        std::string error;
        if (expect_node) {
            auto v = expect_node.asString();
            std::optional<StatusSet> parsed;
            if (!v) {
                expect_node.error("'expect_status' must be a string such as \"200-399\", not " +
                                  std::string(describe(expect_node.type())));
                ok = false;
            } else if (!(parsed = StatusSet::parse(*v, error))) {
                expect_node.error(error);
                ok = false;
            } else {
                probe->expect_ = std::move(*parsed);
            }
        } else {
            probe->expect_ = *StatusSet::parse("200-399", error);
        }
        if (sni_node) {
            auto v = sni_node.asString();
            if (!v) {
                sni_node.error("'sni' must be a string, not " +
                               std::string(describe(sni_node.type())));
                ok = false;
            } else if (!postern::sdk::isHostName(*v)) {
                sni_node.error(
                    "'sni' must be a host name (letters, digits, '-' and '_' in dot-separated "
                    "labels), not \"" +
                    std::string(*v) + "\"");
                ok = false;
            } else {
                probe->sni_ = std::string(*v);
            }
        }
        if (!ok) return nullptr;
        return probe;
    } catch (...) {
        config.error("the http probe plugin ran out of memory while reading its configuration");
        return nullptr;
    }
}

postern::sdk::Transport HttpProbe::transport() const noexcept {
    if (!tls_) return {};
    return {true, sni_, kAlpn};
}

std::unique_ptr<postern::sdk::ProbeSession> HttpProbe::newSession(
    const postern_backend& backend) noexcept {
    try {
        return std::make_unique<HttpSession>(
            buildRequest(path_, hostHeader(host_, postern::sdk::view(backend.host), backend.port)),
            expect_);
    } catch (...) {
        return nullptr;  // counted as a failed check
    }
}

}  // namespace postern::plugins::http_probe
