#include "harness/payload.h"

#include <cstring>
#include <random>

namespace postern::test {

std::string randomBytes(std::size_t size, std::uint64_t seed) {
    std::mt19937_64 gen(seed);
    std::string out(size, '\0');
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        const std::uint64_t v = gen();
        std::memcpy(out.data() + i, &v, 8);
    }
    if (i < size) {
        const std::uint64_t v = gen();
        std::memcpy(out.data() + i, &v, size - i);
    }
    return out;
}

void Checksum::update(std::string_view data) {
    for (const char c : data) {
        hash_ ^= static_cast<unsigned char>(c);
        hash_ *= 0x100000001b3ULL;
    }
    bytes_ += data.size();
}

std::uint64_t checksum(std::string_view data) {
    Checksum c;
    c.update(data);
    return c.value();
}

}  // namespace postern::test
