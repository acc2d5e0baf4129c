// Winsock implementation of socket_ops.h. Differences from POSIX that callers never see:
// - WSAStartup runs once per process (ensureWinsock) before the first socket call;
// - sockets are non-inheritable (WSA_FLAG_NO_HANDLE_INHERIT: close-on-exec) and non-blocking
//   through ioctlsocket(FIONBIO); there is no SIGPIPE to suppress;
// - listening sockets use SO_EXCLUSIVEADDRUSE: Windows has no SO_REUSEPORT, and its SO_REUSEADDR
//   would let another process bind the same port and take connections. Workers share one listening
//   socket through duplicated handles (duplicateSocket);
// - WSA error codes stay in IoResult::error / *error; errorText() formats both WSA and CRT codes.
// Every WouldBlock and every short read or write is reported to the thread's event loop
// (detail::noteWouldBlock), which is how event_loop_wsapoll.cpp emulates edge triggering.
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
// After winsock2.h.
#include <windows.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "net/socket_ops.h"
#include "net/wsapoll_edges.h"

namespace postern::net {

void ensureWinsock() {
    static std::once_flag once;
    std::call_once(once, [] {
        WSADATA data;
        ::WSAStartup(MAKEWORD(2, 2), &data);
    });
}

namespace {

Fd newSocket(int family) {
    ensureWinsock();
    SOCKET s =
        ::WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, nullptr, 0, WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) return kInvalidFd;
    u_long on = 1;
    if (::ioctlsocket(s, FIONBIO, &on) != 0) {
        ::closesocket(s);
        return kInvalidFd;
    }
    return s;
}

void setNonBlockingNoInherit(Fd fd) {
    u_long on = 1;
    ::ioctlsocket(fd, FIONBIO, &on);
    ::SetHandleInformation(reinterpret_cast<HANDLE>(fd), HANDLE_FLAG_INHERIT, 0);
}

bool isReset(int e) {
    return e == WSAECONNRESET || e == WSAECONNABORTED || e == WSAETIMEDOUT || e == WSAENETRESET ||
           e == WSAESHUTDOWN;
}

}  // namespace

Fd listenSocket(const SocketAddress& addr, bool /*reuse_port: see the file comment*/, int backlog,
                std::string* error) {
    Fd fd = newSocket(addr.family());
    if (fd == kInvalidFd) {
        if (error) *error = errorText(::WSAGetLastError());
        return kInvalidFd;
    }
    BOOL one = TRUE;
    ::setsockopt(fd, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, reinterpret_cast<const char*>(&one),
                 sizeof one);
    if (addr.isIpv6()) {
        DWORD v6only = 1;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, reinterpret_cast<const char*>(&v6only),
                     sizeof v6only);
    }
    if (::bind(fd, addr.sockaddrPtr(), addr.length()) != 0 || ::listen(fd, backlog) != 0) {
        if (error) *error = errorText(::WSAGetLastError());
        ::closesocket(fd);
        return kInvalidFd;
    }
    return fd;
}

Fd duplicateSocket(Fd fd, std::string* error) {
    WSAPROTOCOL_INFOW info{};
    if (::WSADuplicateSocketW(fd, ::GetCurrentProcessId(), &info) != 0) {
        if (error) *error = "cannot share the listening socket: " + errorText(::WSAGetLastError());
        return kInvalidFd;
    }
    SOCKET s = ::WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, &info, 0,
                            WSA_FLAG_NO_HANDLE_INHERIT);
    if (s == INVALID_SOCKET) {
        if (error) *error = "cannot share the listening socket: " + errorText(::WSAGetLastError());
        return kInvalidFd;
    }
    setNonBlockingNoInherit(s);
    return s;
}

Fd acceptConnection(Fd listener, SocketAddress* peer, int* error) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    SOCKET s = ::accept(listener, reinterpret_cast<sockaddr*>(&ss), &len);
    if (s == INVALID_SOCKET) {
        if (error) *error = ::WSAGetLastError();
        return kInvalidFd;
    }
    setNonBlockingNoInherit(s);
    if (peer) *peer = SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    return s;
}

Fd connectStart(const SocketAddress& to, int* error) {
    Fd fd = newSocket(to.family());
    if (fd == kInvalidFd) {
        if (error) *error = ::WSAGetLastError();
        return kInvalidFd;
    }
    if (::connect(fd, to.sockaddrPtr(), to.length()) != 0) {
        int e = ::WSAGetLastError();
        if (e != WSAEWOULDBLOCK && e != WSAEINPROGRESS) {
            if (error) *error = e;
            ::closesocket(fd);
            return kInvalidFd;
        }
    }
    return fd;
}

int socketError(Fd fd) {
    int err = 0;
    int len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len) != 0)
        return ::WSAGetLastError();
    return err;
}

IoResult recvSome(Fd fd, char* buf, std::size_t len) {
    int want = len > 0x7fffffff ? 0x7fffffff : static_cast<int>(len);
    int n = ::recv(fd, buf, want, 0);
    if (n > 0) {
        if (n < want) detail::noteWouldBlock(fd, detail::kReadEdge);  // drained, as on Linux
        return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
    }
    if (n == 0) return {IoStatus::Eof, 0, 0};
    int e = ::WSAGetLastError();
    if (e == WSAEWOULDBLOCK || e == WSAEINTR) {
        detail::noteWouldBlock(fd, detail::kReadEdge);
        return {IoStatus::WouldBlock, 0, 0};
    }
    if (isReset(e)) return {IoStatus::Reset, 0, e};
    return {IoStatus::Error, 0, e};
}

IoResult peekSome(Fd fd, char* buf, std::size_t len) {
    int want = len > 0x7fffffff ? 0x7fffffff : static_cast<int>(len);
    int n = ::recv(fd, buf, want, MSG_PEEK);
    if (n > 0) {
        // The bytes stay in the socket, and a caller that needs more waits for the next edge:
        // WSAPoll has no edge for "more data arrived", so poll again at once (the socket is
        // reported until the caller consumes it; bounded by the caller's own timeout).
        detail::noteWouldBlock(fd, detail::kReadEdge);
        return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
    }
    if (n == 0) return {IoStatus::Eof, 0, 0};
    int e = ::WSAGetLastError();
    if (e == WSAEWOULDBLOCK || e == WSAEINTR) {
        detail::noteWouldBlock(fd, detail::kReadEdge);
        return {IoStatus::WouldBlock, 0, 0};
    }
    if (isReset(e)) return {IoStatus::Reset, 0, e};
    return {IoStatus::Error, 0, e};
}

IoResult sendSome(Fd fd, const char* buf, std::size_t len) {
    int want = len > 0x7fffffff ? 0x7fffffff : static_cast<int>(len);
    int n = ::send(fd, buf, want, 0);
    if (n > 0) {
        if (n < want) detail::noteWouldBlock(fd, detail::kWriteEdge);
        return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
    }
    int e = n == 0 ? WSAEWOULDBLOCK : ::WSAGetLastError();
    if (e == WSAEWOULDBLOCK || e == WSAEINTR) {
        detail::noteWouldBlock(fd, detail::kWriteEdge);
        return {IoStatus::WouldBlock, 0, 0};
    }
    if (isReset(e)) return {IoStatus::Reset, 0, e};
    return {IoStatus::Error, 0, e};
}

AcceptFailure classifyAcceptError(int err) {
    switch (err) {
        case WSAEWOULDBLOCK:
            return AcceptFailure::NothingPending;
        case WSAEINTR:
        case WSAECONNRESET:
        case WSAECONNABORTED:
        case WSAENETDOWN:
            return AcceptFailure::ConnectionLost;
        case WSAEMFILE:
        case WSAENOBUFS:
            return AcceptFailure::OutOfResources;
        default:
            return AcceptFailure::Unexpected;
    }
}

QueuedBytes queuedBytes(Fd fd) {
    QueuedBytes q;
    u_long n = 0;
    if (::ioctlsocket(fd, FIONREAD, &n) == 0) q.unread = n;
    return q;  // Winsock does not report unacknowledged bytes
}

void shutdownWrite(Fd fd) { ::shutdown(fd, SD_SEND); }

void closeFd(Fd fd) {
    if (fd != kInvalidFd) ::closesocket(fd);
}

void closeWithReset(Fd fd) {
    if (fd == kInvalidFd) return;
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, reinterpret_cast<const char*>(&lg), sizeof lg);
    ::closesocket(fd);
}

void setNoDelay(Fd fd) {
    BOOL one = TRUE;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&one), sizeof one);
}

bool noDelay(Fd fd) {
    BOOL v = FALSE;
    int len = sizeof v;
    return ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<char*>(&v), &len) == 0 && v;
}

SocketAddress localAddress(Fd fd) {
    sockaddr_storage ss{};
    int len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return SocketAddress::fromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

std::string errorText(int err) {
    if (err < WSABASEERR) return std::strerror(err);
    char* text = nullptr;
    DWORD n = ::FormatMessageA(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
        nullptr, static_cast<DWORD>(err), MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT),
        reinterpret_cast<LPSTR>(&text), 0, nullptr);
    std::string out = n && text ? std::string(text, n) : "Winsock error " + std::to_string(err);
    if (text) ::LocalFree(text);
    while (!out.empty() &&
           (out.back() == '\n' || out.back() == '\r' || out.back() == ' ' || out.back() == '.'))
        out.pop_back();
    return out;
}

}  // namespace postern::net
#endif
