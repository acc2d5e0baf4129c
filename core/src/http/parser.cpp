#include "http/parser.h"

#include <algorithm>
#include <cstring>

#include "http/char_class.h"

namespace postern::http {

namespace {

using chars::is;
using chars::isOws;

ParseResult incomplete() { return {}; }

ParseResult failure(std::uint16_t status, std::string_view why) {
    ParseResult r;
    r.status = ParseStatus::Error;
    r.error_status = status;
    r.error = why;
    return r;
}

std::string_view trimOws(std::string_view v) {
    std::size_t b = 0;
    std::size_t e = v.size();
    while (b < e && isOws(v[b])) ++b;
    while (e > b && isOws(v[e - 1])) --e;
    return v.substr(b, e - b);
}

/** Why byte `c` may not be in a field line: the named cases are the smuggling classics. */
std::string_view badByte(char c, std::string_view other) {
    if (c == '\r') return "bare CR in the head";
    if (c == '\0') return "NUL in the head";
    return other;
}

/** Content-Length (RFC 9110 §8.6): 1*DIGIT, or a list of identical such values ("5, 5") as an
 * upstream may have combined duplicates. No sign, no inner space, no hex; overflow refused. */
bool parseContentLength(std::string_view v, std::uint64_t& out) {
    bool have = false;
    std::uint64_t first = 0;
    std::size_t i = 0;
    for (;;) {
        while (i < v.size() && isOws(v[i])) ++i;
        const std::size_t start = i;
        std::uint64_t n = 0;
        while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
            const auto d = static_cast<std::uint64_t>(v[i] - '0');
            if (n > (UINT64_MAX - d) / 10) return false;
            n = n * 10 + d;
            ++i;
        }
        if (i == start) return false;  // empty element, sign, letter
        if (have && n != first) return false;
        first = n;
        have = true;
        while (i < v.size() && isOws(v[i])) ++i;
        if (i == v.size()) break;
        if (v[i] != ',') return false;
        ++i;
    }
    out = first;
    return true;
}

/** Transfer codings seen across every Transfer-Encoding field line of a message. */
struct Codings {
    bool seen = false;
    bool invalid = false;  ///< empty element, parameters, a non-token
    bool unknown = false;  ///< a well-formed coding we do not implement
    std::uint32_t chunked = 0;
    bool last_chunked = false;

    void add(std::string_view v) {
        seen = true;
        std::size_t i = 0;
        for (;;) {
            while (i < v.size() && isOws(v[i])) ++i;
            const std::size_t start = i;
            while (i < v.size() && is(v[i], chars::kToken)) ++i;
            const std::string_view coding = v.substr(start, i - start);
            while (i < v.size() && isOws(v[i])) ++i;
            if (coding.empty() || (i < v.size() && v[i] != ',')) {
                invalid = true;  // ",chunked", "chunked;x=1", "chunked x"
                return;
            }
            if (equalsIgnoreCase(coding, "chunked")) {
                ++chunked;
                last_chunked = true;
            } else {
                last_chunked = false;
                if (!equalsIgnoreCase(coding, "gzip") && !equalsIgnoreCase(coding, "x-gzip") &&
                    !equalsIgnoreCase(coding, "deflate") && !equalsIgnoreCase(coding, "compress") &&
                    !equalsIgnoreCase(coding, "x-compress"))
                    unknown = true;
            }
            if (i == v.size()) return;
            ++i;  // ','
        }
    }
};

/** Whether `name` reads as `field` when '_' is taken for '-': CGI-style backends (WSGI, PHP,
 * CGI) turn both into HTTP_TRANSFER_ENCODING, so "Transfer_Encoding" would frame the body there
 * while we ignore it. */
bool sameUnderscored(std::string_view name, std::string_view field) {
    if (name.size() != field.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i] == '_' ? '-' : chars::lower(name[i]);
        if (c != field[i]) return false;
    }
    return true;
}

/** "HTTP/1.1" → 11; 1.x with x > 1 is read as 1.1 (RFC 9112 §2.3); -1 malformed; -2 another
 * major version. */
int parseVersion(std::string_view v) {
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return -1;
    if (v[5] != '1') return -2;
    return v[7] == '0' ? 10 : 11;
}

/** One field line, validated: `name` up to the colon, `value` without OWS. Returns an error text,
 * or empty. */
std::string_view splitField(std::string_view line, std::string_view& name,
                            std::string_view& value) {
    if (isOws(line[0])) return "obs-fold or whitespace at the start of a field line";
    std::size_t k = 0;
    while (k < line.size() && is(line[k], chars::kToken)) ++k;
    if (k == line.size()) return "field line without a colon";
    if (line[k] != ':') {
        if (isOws(line[k])) return "whitespace before the colon of a field";
        return badByte(line[k], "invalid character in a field name");
    }
    if (k == 0) return "empty field name";
    const char* p = line.data() + k + 1;
    const char* end = line.data() + line.size();
    if (const char* q = chars::skipValue(p, end); q != end)
        return badByte(*q, "control character in a field value");
    name = line.substr(0, k);
    value = trimOws(std::string_view(p, static_cast<std::size_t>(end - p)));
    return {};
}

/** One Content-Length field of a head: the length it gives (the first one, or an equal repeat,
 * RFC 9110 §8.6) goes to `length`; else why it is refused. `seen` records that one came. */
const char* addContentLength(std::string_view value, bool& seen, std::uint64_t& length) {
    std::uint64_t n = 0;
    const char* why = nullptr;
    if (!parseContentLength(value, n))
        why = "invalid Content-Length";
    else if (seen && n != length)
        why = "differing Content-Length values";
    else
        length = n;
    seen = true;
    return why;
}

/** The line loop shared by requests and responses. `h` validates (and, when building, records)
 * the start line and each field line, then decides at the empty line. Line-local errors return at
 * once; `h` defers errors across fields to finish(), so the first bad byte always wins. */
template <class Handler>
ParseResult scanHead(std::string_view buf, const Limits& lim, HeadProgress& p, Handler& h) {
    const char* d = buf.data();
    const std::size_t n = buf.size();
    while (!p.started) {
        if (p.line_start >= n) return incomplete();
        if (p.line_start >= lim.max_head_bytes)
            return failure(Handler::kTooLarge, "header section too large");
        const char c = d[p.line_start];
        if (c == '\r') {
            if (p.line_start + 1 >= n) return incomplete();
            if (d[p.line_start + 1] != '\n') return failure(Handler::kBad, "bare CR in the head");
            p.line_start += 2;
            p.scanned = p.line_start;
            continue;
        }
        if (c == '\n') return failure(Handler::kBad, "line ends in LF without CR");
        p.started = true;
        p.head_start = p.line_start;
        p.scanned = p.line_start;
    }
    for (;;) {
        // The LF ending this line must lie below limit_end; measured on positions, not on how
        // the bytes arrived, so pieces and whole buffers fail alike.
        std::size_t limit_end = lim.max_head_bytes;
        std::uint16_t over = Handler::kTooLarge;
        std::string_view over_why = "header section too large";
        if (!p.in_fields) {
            const std::size_t line_end = p.head_start + Handler::startLineLimit(lim) + 2;
            if (line_end <= limit_end) {
                limit_end = line_end;
                over = Handler::kLineTooLong;
                over_why = Handler::kLineTooLongWhy;
            }
        }
        const std::size_t window = std::min(n, limit_end);
        if (!p.in_fields && !p.token_done) {
            // The first token is checked byte by byte as it arrives (a request's method, a
            // response's "HTTP/"), inside the same window, so garbage is refused at once and
            // whole buffers and pieces still meet the same first error.
            std::size_t k = std::max(p.token_scanned, p.head_start);
            if constexpr (Handler::kEarlyMethod) {
                while (k < window && is(d[k], chars::kToken)) ++k;
                p.token_scanned = k;
                if (k < window) {
                    if (d[k] != ' ' || k == p.head_start)
                        return failure(Handler::kBad, badByte(d[k], "invalid method"));
                    p.token_done = true;
                }
            } else {
                static constexpr std::string_view kHttp = "HTTP/";
                for (; k < window && k - p.head_start < kHttp.size(); ++k) {
                    if (d[k] != kHttp[k - p.head_start])
                        return failure(Handler::kBad, "not an HTTP/1.x status line");
                }
                p.token_scanned = k;
                if (k - p.head_start == kHttp.size()) p.token_done = true;
            }
        }
        const void* lf =
            p.scanned < window ? std::memchr(d + p.scanned, '\n', window - p.scanned) : nullptr;
        if (lf == nullptr) {
            if (n >= limit_end) return failure(over, over_why);
            p.scanned = n;
            return incomplete();
        }
        const std::size_t i = static_cast<std::size_t>(static_cast<const char*>(lf) - d);
        if (i == p.line_start || d[i - 1] != '\r')
            return failure(Handler::kBad, "line ends in LF without CR");
        const std::string_view line(d + p.line_start, i - 1 - p.line_start);
        p.line_start = i + 1;
        p.scanned = i + 1;
        if (!p.in_fields) {
            if (auto r = h.startLine(line); r.status == ParseStatus::Error) return r;
            p.in_fields = true;
            continue;
        }
        if (line.empty()) return h.finish(i + 1);
        if (++p.fields > lim.max_fields) return failure(Handler::kTooLarge, "too many fields");
        std::string_view name;
        std::string_view value;
        if (auto why = splitField(line, name, value); !why.empty())
            return failure(Handler::kBad, why);
        h.field(name, value);
    }
}

/** Request rules; Build: also fill the RequestHead and check across fields. */
template <bool Build>
class RequestHandler {
public:
    static constexpr std::uint16_t kBad = 400;
    static constexpr std::uint16_t kTooLarge = 431;
    static constexpr std::uint16_t kLineTooLong = 414;
    static constexpr std::string_view kLineTooLongWhy = "request line too long";
    static constexpr bool kEarlyMethod = true;
    static std::size_t startLineLimit(const Limits& l) { return l.max_request_line; }

    explicit RequestHandler(RequestHead& out) : out_(out) {
        if constexpr (Build) {
            out_.headers.clear();
            out_.host = {};
            out_.body = BodyKind::None;
            out_.content_length = 0;
            out_.keep_alive = true;
            out_.expect_continue = false;
            out_.upgrade = false;
        }
    }

    ParseResult startLine(std::string_view line) {
        std::size_t i = 0;
        while (i < line.size() && is(line[i], chars::kToken)) ++i;
        if (i == 0 || i == line.size() || line[i] != ' ')
            return failure(400, badByte(i < line.size() ? line[i] : ' ', "invalid method"));
        const std::string_view method = line.substr(0, i);
        const std::size_t t = i + 1;
        const std::size_t j = static_cast<std::size_t>(
            chars::skipTarget(line.data() + t, line.data() + line.size()) - line.data());
        if (j == t || j == line.size() || line[j] != ' ')
            return failure(400, badByte(j < line.size() ? line[j] : ' ', "invalid request target"));
        const std::string_view target = line.substr(t, j - t);
        const int version = parseVersion(line.substr(j + 1));
        if (version == -1) return failure(400, "invalid HTTP version");
        if (version == -2) return failure(505, "unsupported HTTP version");
        if (method == "CONNECT") return failure(501, "CONNECT is not supported");

        std::string_view path;
        std::string_view authority;
        if (target[0] == '/') {
            path = target.substr(0, target.find('?'));
        } else if (target == "*") {
            if (method != "OPTIONS") return failure(400, "asterisk-form target without OPTIONS");
            path = target;
        } else {
            std::size_t scheme = 0;
            if (target.size() > 7 && equalsIgnoreCase(target.substr(0, 7), "http://")) scheme = 7;
            if (target.size() > 8 && equalsIgnoreCase(target.substr(0, 8), "https://")) scheme = 8;
            if (scheme == 0) return failure(400, "invalid request target");
            std::size_t a = scheme;
            while (a < target.size() && target[a] != '/' && target[a] != '?') ++a;
            authority = target.substr(scheme, a - scheme);
            if (authority.empty() || !std::all_of(authority.begin(), authority.end(),
                                                  [](char c) { return is(c, chars::kHost); }))
                return failure(400, "invalid authority in the request target");
            path = a < target.size() && target[a] == '/' ? target.substr(a, target.find('?', a) - a)
                                                         : std::string_view("/");
        }
        if constexpr (Build) {
            out_.method = method;
            out_.target = target;
            out_.path = path;
            out_.version = version == 10 ? Version::Http10 : Version::Http11;
            authority_ = authority;
            absolute_ = !authority.empty();
        }
        return {};
    }

    void field(std::string_view name, std::string_view value) {
        if constexpr (Build) {
            out_.headers.push_back({name, value});
            switch (name.size()) {
                case 4:
                    if (equalsIgnoreCase(name, "host")) {
                        if (++hosts_ > 1) defer("several Host fields");
                        if (!std::all_of(value.begin(), value.end(),
                                         [](char c) { return is(c, chars::kHost); }))
                            defer("invalid Host");
                        out_.host = value;
                    }
                    break;
                case 6:
                    if (equalsIgnoreCase(name, "expect") && equalsIgnoreCase(value, "100-continue"))
                        expect_ = true;
                    break;
                case 7:
                    if (equalsIgnoreCase(name, "upgrade")) upgrade_ = true;
                    break;
                case 10:
                    if (equalsIgnoreCase(name, "connection")) {
                        if (listContains(value, "close")) close_ = true;
                        if (listContains(value, "keep-alive")) keep_alive_ = true;
                        if (listContains(value, "upgrade")) conn_upgrade_ = true;
                    }
                    break;
                case 14:
                    if (equalsIgnoreCase(name, "content-length")) {
                        if (const char* why = addContentLength(value, cl_seen_, out_.content_length))
                            defer(why);
                    }
                    break;
                case 17:
                    if (equalsIgnoreCase(name, "transfer-encoding")) te_.add(value);
                    break;
                default:
                    break;
            }
            if ((name.size() == 14 || name.size() == 17) && name.find('_') != name.npos &&
                (sameUnderscored(name, "content-length") ||
                 sameUnderscored(name, "transfer-encoding")))
                defer("framing field name spelled with '_'");
        } else {
            (void)name;
            (void)value;
        }
    }

    ParseResult finish(std::size_t consumed) {
        if constexpr (Build) {
            if (!deferred_.empty()) return failure(400, deferred_);
            const bool http10 = out_.version == Version::Http10;
            if (te_.seen) {
                if (cl_seen_) return failure(400, "Content-Length with Transfer-Encoding");
                if (http10) return failure(400, "Transfer-Encoding in an HTTP/1.0 request");
                if (te_.invalid) return failure(400, "invalid Transfer-Encoding");
                if (te_.unknown) return failure(501, "unknown transfer coding");
                if (te_.chunked > 1) return failure(400, "chunked applied twice");
                if (!te_.last_chunked)
                    return failure(400, "Transfer-Encoding not ending in chunked");
                out_.body = BodyKind::Chunked;
            } else if (cl_seen_) {
                out_.body = BodyKind::Length;
            }
            if (hosts_ == 0 && !http10) return failure(400, "HTTP/1.1 request without Host");
            if (absolute_) {
                if (hosts_ == 1 && !equalsIgnoreCase(out_.host, authority_))
                    return failure(400, "Host differs from the request target's authority");
                out_.host = authority_;
            }
            out_.keep_alive = !close_ && (!http10 || keep_alive_);
            out_.upgrade = upgrade_ && conn_upgrade_ && !http10;
            out_.expect_continue = expect_ && !http10;
        }
        ParseResult r;
        r.status = ParseStatus::Complete;
        r.consumed = consumed;
        return r;
    }

private:
    void defer(std::string_view why) {
        if (deferred_.empty()) deferred_ = why;
    }

    RequestHead& out_;
    std::string_view authority_;
    std::string_view deferred_;
    Codings te_;
    std::uint32_t hosts_ = 0;
    bool absolute_ = false;
    bool cl_seen_ = false;
    bool close_ = false;
    bool keep_alive_ = false;
    bool upgrade_ = false;
    bool conn_upgrade_ = false;
    bool expect_ = false;
};

/** Response rules (RFC 9112 §4, §6.3); every error is a 502 for the client. */
template <bool Build>
class ResponseHandler {
public:
    static constexpr std::uint16_t kBad = 502;
    static constexpr std::uint16_t kTooLarge = 502;
    static constexpr std::uint16_t kLineTooLong = 502;
    static constexpr std::string_view kLineTooLongWhy = "status line too long";
    static constexpr bool kEarlyMethod = false;
    static std::size_t startLineLimit(const Limits& l) { return l.max_request_line; }

    ResponseHandler(ResponseHead& out, std::string_view method) : out_(out), method_(method) {
        if constexpr (Build) {
            out_.headers.clear();
            out_.body = BodyKind::None;
            out_.content_length = 0;
            out_.keep_alive = true;
        }
    }

    ParseResult startLine(std::string_view line) {
        // HTTP-version SP 3DIGIT SP reason; "HTTP/1.1 200" without the SP and reason is taken too
        // (some servers send it; it cannot be read two ways).
        if (line.size() < 12 || line[8] != ' ') return failure(502, "invalid status line");
        const int version = parseVersion(line.substr(0, 8));
        if (version < 0) return failure(502, "invalid HTTP version in the status line");
        const char a = line[9];
        const char b = line[10];
        const char c = line[11];
        if (a < '1' || a > '5' || b < '0' || b > '9' || c < '0' || c > '9')
            return failure(502, "invalid status code");
        std::string_view reason;
        if (line.size() > 12) {
            if (line[12] != ' ') return failure(502, "invalid status line");
            reason = line.substr(13);
            for (char ch : reason) {
                if (!is(ch, chars::kValue))
                    return failure(502, badByte(ch, "invalid reason phrase"));
            }
        }
        if constexpr (Build) {
            out_.version = version == 10 ? Version::Http10 : Version::Http11;
            out_.status = static_cast<std::uint16_t>((a - '0') * 100 + (b - '0') * 10 + (c - '0'));
            out_.reason = reason;
        }
        return {};
    }

    void field(std::string_view name, std::string_view value) {
        if constexpr (Build) {
            out_.headers.push_back({name, value});
            switch (name.size()) {
                case 10:
                    if (equalsIgnoreCase(name, "connection")) {
                        if (listContains(value, "close")) close_ = true;
                        if (listContains(value, "keep-alive")) keep_alive_ = true;
                    }
                    break;
                case 14:
                    if (equalsIgnoreCase(name, "content-length")) {
                        if (const char* why = addContentLength(value, cl_seen_, out_.content_length))
                            defer(why);
                    }
                    break;
                case 17:
                    if (equalsIgnoreCase(name, "transfer-encoding")) te_.add(value);
                    break;
                default:
                    break;
            }
        } else {
            (void)name;
            (void)value;
        }
    }

    ParseResult finish(std::size_t consumed) {
        if constexpr (Build) {
            if (!deferred_.empty()) return failure(502, deferred_);
            const bool http10 = out_.version == Version::Http10;
            if (te_.seen) {
                if (cl_seen_) return failure(502, "Content-Length with Transfer-Encoding");
                if (http10) return failure(502, "Transfer-Encoding in an HTTP/1.0 response");
                if (te_.invalid) return failure(502, "invalid Transfer-Encoding");
                if (te_.chunked > 1 || (te_.chunked == 1 && !te_.last_chunked))
                    return failure(502, "chunked not applied once, last");
            }
            const std::uint16_t s = out_.status;
            out_.keep_alive = !close_ && (!http10 || keep_alive_);
            if (s < 200 || s == 204 || s == 304 || method_ == "HEAD" ||
                (method_ == "CONNECT" && s < 300)) {
                out_.body = BodyKind::None;
                if (s == 101) out_.keep_alive = false;  // the connection is no longer HTTP
            } else if (te_.seen) {
                out_.body = te_.last_chunked ? BodyKind::Chunked : BodyKind::UntilClose;
            } else if (cl_seen_) {
                out_.body = BodyKind::Length;
            } else {
                out_.body = BodyKind::UntilClose;
            }
            if (out_.body == BodyKind::UntilClose) out_.keep_alive = false;
        }
        ParseResult r;
        r.status = ParseStatus::Complete;
        r.consumed = consumed;
        return r;
    }

private:
    void defer(std::string_view why) {
        if (deferred_.empty()) deferred_ = why;
    }

    ResponseHead& out_;
    std::string_view method_;
    std::string_view deferred_;
    Codings te_;
    bool cl_seen_ = false;
    bool close_ = false;
    bool keep_alive_ = false;
};

/** Fresh parser: one pass validates and builds. Otherwise the new lines are validated, and once
 * the head is complete a second pass builds it from its first byte. */
template <template <bool> class H, class Out, class... Extra>
ParseResult parseHead(std::string_view buf, const Limits& limits, HeadProgress& progress, Out& out,
                      Extra... extra) {
    if (progress.scanned == 0 && !progress.started) {
        HeadProgress p;
        H<true> build(out, extra...);
        ParseResult r = scanHead(buf, limits, p, build);
        if (r.status == ParseStatus::Incomplete) progress = p;
        return r;
    }
    H<false> check(out, extra...);
    ParseResult r = scanHead(buf, limits, progress, check);
    if (r.status != ParseStatus::Complete) return r;
    progress = {};
    HeadProgress p;
    H<true> build(out, extra...);
    return scanHead(buf, limits, p, build);
}

}  // namespace

ParseResult RequestParser::parse(std::string_view buf, RequestHead& out) {
    return parseHead<RequestHandler>(buf, limits_, progress_, out);
}

ParseResult ResponseParser::parse(std::string_view buf, std::string_view request_method,
                                  ResponseHead& out) {
    return parseHead<ResponseHandler>(buf, limits_, progress_, out, request_method);
}

// ---------------------------------------------------------------------------------------------

void ChunkedDecoder::reset() { *this = ChunkedDecoder(); }

ChunkedDecoder::Result ChunkedDecoder::fail(std::size_t consumed, std::string_view why) {
    state_ = State::Error;
    why_ = why;
    Result r;
    r.consumed = consumed;
    r.error = true;
    r.why = why;
    return r;
}

ChunkedDecoder::Result ChunkedDecoder::feed(std::string_view data, std::string* payload) {
    Result r;
    if (state_ == State::Error) return fail(0, why_);
    if (state_ == State::Done) {
        r.done = true;
        return r;
    }
    const char* d = data.data();
    const std::size_t n = data.size();
    std::size_t i = 0;
    while (i < n) {
        const char c = d[i];
        switch (state_) {
            case State::Size:
                if (is(c, chars::kHex)) {
                    if (++digits_ > 16) return fail(i, "chunk size over 16 hex digits");
                    const int v = c <= '9' ? c - '0' : (chars::lower(c) - 'a' + 10);
                    remaining_ = (remaining_ << 4) | static_cast<std::uint64_t>(v);
                    ++line_bytes_;
                    ++i;
                    break;
                }
                if (digits_ == 0) return fail(i, "invalid chunk size");
                last_chunk_ = remaining_ == 0;
                if (c == '\r') {
                    state_ = State::SizeLf;
                } else if (c == ';' || isOws(c)) {
                    state_ = State::Extension;
                    ext_open_ = c == ';';
                } else {
                    return fail(i, "invalid chunk size");
                }
                ++line_bytes_;
                ++i;
                break;
            case State::Extension:
                if (c == '\r') {
                    if (!ext_open_) return fail(i, "whitespace after a chunk size");
                    state_ = State::SizeLf;
                } else if (!ext_open_) {
                    if (c == ';') {
                        ext_open_ = true;
                    } else if (!isOws(c)) {
                        return fail(i, "invalid chunk size");
                    }
                } else if (!is(c, chars::kValue)) {
                    return fail(i, c == '\n' ? "chunk line ends in LF without CR"
                                             : "control character in a chunk extension");
                }
                if (++line_bytes_ > kMaxLineBytes) return fail(i, "chunk extension too long");
                ++i;
                break;
            case State::SizeLf:
                if (c != '\n') return fail(i, "bare CR in a chunk size line");
                ++i;
                line_bytes_ = 0;
                digits_ = 0;
                ext_open_ = false;
                if (last_chunk_) {
                    state_ = State::Trailer;
                } else {
                    state_ = State::Data;
                }
                break;
            case State::Data: {
                const std::size_t take =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - i));
                if (payload != nullptr) payload->append(d + i, take);
                payload_bytes_ += take;
                remaining_ -= take;
                i += take;
                if (remaining_ == 0) state_ = State::DataCr;
                break;
            }
            case State::DataCr:
                if (c != '\r') return fail(i, "chunk data not followed by CRLF");
                state_ = State::DataLf;
                ++i;
                break;
            case State::DataLf:
                if (c != '\n') return fail(i, "chunk data not followed by CRLF");
                state_ = State::Size;
                ++i;
                break;
            case State::Trailer:
                if (c == '\r') {
                    line_empty_ = true;
                    state_ = State::TrailerLf;
                } else if (is(c, chars::kToken)) {
                    line_empty_ = false;
                    state_ = State::TrailerName;
                } else if (isOws(c)) {
                    return fail(i, "obs-fold in the trailer section");
                } else {
                    return fail(i, c == '\n' ? "trailer line ends in LF without CR"
                                             : "invalid trailer field");
                }
                if (++line_bytes_ > kMaxTrailerBytes) return fail(i, "trailer section too large");
                ++i;
                break;
            case State::TrailerName:
                if (c == ':') {
                    state_ = State::TrailerValue;
                } else if (!is(c, chars::kToken)) {
                    return fail(i, isOws(c) ? "whitespace before the colon of a trailer field"
                                            : "invalid trailer field name");
                }
                if (++line_bytes_ > kMaxTrailerBytes) return fail(i, "trailer section too large");
                ++i;
                break;
            case State::TrailerValue:
                if (c == '\r') {
                    state_ = State::TrailerLf;
                } else if (!is(c, chars::kValue)) {
                    return fail(i, c == '\n' ? "trailer line ends in LF without CR"
                                             : "control character in a trailer field");
                }
                if (++line_bytes_ > kMaxTrailerBytes) return fail(i, "trailer section too large");
                ++i;
                break;
            case State::TrailerLf:
                if (c != '\n') return fail(i, "bare CR in the trailer section");
                ++i;
                if (line_empty_) {
                    state_ = State::Done;
                    r.consumed = i;
                    r.done = true;
                    return r;
                }
                line_empty_ = true;
                state_ = State::Trailer;
                break;
            case State::Done:
            case State::Error:
                break;  // unreachable: returned above
        }
    }
    r.consumed = n;
    return r;
}

}  // namespace postern::http
