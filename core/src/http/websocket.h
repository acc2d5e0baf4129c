// The client side of the WebSocket opening handshake as a proxy checks it (RFC 6455 §4.2.1): a
// valid upgrade is forwarded; the backend's 101 then turns the connection into a byte relay.
#pragma once

#include <cstdint>

#include "http/message.h"

namespace postern::http {

enum class UpgradeCheck : std::uint8_t {
    NotWebSocket,  ///< no "Upgrade: websocket": an ordinary request (or another protocol, see below)
    Valid,         ///< GET, HTTP/1.1, Upgrade: websocket, Connection: upgrade, exactly one
                   ///< Sec-WebSocket-Key that is 16 bytes in base64 (24 characters ending in
                   ///< "=="), exactly one Sec-WebSocket-Version: 13, and no body (a body before
                   ///< the relay would be frames to one side and a body to the other)
    Invalid,       ///< asks for websocket but breaks a rule above: 400
    WrongVersion,  ///< one Sec-WebSocket-Version, other than 13 (the rest valid): 426 with
                   ///< "Sec-WebSocket-Version: 13"
};

/** Requests with an Upgrade other than websocket are NotWebSocket; the session forwards them
 * without the Upgrade field (hop-by-hop), as an ordinary request. */
UpgradeCheck checkWebSocketUpgrade(const RequestHead& request);

}  // namespace postern::http
