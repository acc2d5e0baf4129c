#include "common/crc32c.h"

#include <array>

namespace postern::common {

namespace {

// One table entry per byte value: the reflected CRC of that byte alone, computed at compile time.
constexpr std::array<std::uint32_t, 256> makeTable() {
    constexpr std::uint32_t kPolynomial = 0x82F63B78u;  // 0x1EDC6F41 bit-reversed
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (c >> 1) ^ kPolynomial : c >> 1;
        table[i] = c;
    }
    return table;
}

constexpr std::array<std::uint32_t, 256> kTable = makeTable();

static_assert(kTable[1] == 0xF26B8303u, "CRC32C table");
static_assert(kTable[128] == 0x82F63B78u, "CRC32C table");

}  // namespace

std::uint32_t crc32cUpdate(std::uint32_t state, std::span<const unsigned char> bytes) {
    for (unsigned char b : bytes) state = kTable[(state ^ b) & 0xFFu] ^ (state >> 8);
    return state;
}

std::uint32_t crc32c(std::span<const unsigned char> bytes) {
    return crc32cFinish(crc32cUpdate(kCrc32cInit, bytes));
}

}  // namespace postern::common
