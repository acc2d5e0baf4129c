// The heads Postern sends on, rebuilt from the parsed ones (RFC 9110 §7.6 for hop-by-hop fields,
// RFC 7239 for Forwarded). Bodies are never touched here. Any thread; appends to `out`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"

namespace postern::http {

struct ForwardContext {
    std::string_view client_ip;  ///< textual, IPv6 without brackets (the PROXY-carried one when accepted)
    std::uint16_t client_port = 0;
    std::string_view proto;      ///< "http" or "https": the listener's
    std::uint16_t listener_port = 0;  ///< the port the client connected to (X-Forwarded-Port)
    bool websocket = false;      ///< a valid WebSocket upgrade: Upgrade/Connection go through
};

/** The head for the backend: the request line (method and target as received, HTTP/1.1), the
 * client's fields minus hop-by-hop ones (Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Upgrade, and every field the Connection field names; Transfer-Encoding stays, the body is
 * forwarded as it came), then X-Forwarded-For (the client's value with ", <client_ip>" appended,
 * or a new field), X-Forwarded-Proto, X-Forwarded-Port and Forwarded (appended to an existing
 * one: `for=<ip>;proto=<proto>;host=<host>`, IPv6 quoted in brackets), then "Connection:
 * keep-alive", or "Connection: upgrade" + "Upgrade: websocket" for a WebSocket upgrade. */
void writeBackendRequestHead(const RequestHead& request, const ForwardContext& ctx, std::string& out);

/** The head for the client: the status line in the client's version, the backend's fields minus
 * hop-by-hop ones (a 101's Upgrade/Connection kept), then "Connection: close" when
 * `close_client`, or "Connection: keep-alive" for a 1.0 client that keeps the connection. With
 * `dechunk` (a chunked body to a 1.0 client) Transfer-Encoding is dropped: the body is sent
 * de-chunked and delimited by the close. */
void writeClientResponseHead(const ResponseHead& response, Version client_version, bool close_client,
                             bool dechunk, std::string& out);

}  // namespace postern::http
