#include "net/socket_address.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#ifdef _WIN32
#include "net/socket_ops.h"  // ensureWinsock()
#else
#include <arpa/inet.h>
#include <netdb.h>
#endif

namespace postern::net {

std::optional<SocketAddress> SocketAddress::fromIp(std::string_view ip, std::uint16_t port) {
    std::string s(ip);
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (inet_pton(AF_INET, s.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.length_ = sizeof(sockaddr_in);
        return a;
    }
    a = SocketAddress{};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    std::string addr = s;
    std::string scope;
    if (auto pct = s.find('%'); pct != std::string::npos) {
        addr = s.substr(0, pct);
        scope = s.substr(pct + 1);
    }
    if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        if (!scope.empty()) v6->sin6_scope_id = static_cast<std::uint32_t>(std::atoi(scope.c_str()));
        a.length_ = sizeof(sockaddr_in6);
        return a;
    }
    return std::nullopt;
}

std::optional<SocketAddress> SocketAddress::resolve(std::string_view host, std::uint16_t port,
                                                    std::string* error) {
    if (auto lit = fromIp(host, port)) return lit;
#ifdef _WIN32
    ensureWinsock();
#endif
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* res = nullptr;
    std::string h(host);
    int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
    if (rc != 0 || !res) {
#ifdef _WIN32
        if (error) *error = std::string("cannot resolve '") + h + "': " + gai_strerrorA(rc);
#else
        if (error) *error = std::string("cannot resolve '") + h + "': " + gai_strerror(rc);
#endif
        return std::nullopt;
    }
    const addrinfo* pick = res;
    for (const addrinfo* p = res; p; p = p->ai_next)
        if (p->ai_family == AF_INET) {
            pick = p;
            break;
        }
    SocketAddress a = fromSockaddr(pick->ai_addr, static_cast<socklen_t>(pick->ai_addrlen));
    a.setPort(port);
    freeaddrinfo(res);
    return a;
}

std::vector<SocketAddress> SocketAddress::resolveAll(std::string_view host, std::uint16_t port,
                                                     std::string* error) {
    std::vector<SocketAddress> out;
    if (auto lit = fromIp(host, port)) {
        out.push_back(*lit);
        return out;
    }
#ifdef _WIN32
    ensureWinsock();
#endif
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    addrinfo* res = nullptr;
    std::string h(host);
    int rc = getaddrinfo(h.c_str(), nullptr, &hints, &res);
    if (rc != 0 || !res) {
#ifdef _WIN32
        if (error) *error = std::string("cannot resolve '") + h + "': " + gai_strerrorA(rc);
#else
        if (error) *error = std::string("cannot resolve '") + h + "': " + gai_strerror(rc);
#endif
        if (res) freeaddrinfo(res);
        return out;
    }
    for (const addrinfo* p = res; p; p = p->ai_next) {
        if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
        SocketAddress a = fromSockaddr(p->ai_addr, static_cast<socklen_t>(p->ai_addrlen));
        a.setPort(port);
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    freeaddrinfo(res);
    if (out.empty() && error) *error = "cannot resolve '" + h + "': no IPv4 or IPv6 address";
    return out;
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
    if (a.family() != b.family()) return false;
    if (a.family() == AF_INET)
        return a.storage_.v4.sin_port == b.storage_.v4.sin_port &&
               std::memcmp(&a.storage_.v4.sin_addr, &b.storage_.v4.sin_addr,
                           sizeof a.storage_.v4.sin_addr) == 0;
    if (a.family() == AF_INET6)
        return a.storage_.v6.sin6_port == b.storage_.v6.sin6_port &&
               a.storage_.v6.sin6_scope_id == b.storage_.v6.sin6_scope_id &&
               std::memcmp(&a.storage_.v6.sin6_addr, &b.storage_.v6.sin6_addr,
                           sizeof a.storage_.v6.sin6_addr) == 0;
    return a.length_ == b.length_;
}

SocketAddress SocketAddress::fromSockaddr(const sockaddr* sa, socklen_t len) {
    SocketAddress a;
    if (len > static_cast<socklen_t>(sizeof a.storage_)) len = sizeof a.storage_;
    std::memcpy(&a.storage_, sa, static_cast<std::size_t>(len));
    a.length_ = len;
    return a;
}

std::uint16_t SocketAddress::port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

void SocketAddress::setPort(std::uint16_t port) {
    if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
    if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string SocketAddress::ip() const {
    char buf[INET6_ADDRSTRLEN] = {0};
    if (family() == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf, sizeof buf);
    } else if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf, sizeof buf);
    } else {
        return "-";
    }
    return buf;
}

std::string SocketAddress::toString() const {
    if (family() == AF_INET6) return "[" + ip() + "]:" + std::to_string(port());
    if (family() == AF_INET) return ip() + ":" + std::to_string(port());
    return "-";
}

std::uint64_t SocketAddress::ipHash() const {
    const unsigned char* p = nullptr;
    std::size_t n = 0;
    if (family() == AF_INET) {
        p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr);
        n = 4;
    } else if (family() == AF_INET6) {
        p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr);
        n = 16;
        // An IPv4-mapped address (::ffff:a.b.c.d, e.g. from a PROXY header or a dual-stack
        // peer) is that IPv4 client: hash its four bytes, so affinity does not depend on how
        // the address reached us.
        static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::equal(p, p + 12, kMapped)) {
            p += 12;
            n = 4;
        }
    }
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a 64
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace postern::net
