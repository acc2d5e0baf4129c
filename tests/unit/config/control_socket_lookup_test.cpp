// `postern reload -c FILE` finds the running instance from FILE's [gateway] control_socket, also
// when FILE is the broken config being reloaded.
#include "config/control_socket_lookup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/model.h"

namespace postern::config {
namespace {

namespace fs = std::filesystem;

class ControlSocketLookupTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ =
            fs::temp_directory_path() /
            ("postern-lookup-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
             "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path write(const std::string& text) {
        const fs::path p = dir_ / "p.toml";
        std::ofstream(p, std::ios::binary) << text;
        return p;
    }
    fs::path dir_;
};

TEST_F(ControlSocketLookupTest, NotSetMeansTheDefault) {
    std::string error;
    auto r = lookupControlSocket(write("[gateway]\nworkers = 2\n"), &error);
    ASSERT_TRUE(r) << error;
    EXPECT_EQ(r->path, kDefaultControlSocket);
    EXPECT_TRUE(r->from_default);
    EXPECT_FALSE(r->off);
}

TEST_F(ControlSocketLookupTest, OffIsReported) {
    auto r = lookupControlSocket(write("[gateway]\ncontrol_socket = \"off\"\n"), nullptr);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->off);
}

#ifndef _WIN32
TEST_F(ControlSocketLookupTest, RelativePathResolvesAgainstTheFile) {
    auto r = lookupControlSocket(write("[gateway]\ncontrol_socket = \"run/c.sock\"\n"), nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->path, (dir_ / "run/c.sock").lexically_normal().string());
}

TEST_F(ControlSocketLookupTest, ABrokenFileStillGivesItsGatewayKey) {
    auto r = lookupControlSocket(
        write("[gateway] # ours\ncontrol_socket = \"/tmp/x.sock\"\n\n[[listener]]\nname = \n"),
        nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->path, "/tmp/x.sock");
}
#endif

TEST_F(ControlSocketLookupTest, ABrokenGatewayTableIsAnErrorWithItsPosition) {
    std::string error;
    const fs::path p = write("[gateway]\ncontrol_socket = \n");
    EXPECT_FALSE(lookupControlSocket(p, &error));
    EXPECT_EQ(error.rfind(p.string() + ":2:", 0), 0u) << error;
}

TEST_F(ControlSocketLookupTest, AMissingFileIsAnError) {
    std::string error;
    EXPECT_FALSE(lookupControlSocket(dir_ / "none.toml", &error));
    EXPECT_NE(error.find("cannot read it"), std::string::npos);
}

}  // namespace
}  // namespace postern::config
