// The control channel's reply lines (server/control_protocol.h): what `postern reload` decodes is
// what the running instance encoded, and a cut or garbled reply is never taken for a result.
#include "server/control_protocol.h"

#include <gtest/gtest.h>

namespace postern::server {
namespace {

TEST(ControlProtocol, AppliedWithWarningsRoundTrips) {
    ControlReply r;
    r.status = ControlReply::Status::Applied;
    r.generation = 7;
    r.warnings = {"[gateway] workers changed: needs a restart"};
    const std::string text = encodeControlReply(r);
    EXPECT_EQ(text,
              "applied generation=7\nwarning [gateway] workers changed: needs a restart\nend\n");
    std::string error;
    auto back = decodeControlReply(text, &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->status, ControlReply::Status::Applied);
    EXPECT_EQ(back->generation, 7u);
    EXPECT_EQ(back->warnings, r.warnings);
    EXPECT_TRUE(back->errors.empty());
    EXPECT_EQ(controlExitCode(*back), 0);
}

TEST(ControlProtocol, RejectedKeepsEveryErrorLineAndNewlinesBecomeSpaces) {
    ControlReply r;
    r.status = ControlReply::Status::Rejected;
    r.generation = 1;
    r.errors = {"/etc/postern/postern.toml:3:8: unknown key 'bnd'", "two\nlines"};
    auto back = decodeControlReply(encodeControlReply(r), nullptr);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->status, ControlReply::Status::Rejected);
    EXPECT_EQ(back->generation, 1u);
    EXPECT_EQ(back->errors, (std::vector<std::string>{
                                "/etc/postern/postern.toml:3:8: unknown key 'bnd'", "two lines"}));
    EXPECT_EQ(controlExitCode(*back), 2);
}

TEST(ControlProtocol, FailedCarriesItsReason) {
    ControlReply r;
    r.errors = {"postern is stopping"};
    const std::string text = encodeControlReply(r);
    EXPECT_EQ(text, "failed\nerror postern is stopping\nend\n");
    auto back = decodeControlReply(text, nullptr);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->status, ControlReply::Status::Failed);
    EXPECT_EQ(controlExitCode(*back), 1);
}

TEST(ControlProtocol, IncompleteOrGarbledRepliesAreErrors) {
    std::string error;
    EXPECT_FALSE(decodeControlReply("", &error));
    EXPECT_EQ(error, "empty reply");
    EXPECT_FALSE(decodeControlReply("applied generation=2\n", &error));
    EXPECT_EQ(error, "the reply ended before its \"end\" line");
    EXPECT_FALSE(decodeControlReply("applied generation=2\nend", &error));  // no final newline
    EXPECT_FALSE(decodeControlReply("applied\nend\n", &error));
    EXPECT_EQ(error, "unexpected status line 'applied'");
    EXPECT_FALSE(decodeControlReply("applied generation=x\nend\n", &error));
    EXPECT_FALSE(decodeControlReply("HTTP/1.1 200 OK\nend\n", &error));
    EXPECT_FALSE(decodeControlReply("rejected generation=2\nnote hi\nend\n", &error));
    EXPECT_EQ(error, "unexpected reply line 'note hi'");
    EXPECT_FALSE(decodeControlReply("applied generation=2\nend\nextra\n", &error));
}

// `postern status` / `postern metrics`: the body is counted, not scanned, so lines of its own
// ("end", "error x", an empty line) and a body without a final newline come back byte for byte.
TEST(ControlProtocol, DataBodyWithLinesOfItsOwnRoundTrips) {
    ControlReply r;
    r.status = ControlReply::Status::Data;
    r.body = "# HELP x\nend\nerror not an error\n\nwarning no\nend";
    const std::string text = encodeControlReply(r);
    EXPECT_EQ(text, "data bytes=" + std::to_string(r.body.size()) + "\n" + r.body + "\nend\n");
    std::string error;
    auto back = decodeControlReply(text, &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->status, ControlReply::Status::Data);
    EXPECT_EQ(back->body, r.body);
    EXPECT_TRUE(back->errors.empty());
    EXPECT_TRUE(back->warnings.empty());
    EXPECT_EQ(controlExitCode(*back), 0);

    r.body.clear();  // an empty document is still a document
    back = decodeControlReply(encodeControlReply(r), &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->status, ControlReply::Status::Data);
    EXPECT_EQ(back->body, "");

    r.body = std::string(3 * 1024 * 1024, 'x') + "\nend\n";  // larger than any one read
    back = decodeControlReply(encodeControlReply(r), &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->body, r.body);
}

// Every cut of a data reply short of its final newline is rejected, including the cuts that end
// right after an "end" line inside the body (what a reader stopping at "end\n" would see).
TEST(ControlProtocol, TruncatedDataRepliesAreRejected) {
    ControlReply r;
    r.status = ControlReply::Status::Data;
    r.body = "{\"a\":1}\nend\n{\"b\":2}";
    const std::string text = encodeControlReply(r);
    for (std::size_t cut = 0; cut < text.size(); ++cut) {
        std::string error;
        EXPECT_FALSE(decodeControlReply(text.substr(0, cut), &error))
            << "a reply cut to " << cut << " bytes was accepted: " << text.substr(0, cut);
        EXPECT_FALSE(error.empty());
    }
    std::string error;
    EXPECT_FALSE(decodeControlReply("data bytes=20\nend\n", &error));
    EXPECT_EQ(error, "the reply ended inside its body (4 of 20 bytes)");
    EXPECT_TRUE(decodeControlReply(text, &error)) << error;
}

TEST(ControlProtocol, GarbledDataRepliesAreErrors) {
    std::string error;
    EXPECT_FALSE(decodeControlReply("data\nend\n", &error));
    EXPECT_EQ(error, "unexpected status line 'data'");
    EXPECT_FALSE(decodeControlReply("data bytes=-1\nend\n", &error));
    EXPECT_FALSE(decodeControlReply("data bytes=2 \nhi\nend\n", &error));
    EXPECT_FALSE(decodeControlReply("data bytes=2\nhi!end\n", &error));  // no newline after it
    EXPECT_EQ(error, "no newline after the body");
    EXPECT_FALSE(decodeControlReply("data bytes=1\nhi\nend\n", &error));  // the count is short
    EXPECT_EQ(error, "no newline after the body");
    EXPECT_FALSE(decodeControlReply("data bytes=2\nhi\nend\nmore\n", &error));
    EXPECT_EQ(error, "data after the end of the reply");
    // Over the bound: refused from the header, before anything is buffered for it.
    EXPECT_FALSE(decodeControlReply("data bytes=" + std::to_string(kControlMaxBody + 1) + "\nend\n",
                                    &error));
    EXPECT_NE(error.find("larger than the limit"), std::string::npos) << error;
    EXPECT_FALSE(decodeControlReply("data bytes=99999999999999999999999\nend\n", &error));
}

// What an older postern answers to "status": the reload framing, decoded as a failure whose
// error line the CLI prints.
TEST(ControlProtocol, UnknownRequestReplyOfAnOlderInstanceIsAFailure) {
    std::string error;
    auto back = decodeControlReply(
        "failed\nerror unknown request 'status' (this postern understands: reload)\nend\n", &error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->status, ControlReply::Status::Failed);
    EXPECT_EQ(back->errors.size(), 1u);
    EXPECT_EQ(controlExitCode(*back), 1);
}

}  // namespace
}  // namespace postern::server
