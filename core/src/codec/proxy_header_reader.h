// Reads the PROXY protocol header a trusted proxy puts in front of a client connection, straight
// off the socket and without taking a byte more: it peeks (MSG_PEEK), feeds only the bytes it has
// not seen yet to a ProxyHeaderParser, and once the header is complete removes exactly the header
// from the socket. The client's payload stays in the kernel for whatever reads next (the TLS
// handshake or the relay), so nothing has to be carried over by hand. Owned by one session; used
// on its worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "net/socket_ops.h"
#include "codec/proxy_protocol.h"

namespace postern::codec {

class ProxyHeaderReader {
public:
    enum class Status : std::uint8_t {
        NeedMore,  ///< wait for the socket to be readable again
        Done,      ///< info() is the header; it is gone from the socket, the payload is not
        Invalid,   ///< reason() says what is wrong
        Closed,    ///< the client closed (or reset) before the header was complete
    };

    /** One step on a socket that may be readable. `scratch` must hold kMaxHeaderLength bytes.
     * `peer_closed`: the peer's FIN was seen (EPOLLRDHUP). Peeking cannot see a FIN behind
     * unread bytes, so the caller says so, and an incomplete header is then final (Closed). */
    Status read(net::Fd fd, std::span<char> scratch, bool peer_closed = false);

    const ProxyHeaderInfo& info() const { return parser_.info(); }
    /** Header bytes seen so far (0: the peer sent nothing at all). */
    std::size_t received() const { return parser_.buffered(); }
    /** Why the header was refused (Invalid), or the socket error (Closed). */
    std::string_view reason() const { return reason_; }

private:
    ProxyHeaderParser parser_;
    std::string_view reason_;
};

}  // namespace postern::codec
