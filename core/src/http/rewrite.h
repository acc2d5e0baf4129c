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

/** The head for the backend: the request line (method and target as received, HTTP/1.1), a
 * Host first when an HTTP/1.0 request had none (the absolute-form target's authority, or empty),
 * the client's fields minus hop-by-hop ones (Connection, Keep-Alive, Proxy-Connection, TE,
 * Trailer, Upgrade, and every field the Connection field names — except Host, Content-Length and Transfer-Encoding, which a client
 * could otherwise strip to make the backend frame the body differently), one Content-Length with
 * the parsed value (identical duplicates collapse), one Transfer-Encoding with every coding
 * (the body is forwarded as it came), then X-Forwarded-For (the client's values with
 * ", <client_ip>" appended, or a new field), X-Forwarded-Proto and X-Forwarded-Port (the client's
 * own are dropped: they would be believed), Forwarded (appended to the client's:
 * `for=<ip>;proto=<proto>;host=<host>`, IPv6 quoted in brackets, a host with a port quoted), then
 * "Connection: keep-alive", or "Connection: upgrade" + "Upgrade: websocket" for a WebSocket
 * upgrade. */
void writeBackendRequestHead(const RequestHead& request, const ForwardContext& ctx, std::string& out);

/** The head for the client: the status line in the client's version, the backend's fields minus
 * hop-by-hop ones and those its Connection names (a 101's Upgrade/Connection kept as they are),
 * one Content-Length, one Transfer-Encoding, then "Connection: close" when `close_client`, or
 * "Connection: keep-alive" for a 1.0 client that keeps the connection (nothing added to a 101).
 * A 1.0 client never gets Transfer-Encoding (RFC 9112 §6.1); with `dechunk` (a chunked body to a
 * 1.0 client) the session sends the body de-chunked and delimited by the close, so `close_client`
 * must be set too. */
void writeClientResponseHead(const ResponseHead& response, Version client_version, bool close_client,
                             bool dechunk, std::string& out);

}  // namespace postern::http
