// The `tcp` probe plugin: a backend is healthy when the core's TCP connect (and PROXY line, when
// configured) succeeds. It reads no keys, so a key such as `path` under a tcp probe is reported by
// the host as unknown. Built only against the plugin SDK.
#include <memory>
#include <new>

#include "postern/plugin/sdk.h"

namespace postern::plugins::tcp_probe {

/** One connect check. Control thread. */
class TcpSession final : public postern::sdk::ProbeSession {
public:
    postern::sdk::Verdict onConnected(postern::sdk::Output& out) noexcept override {
        (void)out;
        return postern::sdk::Verdict::Healthy;
    }
    postern::sdk::Verdict onData(std::string_view data, bool eof,
                                 postern::sdk::Output& out) noexcept override {
        // Not reached in practice (the verdict came at connect); bytes or a close do not change it.
        (void)data;
        (void)eof;
        (void)out;
        return postern::sdk::Verdict::Healthy;
    }
};

/** One per pool. Control thread. */
class TcpProbe final : public postern::sdk::Probe {
public:
    static std::unique_ptr<TcpProbe> create(postern::sdk::Config& config,
                                            postern::sdk::Host& host) noexcept {
        (void)config;
        (void)host;
        return std::unique_ptr<TcpProbe>(new (std::nothrow) TcpProbe());
    }

    postern::sdk::Transport transport() const noexcept override { return {}; }  // plain TCP

    std::unique_ptr<postern::sdk::ProbeSession> newSession(const postern_backend& backend) noexcept override {
        (void)backend;
        return std::unique_ptr<postern::sdk::ProbeSession>(new (std::nothrow) TcpSession());
    }
};

}  // namespace postern::plugins::tcp_probe

POSTERN_PROBE_PLUGIN("tcp", "1.0.0", postern::plugins::tcp_probe::TcpProbe);
