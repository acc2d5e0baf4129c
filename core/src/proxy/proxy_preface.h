// The PROXY protocol header a backend connection starts with when its pool asks for one
// (`[pool.backend] proxy_protocol = "v1" | "v2"`): built once per connection from what the
// session knows about its client, before the backend's TCP connect completes. Worker thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "config/model.h"
#include "net/socket_address.h"

namespace postern::tls {
class TlsStream;
}

namespace postern::proxy {

struct ClientFacts {
    net::SocketAddress source;       ///< the client (the carried one when a trusted proxy sent it)
    net::SocketAddress destination;  ///< the address the client connected to
    const tls::TlsStream* tls = nullptr;  ///< the listener's established TLS; null = plain TCP
    std::string_view unique_id;           ///< v2 UNIQUE_ID; empty = not sent
};

/** A connection id for the v2 UNIQUE_ID TLV: 32 lowercase hex digits of two random numbers,
 * written into `out`. */
std::string_view formatUniqueId(std::uint64_t high, std::uint64_t low, std::span<char, 32> out);

/** Replaces `out` with the header for `settings` (empty when proxy_protocol is off). v2 carries
 * ALPN, AUTHORITY (SNI) and SSL (version, cipher, client certificate flags and CN) when the
 * listener terminated TLS; a value over its TLV's limit is left out rather than truncated. */
void buildProxyPreface(const config::BackendSettings& settings, const ClientFacts& client,
                       std::string& out);

}  // namespace postern::proxy
