#include "proxy/access_control.h"

#include "config/model.h"
#include "proxy/worker_context.h"

namespace postern::proxy {

CloseCause closeCause(AccessRefusal refusal) {
    switch (refusal) {
        case AccessRefusal::Acl:
            return CloseCause::RefusedAcl;
        case AccessRefusal::ClientRate:
            return CloseCause::RefusedClientRate;
        case AccessRefusal::ClientLimit:
        case AccessRefusal::None:  // not a refusal: never asked
            break;
    }
    return CloseCause::RefusedClientLimit;
}

ClientAdmission admitClient(const ListenerContext& listener, unsigned worker,
                            const net::SocketAddress& client,
                            std::chrono::steady_clock::time_point now) noexcept {
    ClientAdmission out;
    const config::ListenerConfig& cfg = *listener.config;
    ListenerCounters& stats = listener.stats->worker(worker);
    if (cfg.deny.contains(client) || (!cfg.allow.empty() && !cfg.allow.contains(client))) {
        stats.refused_acl.add();
        out.refused = AccessRefusal::Acl;
        return out;
    }
    if (!listener.client_limits) return out;
    const ClientLimits::Admission a = listener.client_limits->admit(client, now);
    if (a.untracked) stats.client_untracked.add();
    switch (a.verdict) {
        case ClientLimits::Verdict::Admitted:
            out.slot = a.slot;
            break;
        case ClientLimits::Verdict::RateExceeded:
            stats.refused_client_rate.add();
            out.refused = AccessRefusal::ClientRate;
            break;
        case ClientLimits::Verdict::ConcurrencyExceeded:
            stats.refused_client_limit.add();
            out.refused = AccessRefusal::ClientLimit;
            break;
    }
    return out;
}

ClientAdmission admitAtAccept(const ListenerContext& listener, unsigned worker,
                              const net::SocketAddress& peer,
                              std::chrono::steady_clock::time_point now) noexcept {
    if (listener.config->accept_proxy) return {};
    return admitClient(listener, worker, peer, now);
}

void releaseClient(const ListenerContext& listener, std::uint32_t slot) noexcept {
    if (slot != ClientLimits::kNoSlot && listener.client_limits)
        listener.client_limits->release(slot);
}

}  // namespace postern::proxy
