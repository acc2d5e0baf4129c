#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <vector>

using postern::common::crc32c;
using postern::common::crc32cFinish;
using postern::common::crc32cUpdate;
using postern::common::kCrc32cInit;

namespace {

std::span<const unsigned char> bytes(std::string_view s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

}  // namespace

TEST(Crc32c, CheckValue) {
    // The "check" value of the CRC-32C/iSCSI parameter set.
    EXPECT_EQ(crc32c(bytes("123456789")), 0xE3069283u);
    EXPECT_EQ(crc32c(bytes("")), 0x00000000u);
    EXPECT_EQ(crc32c(bytes("a")), 0xC1D04330u);
}

TEST(Crc32c, Rfc3720Vectors) {
    // RFC 3720 appendix B.4.
    std::array<unsigned char, 32> data{};
    EXPECT_EQ(crc32c(data), 0x8A9136AAu);
    data.fill(0xFF);
    EXPECT_EQ(crc32c(data), 0x62A8AB43u);
    for (unsigned i = 0; i < 32; ++i) data[i] = static_cast<unsigned char>(i);
    EXPECT_EQ(crc32c(data), 0x46DD794Eu);
    for (unsigned i = 0; i < 32; ++i) data[i] = static_cast<unsigned char>(31 - i);
    EXPECT_EQ(crc32c(data), 0x113FDB5Cu);
    // An iSCSI SCSI Read (10) command PDU.
    const std::vector<unsigned char> pdu = {
        0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    EXPECT_EQ(crc32c(pdu), 0xD9963A56u);
}

TEST(Crc32c, PiecewiseEqualsWhole) {
    const std::string_view text = "The quick brown fox jumps over the lazy dog";
    const std::uint32_t whole = crc32c(bytes(text));
    EXPECT_EQ(whole, 0x22620404u);
    for (std::size_t split = 0; split <= text.size(); ++split) {
        std::uint32_t s = crc32cUpdate(kCrc32cInit, bytes(text.substr(0, split)));
        s = crc32cUpdate(s, bytes(text.substr(split)));
        EXPECT_EQ(crc32cFinish(s), whole) << "split at " << split;
    }
}
