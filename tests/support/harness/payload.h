// Deterministic pseudo-random payloads and a streaming checksum (FNV-1a 64) to compare large
// transfers without keeping both copies. Pure functions / plain values; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postern::test {

/** `size` bytes from a seeded generator: the same seed gives the same bytes. */
std::string randomBytes(std::size_t size, std::uint64_t seed);

class Checksum {
public:
    void update(std::string_view data);
    std::uint64_t value() const { return hash_; }
    std::size_t bytes() const { return bytes_; }

private:
    std::uint64_t hash_ = 0xcbf29ce484222325ULL;
    std::size_t bytes_ = 0;
};

std::uint64_t checksum(std::string_view data);

}  // namespace postern::test
