#ifndef _WIN32
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socket_ops.h"

namespace postern::net {

Fd listenSocket(const SocketAddress& addr, bool reuse_port, int backlog, std::string* error) {
    Fd fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (error) *error = errorText(errno);
        return kInvalidFd;
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (addr.isIpv6()) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // inherited by accept4
    if (::bind(fd, addr.sockaddrPtr(), addr.length()) != 0 || ::listen(fd, backlog) != 0) {
        if (error) *error = errorText(errno);
        ::close(fd);
        return kInvalidFd;
    }
    return fd;
}

#ifdef __linux__
bool restrictReusePortGroup(Fd fd, unsigned count, std::string* error) {
    // A = random u32; A %= count; return A. The returned value indexes the group's sockets in
    // the order they joined it (listen()), so only the first `count` can be chosen.
    sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<__u32>(SKF_AD_OFF + SKF_AD_RANDOM)},
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, count},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
        if (error) *error = errorText(errno);
        return false;
    }
    return true;
}
#endif

Fd acceptConnection(Fd listener, SocketAddress* peer, int* error) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    Fd fd = ::accept4(listener, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (error) *error = errno;
        return kInvalidFd;
    }
    if (peer) *peer = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    return fd;
}

AcceptFailure classifyAcceptError(int err) {
    switch (err) {
        case EAGAIN:
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
            return AcceptFailure::NothingPending;
        // accept(2): Linux passes a pending connection's network errors on to accept(); they
        // concern that connection only. EINTR and EPERM (a firewall rule) likewise.
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
            return AcceptFailure::ConnectionLost;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            return AcceptFailure::OutOfResources;
        default:
            return AcceptFailure::Unexpected;
    }
}

Fd connectStart(const SocketAddress& to, int* error) {
    Fd fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        if (error) *error = errno;
        return kInvalidFd;
    }
    if (::connect(fd, to.sockaddrPtr(), to.length()) != 0 && errno != EINPROGRESS) {
        if (error) *error = errno;
        ::close(fd);
        return kInvalidFd;
    }
    return fd;
}

int socketError(Fd fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

IoResult ioResult(ssize_t n) {
    if (n > 0) return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
    if (n == 0) return {IoStatus::Eof, 0, 0};
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return {IoStatus::WouldBlock, 0, 0};
    if (e == ECONNRESET || e == EPIPE || e == ECONNABORTED || e == ETIMEDOUT)
        return {IoStatus::Reset, 0, e};
    return {IoStatus::Error, 0, e};
}

IoResult recvSome(Fd fd, char* buf, std::size_t len) { return ioResult(::recv(fd, buf, len, 0)); }

IoResult peekSome(Fd fd, char* buf, std::size_t len) {
    return ioResult(::recv(fd, buf, len, MSG_PEEK));
}

IoResult sendSome(Fd fd, const char* buf, std::size_t len) {
    ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
    if (n == 0) return {IoStatus::WouldBlock, 0, 0};
    return ioResult(n);
}

QueuedBytes queuedBytes(Fd fd) {
    QueuedBytes q;
    int n = 0;
    if (::ioctl(fd, FIONREAD, &n) == 0 && n > 0) q.unread = static_cast<std::size_t>(n);
    n = 0;
    if (::ioctl(fd, SIOCOUTQ, &n) == 0 && n > 0) q.unacked = static_cast<std::size_t>(n);
    return q;
}

void shutdownWrite(Fd fd) { ::shutdown(fd, SHUT_WR); }

void closeFd(Fd fd) {
    if (fd >= 0) ::close(fd);
}

void closeWithReset(Fd fd) {
    if (fd < 0) return;
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    ::close(fd);
}

void setNoDelay(Fd fd) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool noDelay(Fd fd) {
    int v = 0;
    socklen_t len = sizeof v;
    return ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v != 0;
}

SocketAddress localAddress(Fd fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string errorText(int err) { return std::strerror(err); }

}  // namespace postern::net
#endif
