#include "codec/proxy_header_reader.h"

#include <algorithm>

namespace postern::codec {

ProxyHeaderReader::Status ProxyHeaderReader::read(net::Fd fd, std::span<char> scratch,
                                                  bool peer_closed) {
    const std::size_t cap = std::min(scratch.size(), kMaxHeaderLength);
    const net::IoResult peek = net::peekSome(fd, scratch.data(), cap);
    switch (peek.status) {
        case net::IoStatus::WouldBlock:
            return Status::NeedMore;  // (a FIN with nothing before it reads as Eof, not this)
        case net::IoStatus::Eof:
            reason_ = "connection closed before the PROXY header was complete";
            return Status::Closed;
        case net::IoStatus::Reset:
        case net::IoStatus::Error:
            reason_ = "connection reset before the PROXY header was complete";
            return Status::Closed;
        case net::IoStatus::Ok:
            break;
    }
    // The socket still holds every byte fed so far: only what lies beyond them is new.
    const std::size_t seen = parser_.buffered();
    auto incomplete = [&] {
        if (!peer_closed) return Status::NeedMore;
        reason_ = "connection closed before the PROXY header was complete";
        return Status::Closed;
    };
    if (peek.bytes <= seen) return incomplete();
    const auto result = parser_.feed(std::string_view(scratch.data() + seen, peek.bytes - seen));
    switch (result.status) {
        case ProxyHeaderParser::Status::NeedMore:
            // cap >= kMaxHeaderLength, and the parser never needs more than that: a NeedMore
            // here means the peer has not sent the rest (yet, unless it closed).
            return incomplete();
        case ProxyHeaderParser::Status::Invalid:
            reason_ = result.reason;
            return Status::Invalid;
        case ProxyHeaderParser::Status::Done:
            break;
    }
    // Take exactly the header off the socket; it is all there (just peeked).
    std::size_t left = parser_.info().header_length;
    for (int tries = 0; left > 0 && tries < 4; ++tries) {
        const net::IoResult r = net::recvSome(fd, scratch.data(), left);
        if (r.status != net::IoStatus::Ok) break;
        left -= r.bytes;
    }
    if (left > 0) {
        reason_ = "could not remove the PROXY header from the socket";
        return Status::Closed;
    }
    return Status::Done;
}

}  // namespace postern::codec
