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

}  // namespace
}  // namespace postern::server
