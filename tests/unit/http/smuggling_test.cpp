// Request smuggling and malformed requests: every input gets the status SPEC §3 names, whole or
// fed in pieces. A refused head is never Complete, so nothing of it is forwarded; a broken chunked
// body is refused by the decoder at its first bad byte (ChunkedDecoder::Result::consumed stops
// there, so no byte of the bad line is forwarded either).
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "http/parser.h"
#include "unit/http/parse_helpers.h"

namespace postern::http {
namespace {

struct Case {
    const char* name;
    std::string input;
    std::uint16_t status;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string repeat(std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out.append(s);
    return out;
}

std::string manyFields(std::size_t n) {
    std::string out = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (std::size_t i = 1; i < n; ++i) out += "X-F" + std::to_string(i) + ": v\r\n";
    return out + "\r\n";
}

const std::string kGet = "GET / HTTP/1.1\r\nHost: a\r\n";
const std::string kPost = "POST / HTTP/1.1\r\nHost: a\r\n";
const std::string kChunked = kPost + "Transfer-Encoding: chunked\r\n\r\n";

std::vector<Case> cases() {
    using namespace std::string_literals;
    return {
        // Content-Length and Transfer-Encoding together, in every order and spelling.
        {"cl_then_te", kPost + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"te_then_cl", kPost + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", 400},
        {"cl_zero_with_te", kPost + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"te_uppercase_with_cl", kPost + "TRANSFER-ENCODING: CHUNKED\r\nContent-Length: 1\r\n\r\n",
         400},
        // Content-Length values.
        {"cl_differing_duplicates", kPost + "Content-Length: 4\r\nContent-Length: 5\r\n\r\n", 400},
        {"cl_differing_list", kPost + "Content-Length: 4, 5\r\n\r\n", 400},
        {"cl_plus_sign", kPost + "Content-Length: +4\r\n\r\n", 400},
        {"cl_minus_sign", kPost + "Content-Length: -4\r\n\r\n", 400},
        {"cl_inner_space", kPost + "Content-Length: 1 2\r\n\r\n", 400},
        {"cl_hex", kPost + "Content-Length: 0x10\r\n\r\n", 400},
        {"cl_letters", kPost + "Content-Length: 4a\r\n\r\n", 400},
        {"cl_empty", kPost + "Content-Length: \r\n\r\n", 400},
        {"cl_empty_list_element", kPost + "Content-Length: 4,\r\n\r\n", 400},
        {"cl_overflow", kPost + "Content-Length: 18446744073709551616\r\n\r\n", 400},
        {"cl_huge_overflow", kPost + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
        {"cl_decimal_point", kPost + "Content-Length: 4.0\r\n\r\n", 400},
        // Transfer-Encoding values.
        {"te_not_last_chunked", kPost + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {"te_gzip_only", kPost + "Transfer-Encoding: gzip\r\n\r\n", 400},
        {"te_chunked_twice", kPost + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
        {"te_chunked_twice_lines",
         kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"te_chunked_then_gzip_lines",
         kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"te_unknown_coding", kPost + "Transfer-Encoding: foo, chunked\r\n\r\n", 501},
        {"te_xchunked", kPost + "Transfer-Encoding: xchunked\r\n\r\n", 501},
        {"te_identity", kPost + "Transfer-Encoding: identity\r\n\r\n", 501},
        {"te_chunked_params", kPost + "Transfer-Encoding: chunked;q=1\r\n\r\n", 400},
        {"te_empty_element", kPost + "Transfer-Encoding: ,chunked\r\n\r\n", 400},
        {"te_empty", kPost + "Transfer-Encoding: \r\n\r\n", 400},
        {"te_vertical_tab", kPost + "Transfer-Encoding: \vchunked\r\n\r\n", 400},
        {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"te_underscore", kPost + "Content-Length: 4\r\nTransfer_Encoding: chunked\r\n\r\n", 400},
        {"cl_underscore", kPost + "Transfer-Encoding: chunked\r\ncontent_length: 4\r\n\r\n", 400},
        // Field-line syntax.
        {"obs_fold", kGet + "X-A: b\r\n c\r\n\r\n", 400},
        {"obs_fold_tab", kGet + "X-A: b\r\n\tc\r\n\r\n", 400},
        {"obs_fold_te", kPost + "Transfer-Encoding:\r\n chunked\r\n\r\n", 400},
        {"space_before_first_field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
        {"space_before_colon", kPost + "Transfer-Encoding : chunked\r\n\r\n", 400},
        {"tab_before_colon", kPost + "Content-Length\t: 4\r\n\r\n", 400},
        {"no_colon", kGet + "X-A b\r\n\r\n", 400},
        {"empty_name", kGet + ": b\r\n\r\n", 400},
        {"bad_name_char", kGet + "X(A): b\r\n\r\n", 400},
        {"bare_cr_in_value", kGet + "X-A: b\rc\r\n\r\n", 400},
        {"bare_cr_line_end", kGet + "X-A: b\r\r\n\r\n", 400},
        {"nul_in_value", kGet + "X-A: b\0c\r\n\r\n"s, 400},
        {"nul_in_name", kGet + "X-\0A: b\r\n\r\n"s, 400},
        {"control_in_value", kGet + "X-A: b\x01\r\n\r\n", 400},
        {"del_in_value", kGet + "X-A: b\x7f\r\n\r\n", 400},
        {"lf_only_field", kGet + "X-A: b\n\r\n", 400},
        {"lf_only_head", "GET / HTTP/1.1\nHost: a\n\n", 400},
        {"lf_only_end", kGet + "\n", 400},
        {"cr_before_request", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        // Request line.
        {"method_bad_char", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"method_empty", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"two_spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"tab_separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"target_with_space", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"target_fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"target_non_ascii", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"target_relative", "GET a HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"target_asterisk_get", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"target_other_scheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"target_userinfo", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"version_lowercase", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        {"version_missing", "GET /\r\nHost: a\r\n\r\n", 400},
        {"version_trailing_space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
        {"version_two_digits", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
        {"version_2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        {"version_0_9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
        {"connect", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501},
        // Host.
        {"missing_host", "GET / HTTP/1.1\r\n\r\n", 400},
        {"two_hosts", kGet + "Host: b\r\n\r\n", 400},
        {"two_hosts_same", kGet + "Host: a\r\n\r\n", 400},
        {"two_hosts_http10", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"host_with_slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        {"host_with_at", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
        {"absolute_host_differs", "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", 400},
        {"absolute_without_host", "GET http://a/ HTTP/1.1\r\n\r\n", 400},
        // Limits.
        {"request_line_too_long", "GET /" + std::string(8200, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
         414},
        {"request_line_too_long_no_crlf", "GET /" + std::string(9000, 'a'), 414},
        {"head_too_large", kGet + repeat("X-Pad: " + std::string(1000, 'p') + "\r\n", 33) + "\r\n",
         431},
        {"head_too_large_no_end", kGet + repeat("X-Pad: " + std::string(1000, 'p') + "\r\n", 33),
         431},
        {"too_many_fields", manyFields(101), 431},
        {"too_many_empty_lines", repeat("\r\n", 17 * 1024), 431},
        // Chunked bodies (the head is fine; the session answers 400 for a broken body).
        {"chunk_size_17_digits", kChunked + "00000000000000005\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk_size_overflow", kChunked + "10000000000000000\r\n", 400},
        {"chunk_size_0x", kChunked + "0x5\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk_size_negative", kChunked + "-5\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk_size_leading_space", kChunked + " 5\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk_size_empty", kChunked + "\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk_size_lf_only", kChunked + "5\nhello\r\n0\r\n\r\n", 400},
        {"chunk_data_without_crlf", kChunked + "5\r\nhello0\r\n\r\n", 400},
        {"chunk_data_lf_only", kChunked + "5\r\nhello\n0\r\n\r\n", 400},
        {"chunk_data_longer_than_size", kChunked + "3\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk_last_lf_only", kChunked + "0\n\n", 400},
        {"chunk_extension_bare_cr", kChunked + "5;a\rb\r\nhello\r\n0\r\n\r\n", 400},
        {"chunk_trailer_obs_fold", kChunked + "0\r\nX: a\r\n b\r\n\r\n", 400},
    };
}

/** What the session answers: the parser's status, or, for a chunked body, 400 when the decoder
 * refuses it; 0 when the request is taken whole. */
std::uint16_t verdict(const ParseResult& r, const RequestHead& head, std::string_view buf,
                      std::string& why) {
    if (r.status == ParseStatus::Error) {
        why = std::string(r.error);
        return r.error_status;
    }
    if (r.status != ParseStatus::Complete) return 0;
    if (head.body != BodyKind::Chunked) return 0;
    ChunkedDecoder body;
    const auto b = body.feed(buf.substr(r.consumed));
    if (!b.error) return 0;
    why = std::string(b.why);
    return 400;
}

class Smuggling : public ::testing::TestWithParam<Case> {};

TEST_P(Smuggling, RefusedWithItsStatusWholeAndInPieces) {
    const Case& c = GetParam();
    RequestHead head;
    const ParseResult whole = test::parseRequest(c.input, head);
    std::string why;
    EXPECT_EQ(verdict(whole, head, c.input, why), c.status) << c.name << ": " << why;
    EXPECT_FALSE(why.empty());
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{512}}) {
        std::string buf;
        const ParseResult pieces = test::parseRequestInPieces(c.input, step, head, buf);
        std::string pieces_why;
        EXPECT_EQ(verdict(pieces, head, c.input, pieces_why), c.status)
            << c.name << " step " << step;
        EXPECT_EQ(pieces_why, why) << c.name << " step " << step;
    }
}

INSTANTIATE_TEST_SUITE_P(Inputs, Smuggling, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                             return std::string(info.param.name);
                         });

TEST(SmugglingList, HasAtLeastThirtyInputs) { EXPECT_GE(cases().size(), 30u); }

// The accepted neighbours of the refused inputs: the rules are not simply "refuse everything".
TEST(SmugglingNeighbours, IdenticalDuplicateContentLengthIsOneLength) {
    RequestHead head;
    const std::string in = kPost + "Content-Length: 4\r\nContent-Length: 4\r\n\r\nbody";
    const ParseResult r = test::parseRequest(in, head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(head.body, BodyKind::Length);
    EXPECT_EQ(head.content_length, 4u);
    EXPECT_EQ(in.substr(r.consumed), "body");

    const ParseResult list = test::parseRequest(kPost + "Content-Length: 7, 7\r\n\r\n", head);
    ASSERT_EQ(list.status, ParseStatus::Complete) << list.error;
    EXPECT_EQ(head.content_length, 7u);
}

TEST(SmugglingNeighbours, GzipThenChunkedIsChunked) {
    RequestHead head;
    const ParseResult r = test::parseRequest(
        kPost + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", head);
    ASSERT_EQ(r.status, ParseStatus::Complete) << r.error;
    EXPECT_EQ(head.body, BodyKind::Chunked);
}

TEST(SmugglingNeighbours, LimitsAreInclusive) {
    RequestHead head;
    // A request line of exactly 8 KiB (CRLF excluded) is taken.
    std::string line = "GET /";
    line += std::string(8192 - line.size() - 9, 'a') + " HTTP/1.1";
    ASSERT_EQ(line.size(), 8192u);
    EXPECT_EQ(test::parseRequest(line + "\r\nHost: a\r\n\r\n", head).status, ParseStatus::Complete);
    EXPECT_EQ(test::parseRequest(manyFields(100), head).status, ParseStatus::Complete);
    // A head of exactly 32 KiB.
    std::string big = kGet + "X-Pad: ";
    big += std::string(32 * 1024 - big.size() - 4, 'p') + "\r\n\r\n";
    ASSERT_EQ(big.size(), 32u * 1024);
    EXPECT_EQ(test::parseRequest(big, head).status, ParseStatus::Complete);
    EXPECT_EQ(test::parseRequest(big.substr(0, big.size() - 4) + "p\r\n\r\n", head).error_status,
              431);
}

TEST(SmugglingNeighbours, OversizeIsDetectedBeforeTheLineEnds) {
    RequestParser p;
    RequestHead head;
    std::string buf = "GET /" + std::string(8180, 'a');
    EXPECT_EQ(p.parse(buf, head).status, ParseStatus::Incomplete);
    buf += "aaaaaaaaaa";  // 8195 bytes and still no LF: the line cannot fit any more
    const ParseResult r = p.parse(buf, head);
    EXPECT_EQ(r.status, ParseStatus::Error);
    EXPECT_EQ(r.error_status, 414);
}

}  // namespace
}  // namespace postern::http

namespace postern::http {
namespace {

// Garbage on a plain HTTP port (a TLS ClientHello, a binary protocol) is refused at its first
// byte that cannot be in a method, without waiting for a line end or the line limit.
TEST(SmugglingNeighbours, GarbageIsRefusedAtOnce) {
    RequestParser p;
    RequestHead head;
    const std::string hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
    const ParseResult r = p.parse(hello, head);
    EXPECT_EQ(r.status, ParseStatus::Error);
    EXPECT_EQ(r.error_status, 400);
    RequestParser q;
    EXPECT_EQ(q.parse("GET", head).status, ParseStatus::Incomplete);
    EXPECT_EQ(q.parse("GET /", head).status, ParseStatus::Incomplete);
    RequestParser g;
    EXPECT_EQ(g.parse("GE(", head).status, ParseStatus::Error);
}

}  // namespace
}  // namespace postern::http
