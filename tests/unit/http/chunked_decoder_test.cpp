#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/parser.h"

namespace postern::http {
namespace {

struct Outcome {
    bool done = false;
    bool error = false;
    std::size_t consumed = 0;  ///< total over the feeds
    std::string payload;
    std::string why;
};

/** Feeds `body` cut at the given offsets; stops at done or error like a session would. */
Outcome feedCut(std::string_view body, const std::vector<std::size_t>& cuts) {
    ChunkedDecoder d;
    Outcome o;
    std::size_t pos = 0;
    std::vector<std::size_t> ends = cuts;
    ends.push_back(body.size());
    for (std::size_t end : ends) {
        if (end < pos) continue;
        const auto r = d.feed(body.substr(pos, end - pos), &o.payload);
        o.consumed += r.consumed;
        if (r.error) {
            o.error = true;
            o.why = std::string(r.why);
            return o;
        }
        if (r.done) {
            o.done = true;
            return o;
        }
        EXPECT_EQ(r.consumed, end - pos) << "not done: every byte is the body's";
        pos = end;
    }
    return o;
}

Outcome feedWhole(std::string_view body) { return feedCut(body, {}); }

/** Whole, and split once at every offset, and byte by byte: all alike. */
void expectSameEverywhere(std::string_view body) {
    const Outcome whole = feedWhole(body);
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        const Outcome o = feedCut(body, {cut});
        ASSERT_EQ(o.done, whole.done) << "cut " << cut;
        ASSERT_EQ(o.error, whole.error) << "cut " << cut;
        ASSERT_EQ(o.consumed, whole.consumed) << "cut " << cut;
        ASSERT_EQ(o.payload, whole.payload) << "cut " << cut;
        ASSERT_EQ(o.why, whole.why) << "cut " << cut;
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
    const Outcome bytes = feedCut(body, every);
    EXPECT_EQ(bytes.done, whole.done);
    EXPECT_EQ(bytes.consumed, whole.consumed);
    EXPECT_EQ(bytes.payload, whole.payload);
}

TEST(ChunkedDecoder, DecodesAndStopsAtTheEnd) {
    const std::string body = "5\r\nhello\r\n7;name=value\r\n, world\r\n0\r\n\r\nGET /next";
    const Outcome o = feedWhole(body);
    EXPECT_TRUE(o.done);
    EXPECT_FALSE(o.error);
    EXPECT_EQ(o.payload, "hello, world");
    EXPECT_EQ(body.substr(o.consumed), "GET /next");
    expectSameEverywhere(body);
}

TEST(ChunkedDecoder, Trailers) {
    const std::string body = "3\r\nabc\r\n0\r\nChecksum: 1234\r\nX-T:\r\n\r\nrest";
    const Outcome o = feedWhole(body);
    EXPECT_TRUE(o.done) << o.why;
    EXPECT_EQ(o.payload, "abc");
    EXPECT_EQ(body.substr(o.consumed), "rest");
    expectSameEverywhere(body);
}

TEST(ChunkedDecoder, LargeSizesUpperCaseAndLeadingZeros) {
    std::string data(0x1a2, 'x');
    const std::string body = "00001A2\r\n" + data + "\r\n0000\r\n\r\n";
    const Outcome o = feedWhole(body);
    EXPECT_TRUE(o.done) << o.why;
    EXPECT_EQ(o.payload, data);
    EXPECT_EQ(o.consumed, body.size());
    ChunkedDecoder d;
    d.feed(body);
    EXPECT_EQ(d.payloadBytes(), data.size());
    EXPECT_TRUE(d.done());
}

TEST(ChunkedDecoder, ExtensionsWithWhitespaceBeforeTheSemicolon) {
    const Outcome o = feedWhole("2 \t;ext\r\nab\r\n0;last\r\n\r\n");
    EXPECT_TRUE(o.done) << o.why;
    EXPECT_EQ(o.payload, "ab");
}

TEST(ChunkedDecoder, WithoutPayloadSinkCountsOnly) {
    ChunkedDecoder d;
    const auto r = d.feed("4\r\nabcd\r\n0\r\n\r\n");
    EXPECT_TRUE(r.done);
    EXPECT_EQ(d.payloadBytes(), 4u);
    // After the end, nothing more is taken.
    const auto again = d.feed("more");
    EXPECT_TRUE(again.done);
    EXPECT_EQ(again.consumed, 0u);
    d.reset();
    EXPECT_FALSE(d.done());
    EXPECT_EQ(d.payloadBytes(), 0u);
}

TEST(ChunkedDecoder, BadInputs) {
    const std::vector<std::string> bad = {
        "",                                         // (only incomplete: checked below)
        "x\r\n",                                    // not hex
        "0x5\r\nhello\r\n0\r\n\r\n",                // "0x" prefix
        "-5\r\nhello\r\n0\r\n\r\n",                 // negative
        "+5\r\nhello\r\n0\r\n\r\n",                 // sign
        " 5\r\nhello\r\n0\r\n\r\n",                 // leading whitespace
        "5 \r\nhello\r\n0\r\n\r\n",                 // trailing whitespace, no extension
        "11111111111111111\r\n",                    // 17 hex digits
        "00000000000000005\r\nhello\r\n0\r\n\r\n",  // 17 digits, even as leading zeros
        "5\nhello\r\n0\r\n\r\n",                    // LF-only size line
        "5\rhello\r\n0\r\n\r\n",                    // bare CR
        "5\r\nhello0\r\n\r\n",                      // data not followed by CRLF
        "5\r\nhello\n0\r\n\r\n",                    // LF only after data
        "5\r\nhelloXY0\r\n\r\n",                    // longer data than announced
        "0\r\n\n",                                  // LF-only end
        "0\r\nX: y\n\r\n",                          // LF-only trailer line
        "0\r\n y\r\n\r\n",                          // obs-fold in trailers
        "0\r\nX : y\r\n\r\n",                       // whitespace before colon in trailer
        "0\r\nX\r\n\r\n",                           // trailer without a colon
        "0\r\nX: \x01\r\n\r\n",                     // control character in trailer
        "5;a\x01\r\nhello\r\n0\r\n\r\n",            // control character in extension
        "5;a\nhello\r\n0\r\n\r\n",                  // LF-only after extension
        ";\r\n",                                    // no size
        "\r\n",                                     // empty size line
    };
    for (std::size_t i = 1; i < bad.size(); ++i) {
        const Outcome o = feedWhole(bad[i]);
        EXPECT_TRUE(o.error) << "input " << i << ": " << bad[i];
        EXPECT_FALSE(o.why.empty()) << i;
        expectSameEverywhere(bad[i]);
    }
    EXPECT_FALSE(feedWhole(bad[0]).done);
    EXPECT_FALSE(feedWhole(bad[0]).error);
}

TEST(ChunkedDecoder, ErrorsStick) {
    ChunkedDecoder d;
    const auto r = d.feed("zz");
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.consumed, 0u);
    const auto again = d.feed("5\r\nhello\r\n");
    EXPECT_TRUE(again.error);
    EXPECT_EQ(again.why, r.why);
}

TEST(ChunkedDecoder, LongExtensionsAndTrailersAreBounded) {
    const std::string ext = "5;" + std::string(ChunkedDecoder::kMaxLineBytes, 'e') + "\r\n";
    EXPECT_TRUE(feedWhole(ext).error);
    const std::string trailers =
        "0\r\nX: " + std::string(ChunkedDecoder::kMaxTrailerBytes, 't') + "\r\n\r\n";
    EXPECT_TRUE(feedWhole(trailers).error);
    // Just under the bounds is fine.
    EXPECT_TRUE(feedWhole("5;" + std::string(4000, 'e') + "\r\nhello\r\n0\r\n\r\n").done);
    EXPECT_TRUE(feedWhole("0\r\nX: " + std::string(4000, 't') + "\r\n\r\n").done);
}

TEST(ChunkedDecoder, HugeChunkSizeStreams) {
    // The largest size: 16 hex digits. The decoder only counts down, never allocates.
    ChunkedDecoder d;
    auto r = d.feed("FFFFFFFFFFFFFFFF\r\n");
    EXPECT_FALSE(r.error);
    r = d.feed(std::string(1000, 'a'));
    EXPECT_FALSE(r.error);
    EXPECT_FALSE(r.done);
    EXPECT_EQ(r.consumed, 1000u);
    EXPECT_EQ(d.payloadBytes(), 1000u);
}

}  // namespace
}  // namespace postern::http
