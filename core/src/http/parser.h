// A strict, incremental HTTP/1.1 parser (RFC 9110 / 9112), written for a proxy: anything two
// implementations could read two ways is refused, so what reaches a backend has exactly one
// meaning (request smuggling). Why our own and not a library: docs/http.md.
//
// Incremental: the caller keeps the bytes received so far in one buffer and calls parse() again
// with the whole buffer whenever more arrived; the parser remembers how far it has looked for the
// end of the head, so each call costs only the new bytes until the head is complete. Limits are
// enforced on incomplete input too (a 9 KiB request line is 414 before its CRLF arrives).
//
// Requests (each refused with the status named, and nothing forwarded):
//   400  malformed request line or field line; obs-fold; whitespace between name and colon; a
//        bare CR or a NUL anywhere; Content-Length with Transfer-Encoding; differing or invalid
//        Content-Length values; Transfer-Encoding whose last coding is not chunked, or chunked
//        twice; HTTP/1.1 without Host, or several Host fields; an unsupported HTTP version
//   501  a transfer coding other than chunked
//   414  request line over Limits::max_request_line
//   431  header section over Limits::max_head_bytes or Limits::max_fields
// Responses: the same strictness; any error means 502 to the client.
// One thread at a time; no allocation except RequestHead/ResponseHead::headers growing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"

namespace postern::http {

enum class ParseStatus : std::uint8_t { Incomplete, Complete, Error };

struct ParseResult {
    ParseStatus status = ParseStatus::Incomplete;
    std::size_t consumed = 0;        ///< Complete: the head's length, its final CRLF CRLF included
    std::uint16_t error_status = 0;  ///< Error: the status to answer (400, 414, 431, 501; 502)
    std::string_view error;          ///< Error: why, a static string for the log
};

class RequestParser {
public:
    explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}
    /** `buf`: every byte received for this request so far, from its first byte. On Complete,
     * `out` describes the head (views into `buf`) and the body starts at buf[consumed]. Empty
     * lines before a request line are skipped (RFC 9112 §2.2) and counted in `consumed`. */
    ParseResult parse(std::string_view buf, RequestHead& out);
    /** Ready for the next request on the connection. */
    void reset() { scanned_ = 0; }

private:
    Limits limits_;
    std::size_t scanned_ = 0;
};

class ResponseParser {
public:
    explicit ResponseParser(const Limits& limits = {}) : limits_(limits) {}
    /** As RequestParser::parse; `request_method` decides framing (HEAD: no body; a 2xx to
     * CONNECT: none either). 1xx heads (100 Continue, 101 Switching Protocols) parse as complete
     * heads with BodyKind::None; the caller reads the next head after a 100. */
    ParseResult parse(std::string_view buf, std::string_view request_method, ResponseHead& out);
    void reset() { scanned_ = 0; }

private:
    Limits limits_;
    std::size_t scanned_ = 0;
};

/** Follows a chunked body as it streams (sizes, extensions, the last chunk, trailers), so the
 * proxy knows where the message ends while forwarding its bytes unchanged. Strict: a chunk size
 * must be 1-16 hex digits without overflow, lines end in CRLF, extensions and trailers are
 * bounded (4 KiB each). */
class ChunkedDecoder {
public:
    struct Result {
        std::size_t consumed = 0;  ///< bytes of `data` that belong to this body
        bool done = false;         ///< the body ended at data[consumed]
        bool error = false;        ///< malformed: the message (and the connection) are dead
        std::string_view why;      ///< error: a static string for the log
    };
    /** The next bytes of the body. `consumed` < data.size() only when done (the rest belongs
     * to the next message) or on error. With `payload` non-null, the chunk data (without the
     * framing) is appended to it: used to de-chunk for an HTTP/1.0 client. */
    Result feed(std::string_view data, std::string* payload = nullptr);
    void reset();
    /** Chunk data seen so far (framing excluded). */
    std::uint64_t payloadBytes() const { return payload_bytes_; }

private:
    enum class State : std::uint8_t { Size, Extension, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf, Done };
    State state_ = State::Size;
    std::uint64_t remaining_ = 0;  ///< of the current chunk's data
    std::uint32_t digits_ = 0;
    std::uint32_t line_bytes_ = 0;  ///< extension / trailer bytes, bounded
    bool last_chunk_ = false;
    bool line_empty_ = true;        ///< trailer section: the current line has no byte yet
    std::uint64_t payload_bytes_ = 0;
};

}  // namespace postern::http
