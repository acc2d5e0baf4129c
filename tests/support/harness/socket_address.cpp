#include "harness/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace postern::test {

std::optional<SocketAddress> SocketAddress::fromIp(std::string_view ip, std::uint16_t port) {
    const std::string text(ip);
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.length_ = sizeof(sockaddr_in);
        return a;
    }
    a.storage_ = {};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.length_ = sizeof(sockaddr_in6);
        return a;
    }
    return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::parse(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535)
        return std::nullopt;
    return fromIp(host, static_cast<std::uint16_t>(port));
}

std::optional<SocketAddress> SocketAddress::localOf(int fd) {
    SocketAddress a;
    a.length_ = sizeof(a.storage_);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage_), &a.length_) != 0)
        return std::nullopt;
    return a;
}

std::uint16_t SocketAddress::port() const {
    if (family() == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

std::string SocketAddress::ip() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                    sizeof(buf));
    else if (family() == AF_INET6)
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                    sizeof(buf));
    return buf;
}

std::string SocketAddress::toString() const {
    if (family() == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
    return ip() + ":" + std::to_string(port());
}

}  // namespace postern::test
