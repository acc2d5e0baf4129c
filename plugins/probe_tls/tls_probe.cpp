// The `tls` probe plugin: a backend is healthy when the core's TCP connect and TLS handshake
// succeed, including the check of the backend's certificate against the pool's
// `[pool.backend] tls_ca` / `tls_verify` and its host name or IP address (the core does all of
// it: this plugin only asks for TLS through transport()). Keys: `sni` (the name to send and
// check; default `tls_sni`, then the target's host name) and `alpn` (protocols to offer). Built
// only against the plugin SDK.
#include <memory>
#include <new>
#include <string>

#include "postern/plugin/sdk.h"

namespace postern::plugins::tls_probe {

/** One check: done when the transport is up, i.e. the handshake and verification passed. */
class TlsSession final : public postern::sdk::ProbeSession {
public:
    postern::sdk::Verdict onConnected(postern::sdk::Output& out) noexcept override {
        (void)out;
        return postern::sdk::Verdict::Healthy;
    }
    postern::sdk::Verdict onData(std::string_view data, bool eof, postern::sdk::Output& out) noexcept override {
        // Not reached: the verdict came with the handshake.
        (void)data;
        (void)eof;
        (void)out;
        return postern::sdk::Verdict::Healthy;
    }
};

/** One per pool, from `[pool.probe]`. Control thread. */
class TlsProbe final : public postern::sdk::Probe {
public:
    static std::unique_ptr<TlsProbe> create(postern::sdk::Config& config, postern::sdk::Host& host) noexcept {
        (void)host;
        try {
            auto probe = std::unique_ptr<TlsProbe>(new TlsProbe());
            bool ok = true;
            postern::sdk::Node sni = config.get("sni");
            postern::sdk::Node alpn = config.get("alpn");
            if (sni) {
                auto v = sni.asString();
                if (!v) {
                    sni.error("'sni' must be a string, not " + std::string(describe(sni.type())));
                    ok = false;
                } else if (!postern::sdk::isHostName(*v)) {
                    sni.error("'sni' must be a host name (letters, digits, '-' and '_' in dot-separated labels), "
                              "not \"" + std::string(*v) + "\"");
                    ok = false;
                } else {
                    probe->sni_ = std::string(*v);
                }
            }
            if (alpn) {
                if (alpn.type() != postern::sdk::NodeType::Array) {
                    alpn.error("'alpn' must be an array of strings, not " + std::string(describe(alpn.type())));
                    ok = false;
                }
                for (std::size_t i = 0; i < alpn.size(); ++i) {
                    postern::sdk::Node item = alpn.at(i);
                    auto v = item.asString();
                    if (!v) {
                        item.error("each element of 'alpn' must be a string, not " + std::string(describe(item.type())));
                        ok = false;
                    } else if (v->empty() || v->size() > 255 || v->find(',') != std::string_view::npos) {
                        item.error("ALPN protocol names must be 1 to 255 bytes long, without ','");
                        ok = false;
                    } else {
                        if (!probe->alpn_.empty()) probe->alpn_ += ',';
                        probe->alpn_ += *v;
                    }
                }
            }
            if (!ok) return nullptr;
            return probe;
        } catch (...) {
            return nullptr;  // out of memory
        }
    }

    postern::sdk::Transport transport() const noexcept override { return {true, sni_, alpn_}; }

    std::unique_ptr<postern::sdk::ProbeSession> newSession(const postern_backend& backend) noexcept override {
        (void)backend;
        return std::unique_ptr<postern::sdk::ProbeSession>(new (std::nothrow) TlsSession());
    }

private:
    std::string sni_;   ///< "" = the core's default (tls_sni, then the target's host name)
    std::string alpn_;  ///< comma-separated
};

}  // namespace postern::plugins::tls_probe

POSTERN_PROBE_PLUGIN("tls", "1.0.0", postern::plugins::tls_probe::TlsProbe);
