// A resolved socket address (IPv4 or IPv6) that can be handed to the OS directly. Value type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

namespace postern::net {

class SocketAddress {
public:
    SocketAddress() = default;
    /** From an IP literal (no brackets) and a port; nullopt if `ip` is not an IP literal. */
    static std::optional<SocketAddress> fromIp(std::string_view ip, std::uint16_t port);
    /** Resolves a host name or literal (blocking getaddrinfo; control thread only). Prefers IPv4
     * when the name has both, unless the name is an IPv6 literal. Sets *error on failure. */
    static std::optional<SocketAddress> resolve(std::string_view host, std::uint16_t port,
                                                std::string* error);
    /** Every address of a host name or literal (blocking getaddrinfo: call it where blocking is
     * allowed, e.g. a discovery thread): all A and AAAA records in the resolver's order, without
     * duplicates. Empty with *error set on failure. Any thread. */
    static std::vector<SocketAddress> resolveAll(std::string_view host, std::uint16_t port,
                                                 std::string* error);
    static SocketAddress fromSockaddr(const sockaddr* sa, socklen_t len);
    /** Same family, IP (and IPv6 scope) and port. */
    friend bool operator==(const SocketAddress& a, const SocketAddress& b);

    const sockaddr* sockaddrPtr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* sockaddrPtr() { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t length() const { return length_; }
    int family() const { return storage_.any.sa_family; }
    bool isIpv6() const { return storage_.any.sa_family == AF_INET6; }
    std::uint16_t port() const;
    void setPort(std::uint16_t port);
    /** The IP as text, without brackets: "127.0.0.1", "::1". */
    std::string ip() const;
    /** "127.0.0.1:80" or "[::1]:80". */
    std::string toString() const;
    /** Stable 64-bit hash of the IP only (not the port): client affinity and maglev keys. */
    std::uint64_t ipHash() const;

private:
    // IPv4 or IPv6 only: 28 bytes instead of sockaddr_storage's 128 (every session holds one or
    // two of these, which is most of its size).
    union Storage {
        sockaddr any;
        sockaddr_in v4;
        sockaddr_in6 v6;
    };
    Storage storage_{};
    socklen_t length_ = 0;
};

}  // namespace postern::net
