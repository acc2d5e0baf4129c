#include "plugin/instances.h"

namespace postern::plugin {

namespace {

void appendToString(void* ctx, postern_str bytes) noexcept {
    try {
        static_cast<std::string*>(ctx)->append(bytes.data, bytes.size);
    } catch (...) {
        // Out of memory while building a probe request: the probe sends less and fails.
    }
}

}  // namespace

std::string_view kindName(postern_kind kind) {
    switch (kind) {
        case POSTERN_KIND_BALANCER: return "balancer";
        case POSTERN_KIND_DISCOVERY: return "discovery";
        case POSTERN_KIND_PROBE: return "probe";
    }
    return "unknown";
}

postern_verdict ProbeSession::onConnected(std::string& send) const {
    postern_output out{&send, &appendToString};
    return ops_->on_connected(session_, &out);
}

postern_verdict ProbeSession::onData(std::string_view data, bool eof, std::string& send) const {
    postern_output out{&send, &appendToString};
    return ops_->on_data(session_, data.data(), data.size(), eof ? 1 : 0, &out);
}

postern_probe_result ProbeSession::result() const {
    postern_probe_result r{{nullptr, 0}, -1.0};
    if (ops_->result) ops_->result(session_, &r);
    return r;
}

postern_probe_transport Probe::transport() const {
    postern_probe_transport t{0, {nullptr, 0}, {nullptr, 0}};
    plugin_->descriptor->probe->transport(probe_, &t);
    return t;
}

std::unique_ptr<ProbeSession> Probe::newSession(const postern_backend& backend) const {
    const auto* ops = plugin_->descriptor->probe;
    void* s = ops->session_new(probe_, &backend);
    if (!s) return nullptr;
    return std::make_unique<ProbeSession>(ops, s);
}

}  // namespace postern::plugin
