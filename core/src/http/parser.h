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
//   400  malformed request line or field line (line ends other than CRLF included); obs-fold;
//        whitespace between name and colon; a bare CR, a NUL or another control character
//        anywhere; Content-Length with Transfer-Encoding; differing or invalid Content-Length
//        values; Transfer-Encoding whose last coding is not chunked, or chunked twice, or in an
//        HTTP/1.0 request; "Content_Length" or "Transfer_Encoding" (CGI-style backends read '_'
//        as '-'); HTTP/1.1 without Host, several Host fields, an invalid Host, or an
//        absolute-form target whose authority differs from Host
//   501  a transfer coding Postern does not know; the CONNECT method (no tunnels)
//   505  a well-formed HTTP version other than 1.x
//        (an invalid method is refused as soon as its byte arrives: a TLS ClientHello or other
//        garbage on a plain port gets its 400 at once, not after the line limit)
//   414  request line over Limits::max_request_line (CRLF excluded)
//   431  head (from the first byte, the empty line included) over Limits::max_head_bytes, or
//        more than Limits::max_fields field lines
// Identical duplicate Content-Length values ("5" twice, or "5, 5") are accepted as one (RFC 9110
// §8.6); the rewriter then sends a single field. Errors are decided in byte order: the first
// malformed line wins, then the checks across fields; so feeding a head in pieces gives the same
// verdict as feeding it whole (the fuzzer checks this).
// Responses: the same strictness (a first byte other than "HTTP/" is refused at once); any error
// means 502 to the client.
// One thread at a time; no allocation except RequestHead/ResponseHead::headers growing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/message.h"

namespace postern::http {

enum class ParseStatus : std::uint8_t { Incomplete, Complete, Error };

/** How far a parser has looked into a head that is not complete yet (internal to the parsers). */
struct HeadProgress {
    std::size_t line_start = 0;  ///< first byte of the line whose end is not found yet
    std::size_t scanned = 0;     ///< bytes already searched for that line's LF
    std::size_t head_start = 0;  ///< the start line's first byte (after skipped empty lines)
    std::size_t token_scanned = 0;  ///< end of the checked part of the first token (the
                                    ///< request's method, the response's "HTTP/")
    std::uint32_t fields = 0;       ///< complete field lines so far
    bool started = false;           ///< the start line has begun
    bool in_fields = false;         ///< the start line is complete and valid
    bool token_done = false;        ///< that first token is complete and valid
};

struct ParseResult {
    ParseStatus status = ParseStatus::Incomplete;
    std::size_t consumed = 0;        ///< Complete: the head's length, its final CRLF CRLF included
    std::uint16_t error_status = 0;  ///< Error: the status to answer (400, 414, 431, 501, 505; 502)
    std::string_view error;          ///< Error: why, a static string for the log
};

class RequestParser {
public:
    explicit RequestParser(const Limits& limits = {}) : limits_(limits) {}
    /** `buf`: every byte received for this request so far, from its first byte. On Complete,
     * `out` describes the head (views into `buf`) and the body starts at buf[consumed]. Empty
     * lines before a request line are skipped (RFC 9112 §2.2) and counted in `consumed`.
     * `buf` may move between calls (only offsets are remembered). Complete heads are built in
     * the same pass that validates them; a head that arrived in pieces is built once more when
     * its end arrives. After Complete the parser starts afresh (parse() again gives the same
     * head); after Error the connection is dead. */
    ParseResult parse(std::string_view buf, RequestHead& out);
    /** Ready for the next request on the connection. */
    void reset() { progress_ = {}; }

private:
    Limits limits_;
    HeadProgress progress_;
};

class ResponseParser {
public:
    explicit ResponseParser(const Limits& limits = {}) : limits_(limits) {}
    /** As RequestParser::parse; `request_method` decides framing (HEAD: no body; a 2xx to
     * CONNECT: none either). 1xx heads (100 Continue, 101 Switching Protocols) parse as complete
     * heads with BodyKind::None; the caller reads the next head after a 100. */
    ParseResult parse(std::string_view buf, std::string_view request_method, ResponseHead& out);
    void reset() { progress_ = {}; }

private:
    Limits limits_;
    HeadProgress progress_;
};

/** Follows a chunked body as it streams (sizes, extensions, the last chunk, trailers), so the
 * proxy knows where the message ends while forwarding its bytes unchanged. Strict (RFC 9112
 * §7.1): a chunk size is 1-16 hex digits (no sign, no "0x", no whitespace before it), an
 * extension starts with ';' (optionally after SP/HTAB) and holds no control character, every line
 * ends in CRLF (a bare LF or CR is an error), chunk data is followed by CRLF, trailer fields are
 * field lines (no obs-fold, no whitespace before the colon). Bounds: 4 KiB per chunk-size line,
 * 4 KiB for the whole trailer section. After an error every feed reports the same error; on a
 * request body the session answers 400 if it has not answered yet, and the connection ends. */
class ChunkedDecoder {
public:
    static constexpr std::uint32_t kMaxLineBytes = 4096;
    static constexpr std::uint32_t kMaxTrailerBytes = 4096;

    struct Result {
        std::size_t consumed = 0;  ///< bytes of `data` that belong to this body
        bool done = false;         ///< the body ended at data[consumed]
        bool error = false;        ///< malformed at data[consumed]: message and connection dead
        std::string_view why;      ///< error: a static string for the log
    };
    /** The next bytes of the body. `consumed` < data.size() only when done (the rest belongs
     * to the next message) or on error. With `payload` non-null, the chunk data (without the
     * framing) is appended to it: used to de-chunk for an HTTP/1.0 client. */
    Result feed(std::string_view data, std::string* payload = nullptr);
    void reset();
    /** Chunk data seen so far (framing excluded). */
    std::uint64_t payloadBytes() const { return payload_bytes_; }
    bool done() const { return state_ == State::Done; }

private:
    enum class State : std::uint8_t {
        Size,          ///< chunk-size digits
        Extension,     ///< after the size: BWS, then ';' and the extension up to CR
        SizeLf,        ///< the LF after the size line's CR
        Data,          ///< chunk data, remaining_ bytes left
        DataCr,        ///< the CR after the data
        DataLf,        ///< the LF after the data
        Trailer,       ///< the first byte of a trailer line (CR: the end)
        TrailerName,   ///< a trailer field name, up to ':'
        TrailerValue,  ///< a trailer field value, up to CR
        TrailerLf,     ///< the LF after a trailer line's CR
        Done,
        Error,
    };
    Result fail(std::size_t consumed, std::string_view why);

    State state_ = State::Size;
    std::uint64_t remaining_ = 0;  ///< of the current chunk's data
    std::uint32_t digits_ = 0;
    std::uint32_t line_bytes_ = 0;  ///< size-line / trailer-section bytes, bounded
    bool last_chunk_ = false;       ///< the size line being read is the last chunk's (size 0)
    bool line_empty_ = true;        ///< TrailerLf: the line that ends was empty (end of body)
    bool ext_open_ = false;         ///< Extension: the ';' was seen
    std::string_view why_;          ///< Error: the first error, repeated
    std::uint64_t payload_bytes_ = 0;
};

}  // namespace postern::http
