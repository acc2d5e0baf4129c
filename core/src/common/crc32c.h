// CRC32C (Castagnoli, reflected polynomial 0x82F63B78; RFC 3720 appendix B.4, RFC 4960
// appendix B), as the PROXY protocol v2 CRC32C TLV requires. Table-driven, pure, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace postern::common {

/** Running state for CRC32C over several pieces: start with kCrc32cInit, feed every piece to
 * crc32cUpdate in order, then crc32cFinish. */
inline constexpr std::uint32_t kCrc32cInit = 0xFFFFFFFFu;

std::uint32_t crc32cUpdate(std::uint32_t state, std::span<const unsigned char> bytes);
inline std::uint32_t crc32cFinish(std::uint32_t state) { return state ^ 0xFFFFFFFFu; }

/** CRC32C of one contiguous block ("123456789" → 0xE3069283). */
std::uint32_t crc32c(std::span<const unsigned char> bytes);

}  // namespace postern::common
