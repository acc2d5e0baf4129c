// HTTP/1.1 message heads as the parser hands them out: views into the caller's receive buffer
// (valid until that buffer changes), plus what the parser derived from the fields (framing,
// keep-alive, Host, upgrade) so no caller parses a field twice. Any thread; no allocation except
// the headers vector, which a session reuses across requests (clear() keeps its capacity).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace postern::http {

enum class Version : std::uint8_t { Http10, Http11 };

/** One field line. `value` has its surrounding whitespace (OWS) removed. */
struct Header {
    std::string_view name;
    std::string_view value;
};

/** How a body is delimited (RFC 9112 §6). */
enum class BodyKind : std::uint8_t {
    None,        ///< no body (requests without CL/TE; HEAD/1xx/204/304 responses)
    Length,      ///< Content-Length bytes (0 included: "Content-Length: 0" is forwarded as such)
    Chunked,     ///< Transfer-Encoding ending in chunked
    UntilClose,  ///< responses only: the body ends when the backend closes
};

struct Limits {
    std::size_t max_request_line = 8 * 1024;  ///< longer → 414 (SPEC §3)
    std::size_t max_head_bytes = 32 * 1024;   ///< header section larger → 431
    std::size_t max_fields = 100;             ///< more field lines → 431
};

struct RequestHead {
    std::string_view method;
    std::string_view target;  ///< the request-target as received
    std::string_view path;    ///< its path: origin-form up to '?', or the path of an absolute-form target
    Version version = Version::Http11;
    std::vector<Header> headers;
    // Derived:
    std::string_view host;  ///< Host (or the absolute-form authority), as received, port included
    BodyKind body = BodyKind::None;
    std::uint64_t content_length = 0;  ///< BodyKind::Length
    bool keep_alive = true;        ///< 1.1 without "Connection: close"; 1.0 with "keep-alive"
    bool expect_continue = false;  ///< "Expect: 100-continue"
    bool upgrade = false;          ///< an Upgrade field and "upgrade" in Connection
};

struct ResponseHead {
    Version version = Version::Http11;
    std::uint16_t status = 0;
    std::string_view reason;
    std::vector<Header> headers;
    // Derived (framing depends on the request's method: HEAD has no response body):
    BodyKind body = BodyKind::None;
    std::uint64_t content_length = 0;
    bool keep_alive = true;  ///< the backend connection may carry another request after this one
                             ///< (never after a 101, nor after a body delimited by the close)
};

/** Case-insensitive ASCII comparison of field names and tokens. */
bool equalsIgnoreCase(std::string_view a, std::string_view b);
/** Whether the comma-separated list `value` holds `token` (case-insensitive, OWS around items). */
bool listContains(std::string_view value, std::string_view token);

}  // namespace postern::http
