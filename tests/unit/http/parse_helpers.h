// Test helpers: run the HTTP parsers over a whole buffer, or over growing prefixes of it in
// a moving buffer, the way a session feeds them.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace postern::http::test {

inline ParseResult parseRequest(std::string_view in, RequestHead& head, const Limits& limits = {}) {
    RequestParser p(limits);
    return p.parse(in, head);
}

/** Feeds `in` in pieces of `step` bytes (the last one shorter), each call with a fresh copy of
 * the bytes so far (the receive buffer moves), until the parser stops saying Incomplete. `buf`
 * ends holding the bytes `head` points into. */
inline ParseResult parseRequestInPieces(std::string_view in, std::size_t step, RequestHead& head,
                                        std::string& buf, const Limits& limits = {}) {
    RequestParser p(limits);
    ParseResult r;
    buf.clear();
    for (std::size_t pos = 0; pos < in.size();) {
        const std::size_t n = std::min(step, in.size() - pos);
        std::string grown = buf;
        grown.append(in.substr(pos, n));
        buf.swap(grown);
        pos += n;
        r = p.parse(buf, head);
        if (r.status != ParseStatus::Incomplete) break;
    }
    return r;
}

inline ParseResult parseResponse(std::string_view in, std::string_view method, ResponseHead& head) {
    ResponseParser p;
    return p.parse(in, method, head);
}

inline ParseResult parseResponseInPieces(std::string_view in, std::size_t step,
                                         std::string_view method, ResponseHead& head,
                                         std::string& buf) {
    ResponseParser p;
    ParseResult r;
    buf.clear();
    for (std::size_t pos = 0; pos < in.size();) {
        const std::size_t n = std::min(step, in.size() - pos);
        std::string grown = buf;
        grown.append(in.substr(pos, n));
        buf.swap(grown);
        pos += n;
        r = p.parse(buf, method, head);
        if (r.status != ParseStatus::Incomplete) break;
    }
    return r;
}

}  // namespace postern::http::test
