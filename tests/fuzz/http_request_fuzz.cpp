// libFuzzer target for the HTTP/1.1 request side: the first code that reads a client's bytes on
// an http/https listener. Besides "no crash, no sanitizer report" it checks on every input:
//   - a head never takes more bytes than it was given; errors carry one of the statuses the
//     parser promises and a reason;
//   - feeding the same bytes in pieces (each call with a moved copy of the buffer, as a session's
//     receive buffer grows) gives the verdict, the status, the reason, the length and the fields
//     of feeding them at once — with the default limits and with small ones;
//   - a chunked body decodes alike whole and in pieces, and never takes bytes past its end;
//   - the head Postern would send to the backend parses again, completely, with the same framing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/parser.h"
#include "http/rewrite.h"
#include "http/websocket.h"

using namespace postern::http;

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

bool inside(std::string_view view, std::string_view buf) {
    if (view.empty()) return true;
    return view.data() >= buf.data() && view.data() + view.size() <= buf.data() + buf.size();
}

bool promisedStatus(std::uint16_t s) {
    return s == 400 || s == 414 || s == 431 || s == 501 || s == 505;
}

struct Verdict {
    ParseResult result;
    RequestHead head;
    std::string buf;  ///< the bytes `head` points into
};

void wholeParse(std::string_view input, const Limits& limits, Verdict& v) {
    v.buf.assign(input);
    RequestParser p(limits);
    v.result = p.parse(v.buf, v.head);
}

void piecesParse(std::string_view input, const Limits& limits, const std::uint8_t* steps,
                 std::size_t nsteps, Verdict& v) {
    RequestParser p(limits);
    v.buf.clear();
    std::size_t pos = 0;
    for (std::size_t round = 0; pos < input.size(); ++round) {
        const std::size_t n =
            std::min<std::size_t>(input.size() - pos, 1 + steps[round % nsteps] % 23);
        std::string grown;
        grown.reserve(v.buf.size() + n);
        grown = v.buf;
        grown.append(input.substr(pos, n));
        v.buf.swap(grown);  // the old buffer is freed: stale views would be caught by ASan
        pos += n;
        v.result = p.parse(v.buf, v.head);
        if (v.result.status != ParseStatus::Incomplete) break;
    }
}

void sameVerdict(const Verdict& a, const Verdict& b) {
    check(a.result.status == b.result.status, "pieces changed the verdict");
    check(a.result.error_status == b.result.error_status, "pieces changed the error status");
    check(a.result.error == b.result.error, "pieces changed the error reason");
    if (a.result.status != ParseStatus::Complete) return;
    check(a.result.consumed == b.result.consumed, "pieces changed the head length");
    check(a.head.method == b.head.method && a.head.target == b.head.target &&
              a.head.path == b.head.path && a.head.host == b.head.host,
          "pieces changed the request line or host");
    check(a.head.version == b.head.version && a.head.body == b.head.body &&
              a.head.content_length == b.head.content_length &&
              a.head.keep_alive == b.head.keep_alive && a.head.upgrade == b.head.upgrade &&
              a.head.expect_continue == b.head.expect_continue,
          "pieces changed what was derived");
    check(a.head.headers.size() == b.head.headers.size(), "pieces changed the field count");
    for (std::size_t i = 0; i < a.head.headers.size(); ++i) {
        check(a.head.headers[i].name == b.head.headers[i].name &&
                  a.head.headers[i].value == b.head.headers[i].value,
              "pieces changed a field");
    }
}

void checkVerdict(const Verdict& v, std::size_t size, const Limits& limits) {
    const ParseResult& r = v.result;
    if (r.status == ParseStatus::Error) {
        check(promisedStatus(r.error_status), "an error status the parser does not promise");
        check(!r.error.empty(), "an error without a reason");
        return;
    }
    if (r.status != ParseStatus::Complete) return;
    check(r.consumed >= 4 && r.consumed <= size, "head length out of range");
    check(r.consumed <= limits.max_head_bytes, "head over the limit");
    check(v.buf.compare(r.consumed - 4, 4, "\r\n\r\n") == 0, "head does not end in CRLF CRLF");
    check(v.head.headers.size() <= limits.max_fields, "more fields than the limit");
    const std::string_view head(v.buf.data(), r.consumed);
    check(inside(v.head.method, head) && inside(v.head.target, head), "request line view");
    check(inside(v.head.host, head), "host view");
    check(v.head.path == "/" || inside(v.head.path, head), "path view");
    for (const Header& h : v.head.headers) {
        check(!h.name.empty() && inside(h.name, head) && inside(h.value, head), "field view");
    }
    check(v.head.body != BodyKind::UntilClose, "a request body delimited by the close");
}

/** The body bytes after the head, when chunked: whole and in pieces alike. */
void checkChunked(std::string_view body, const std::uint8_t* steps, std::size_t nsteps) {
    ChunkedDecoder whole;
    std::string payload;
    const auto w = whole.feed(body, &payload);
    check(w.consumed <= body.size(), "chunked took more than given");
    check(w.done || w.error || w.consumed == body.size(), "chunked left bytes while not done");
    check(!w.error || !w.why.empty(), "chunked error without a reason");
    check(payload.size() == whole.payloadBytes(), "payload count differs from the payload");

    ChunkedDecoder pieces;
    std::string payload2;
    std::size_t pos = 0;
    std::size_t consumed = 0;
    ChunkedDecoder::Result last;
    for (std::size_t round = 0; pos < body.size(); ++round) {
        const std::size_t n =
            std::min<std::size_t>(body.size() - pos, 1 + steps[round % nsteps] % 7);
        last = pieces.feed(body.substr(pos, n), &payload2);
        consumed += last.consumed;
        pos += n;
        if (last.done || last.error) break;
    }
    if (body.empty()) return;
    check(last.done == w.done && last.error == w.error, "chunked pieces changed the verdict");
    check(last.why == w.why, "chunked pieces changed the reason");
    if (!w.error) {
        check(consumed == w.consumed, "chunked pieces changed the length");
        check(payload2 == payload, "chunked pieces changed the payload");
    }
}

void checkRewrite(const RequestHead& head, std::uint8_t flavour) {
    ForwardContext ctx;
    ctx.client_ip = (flavour & 1) ? std::string_view("2001:db8::7") : std::string_view("192.0.2.7");
    ctx.client_port = 40000;
    ctx.proto = (flavour & 2) ? "https" : "http";
    ctx.listener_port = 8443;
    ctx.websocket = checkWebSocketUpgrade(head) == UpgradeCheck::Valid;
    std::string out;
    writeBackendRequestHead(head, ctx, out);
    Limits roomy;
    roomy.max_head_bytes = 1 << 20;
    roomy.max_fields = 1000;
    roomy.max_request_line = 1 << 20;
    RequestParser again(roomy);
    RequestHead reparsed;
    const ParseResult r = again.parse(out, reparsed);
    if (r.status != ParseStatus::Complete) {
        std::fprintf(stderr, "rewritten head (%s):\n%s\n", std::string(r.error).c_str(),
                     out.c_str());
    }
    check(r.status == ParseStatus::Complete, "the rewritten head does not parse");
    check(r.consumed == out.size(), "the rewritten head has another length");
    check(reparsed.body == head.body && reparsed.content_length == head.content_length,
          "the rewritten head frames the body differently");
    check(reparsed.method == head.method && reparsed.target == head.target,
          "the rewritten request line differs");
    check(reparsed.upgrade == ctx.websocket, "upgrade not forwarded as decided");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    Limits small;
    small.max_request_line = 64;
    small.max_head_bytes = 256;
    small.max_fields = 8;
    for (const Limits& limits : {Limits{}, small}) {
        Verdict whole;
        wholeParse(input, limits, whole);
        checkVerdict(whole, size, limits);
        Verdict pieces;
        piecesParse(input, limits, data, size, pieces);
        sameVerdict(whole, pieces);
        if (whole.result.status != ParseStatus::Complete) continue;
        if (whole.head.body == BodyKind::Chunked)
            checkChunked(std::string_view(whole.buf).substr(whole.result.consumed), data, size);
        checkRewrite(whole.head, data[size - 1]);
    }
    return 0;
}
