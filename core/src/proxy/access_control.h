// A listener's access control (SPEC §3): its `deny` and `allow` CIDR lists and its per-client
// limits (ClientLimits), applied to the client address — the PROXY-carried one on accept_proxy
// listeners, which therefore check after the header instead of at accept. Order: deny/allow,
// then the per-client rate, then per-client concurrency (the listener's and the global
// max_connections come after, in the worker). Any worker thread; no lock, allocation or
// exception.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "net/socket_address.h"
#include "proxy/client_limits.h"
#include "proxy/close_cause.h"

namespace postern::proxy {

struct ListenerContext;

enum class AccessRefusal : std::uint8_t { None, Acl, ClientRate, ClientLimit };

/** The close cause of a refusal (RefusedAcl, RefusedClientRate, RefusedClientLimit); not for None.
 */
CloseCause closeCause(AccessRefusal refusal);

struct ClientAdmission {
    AccessRefusal refused = AccessRefusal::None;
    /** The per-client concurrency entry taken (ClientLimits::kNoSlot: none); give it back with
     * releaseClient() when the connection ends or a later check refuses it. */
    std::uint32_t slot = ClientLimits::kNoSlot;
};

/** Checks `client` against the listener's lists and limits; counts a refusal (by reason) and an
 * untracked admission in the listener's stats (the block of `worker`, the caller's index). */
ClientAdmission admitClient(const ListenerContext& listener, unsigned worker,
                            const net::SocketAddress& client,
                            std::chrono::steady_clock::time_point now) noexcept;

/** admitClient() at accept time, for listeners that do not wait for a PROXY header (those
 * check in the session, on the carried address). */
ClientAdmission admitAtAccept(const ListenerContext& listener, unsigned worker,
                              const net::SocketAddress& peer,
                              std::chrono::steady_clock::time_point now) noexcept;

void releaseClient(const ListenerContext& listener, std::uint32_t slot) noexcept;

}  // namespace postern::proxy
