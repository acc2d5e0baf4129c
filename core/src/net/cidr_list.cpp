#include "net/cidr_list.h"

#include <cstring>

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif

namespace postern::net {

namespace {

constexpr std::uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};

bool prefixMatches(const std::uint8_t* a, const std::uint8_t* b, unsigned prefix) {
    const unsigned whole = prefix / 8;
    if (std::memcmp(a, b, whole) != 0) return false;
    const unsigned rest = prefix % 8;
    if (rest == 0) return true;
    const std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool ipv6Bytes(const SocketAddress& a, std::uint8_t out[16]) {
    if (a.family() == AF_INET) {
        std::memcpy(out, kV4MappedPrefix, sizeof kV4MappedPrefix);
        std::memcpy(out + 12, &reinterpret_cast<const sockaddr_in*>(a.sockaddrPtr())->sin_addr, 4);
        return true;
    }
    if (a.family() == AF_INET6) {
        std::memcpy(out, &reinterpret_cast<const sockaddr_in6*>(a.sockaddrPtr())->sin6_addr, 16);
        return true;
    }
    return false;
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<Cidr> {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    const std::size_t slash = text.find('/');
    const std::string_view ip = text.substr(0, slash);
    if (ip.empty()) return fail("missing address");
    if (ip.size() > 45) return fail("\"" + std::string(ip) + "\" is not an IP address");

    Cidr c;
    const std::string ip_text(ip);
    std::uint8_t v4[4];
    if (inet_pton(AF_INET, ip_text.c_str(), v4) == 1) {
        c.ipv4_ = true;
        std::memcpy(c.bytes_, kV4MappedPrefix, sizeof kV4MappedPrefix);
        std::memcpy(c.bytes_ + 12, v4, 4);
    } else if (ip_text.find('%') == std::string::npos &&
               inet_pton(AF_INET6, ip_text.c_str(), c.bytes_) == 1) {
        c.ipv4_ = false;
    } else {
        return fail("\"" + ip_text + "\" is not an IP address");
    }
    const unsigned max = c.ipv4_ ? 32 : 128;
    unsigned prefix = max;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty()) return fail("missing prefix length after '/'");
        if (digits.size() > 3)
            return fail("prefix length \"" + std::string(digits) + "\" is too large (at most " +
                        std::to_string(max) + ")");
        prefix = 0;
        for (char ch : digits) {
            if (ch < '0' || ch > '9')
                return fail("prefix length \"" + std::string(digits) + "\" is not a number");
            prefix = prefix * 10 + static_cast<unsigned>(ch - '0');
        }
        if (prefix > max)
            return fail("prefix length " + std::to_string(prefix) + " is larger than " +
                        std::to_string(max));
    }
    c.prefix_ = c.ipv4_ ? prefix + 96 : prefix;
    // Host bits below the prefix must be zero.
    std::uint8_t network[16];
    std::memset(network, 0, sizeof network);
    std::memcpy(network, c.bytes_, c.prefix_ / 8);
    if (c.prefix_ % 8)
        network[c.prefix_ / 8] =
            static_cast<std::uint8_t>(c.bytes_[c.prefix_ / 8] & (0xFF << (8 - c.prefix_ % 8)));
    if (std::memcmp(network, c.bytes_, sizeof network) != 0) {
        Cidr n = c;
        std::memcpy(n.bytes_, network, sizeof network);
        return fail("\"" + std::string(text) + "\" has bits set after the prefix; did you mean \"" +
                    n.toString() + "\"?");
    }
    return c;
}

bool Cidr::contains(const SocketAddress& addr) const {
    std::uint8_t a[16];
    if (!ipv6Bytes(addr, a)) return false;
    return prefixMatches(a, bytes_, prefix_);
}

std::string Cidr::toString() const {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (ipv4_) {
        inet_ntop(AF_INET, bytes_ + 12, buf, sizeof buf);
        return std::string(buf) + "/" + std::to_string(prefix_ - 96);
    }
    inet_ntop(AF_INET6, bytes_, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(prefix_);
}

bool CidrList::contains(const SocketAddress& addr) const {
    for (const Cidr& c : ranges_)
        if (c.contains(addr)) return true;
    return false;
}

}  // namespace postern::net
