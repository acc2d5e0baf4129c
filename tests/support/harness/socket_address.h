// A numeric IPv4/IPv6 socket address for tests: parse "127.0.0.1:80" / "[::1]:80", format it
// back the way postern logs it. Plain value type; any thread.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postern::test {

class SocketAddress {
public:
    SocketAddress() = default;
    /** `ip` is a numeric IPv4 or IPv6 address without brackets. */
    static std::optional<SocketAddress> fromIp(std::string_view ip, std::uint16_t port);
    /** "ip:port" or "[ipv6]:port". */
    static std::optional<SocketAddress> parse(std::string_view text);
    /** The local address of a socket (getsockname). */
    static std::optional<SocketAddress> localOf(int fd);

    int family() const { return storage_.ss_family; }
    std::uint16_t port() const;
    std::string ip() const;
    /** "127.0.0.1:80" or "[::1]:80", as postern prints addresses. */
    std::string toString() const;

    const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
    socklen_t length() const { return length_; }

private:
    sockaddr_storage storage_{};
    socklen_t length_ = 0;
};

}  // namespace postern::test
