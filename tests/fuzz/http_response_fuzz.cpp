// libFuzzer target for the HTTP/1.1 response side (what a backend sends back). The first byte
// picks the request method the response answers (GET, HEAD, CONNECT, POST) and the client's
// version; the rest is the response. Checks on every input:
//   - errors are 502 with a reason; a head never takes more than it was given;
//   - pieces (with a moving buffer) give the verdict, reason, length and fields of the whole;
//   - a chunked body decodes alike whole and in pieces;
//   - the head sent to the client parses again with the same status and, unless de-chunked, the
//     same framing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/parser.h"
#include "http/rewrite.h"

using namespace postern::http;

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    static constexpr std::string_view kMethods[] = {"GET", "HEAD", "CONNECT", "POST"};
    const std::string_view method = kMethods[data[0] & 3];
    const Version client = (data[0] & 4) ? Version::Http10 : Version::Http11;
    const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);

    ResponseParser whole_parser;
    ResponseHead whole;
    const ParseResult w = whole_parser.parse(input, method, whole);
    check(w.consumed <= input.size(), "head took more than given");
    if (w.status == ParseStatus::Error)
        check(w.error_status == 502 && !w.error.empty(), "response errors are 502 with a reason");

    ResponseParser pieces_parser;
    ResponseHead pieces;
    ParseResult p;
    std::string buf;
    std::size_t pos = 0;
    for (std::size_t round = 0; pos < input.size(); ++round) {
        const std::size_t n =
            std::min<std::size_t>(input.size() - pos, 1 + data[round % size] % 19);
        std::string grown = buf;
        grown.append(input, pos, n);
        buf.swap(grown);
        pos += n;
        p = pieces_parser.parse(buf, method, pieces);
        if (p.status != ParseStatus::Incomplete) break;
    }
    if (input.empty()) return 0;
    check(p.status == w.status && p.error == w.error, "pieces changed the verdict");
    if (w.status != ParseStatus::Complete) return 0;
    check(p.consumed == w.consumed, "pieces changed the head length");
    check(pieces.status == whole.status && pieces.body == whole.body &&
              pieces.content_length == whole.content_length &&
              pieces.keep_alive == whole.keep_alive && pieces.reason == whole.reason,
          "pieces changed the head");
    check(pieces.headers.size() == whole.headers.size(), "pieces changed the field count");

    if (whole.body == BodyKind::Chunked) {
        const std::string_view body = std::string_view(input).substr(w.consumed);
        ChunkedDecoder a;
        std::string pa;
        const auto ra = a.feed(body, &pa);
        ChunkedDecoder b;
        std::string pb;
        ChunkedDecoder::Result rb;
        std::size_t consumed = 0;
        for (std::size_t i = 0; i < body.size(); ++i) {
            rb = b.feed(body.substr(i, 1), &pb);
            consumed += rb.consumed;
            if (rb.done || rb.error) break;
        }
        if (!body.empty()) {
            check(ra.done == rb.done && ra.error == rb.error, "chunked pieces changed the verdict");
            if (!ra.error) check(consumed == ra.consumed && pa == pb, "chunked pieces differ");
        }
    }

    const bool dechunk = whole.body == BodyKind::Chunked && client == Version::Http10;
    const bool close = dechunk || !whole.keep_alive || (data[0] & 8) != 0;
    std::string out;
    writeClientResponseHead(whole, client, close, dechunk, out);
    // Room for the fields Postern adds (Connection) on top of a head already at the limits.
    Limits roomy;
    roomy.max_head_bytes = 1 << 20;
    roomy.max_fields = 1000;
    ResponseParser again(roomy);
    ResponseHead reparsed;
    const ParseResult r = again.parse(out, method, reparsed);
    if (r.status != ParseStatus::Complete)
        std::fprintf(stderr, "client head (%s):\n%s\n", std::string(r.error).c_str(), out.c_str());
    check(r.status == ParseStatus::Complete && r.consumed == out.size(),
          "the client head does not parse");
    check(reparsed.status == whole.status, "the client head has another status");
    if (!dechunk) {
        check(reparsed.body == whole.body && reparsed.content_length == whole.content_length,
              "the client head frames the body differently");
    }
    return 0;
}
