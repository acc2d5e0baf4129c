// Thin wrappers over the OS socket calls the data path uses. Non-blocking, close-on-exec, never
// raise SIGPIPE. Linux implementation in socket_ops_posix.cpp, Windows (Winsock) in
// socket_ops_win.cpp; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#ifndef _WIN32
#include <sys/types.h>
#endif

#include "net/socket_address.h"

namespace postern::net {

#ifdef _WIN32
using Fd = SOCKET;  // an unsigned handle: compare with kInvalidFd, never with < 0
inline constexpr Fd kInvalidFd = INVALID_SOCKET;
#else
using Fd = int;
inline constexpr Fd kInvalidFd = -1;
#endif

/** Result of a non-blocking I/O call: n > 0 bytes, 0 = EOF (recv only), or an error class. */
enum class IoStatus { Ok, WouldBlock, Eof, Reset, Error };

struct IoResult {
    IoStatus status;
    std::size_t bytes = 0;
    int error = 0;  ///< errno for Reset/Error
};

/** A listening socket bound to `addr` (SO_REUSEADDR, optionally SO_REUSEPORT, IPV6_V6ONLY),
 * non-blocking. kInvalidFd on failure with *error naming the cause (strerror). */
Fd listenSocket(const SocketAddress& addr, bool reuse_port, int backlog, std::string* error);

#ifdef __linux__
/** Makes the kernel spread new connections of `fd`'s SO_REUSEPORT group over the group's first
 * `count` sockets only (a classic BPF program: a random index below `count`). Sockets that join
 * the group later — another program of the same user binding the same address with
 * SO_REUSEPORT — sit at higher indices and get no connection. Call once the group's own sockets
 * are all listening. False with *error on failure. */
bool restrictReusePortGroup(Fd fd, unsigned count, std::string* error);
#endif

/** Accepts one connection (non-blocking, cloexec). kInvalidFd when none is pending (or on a
 * transient error); *peer filled on success. */
Fd acceptConnection(Fd listener, SocketAddress* peer, int* error);

/** What a failed acceptConnection() means for the listening socket. */
enum class AcceptFailure {
    NothingPending,  ///< the backlog is empty (EAGAIN): wait for the next readiness
    ConnectionLost,  ///< that one connection failed before we took it (aborted, network error)
    OutOfResources,  ///< out of descriptors, buffers or memory: retrying at once would spin
    Unexpected,      ///< anything else (treated as OutOfResources: never retried in a loop)
};
AcceptFailure classifyAcceptError(int err);

/** Starts a non-blocking connect. Returns the fd (connect in progress or done); kInvalidFd on
 * immediate failure with *error = errno. */
Fd connectStart(const SocketAddress& to, int* error);

/** SO_ERROR of a socket whose connect completed (0 = connected). */
int socketError(Fd fd);

IoResult recvSome(Fd fd, char* buf, std::size_t len);
/** recvSome without taking the bytes (MSG_PEEK): the next recv returns them again. */
IoResult peekSome(Fd fd, char* buf, std::size_t len);
IoResult sendSome(Fd fd, const char* buf, std::size_t len);
#ifndef _WIN32
/** The return value of a POSIX I/O call (recv, send, splice; errno when n < 0) as an IoResult:
 * n > 0 bytes, 0 = Eof, EAGAIN/EINTR = WouldBlock, a dropped connection = Reset, else Error. */
IoResult ioResult(ssize_t n);
#endif

/** Bytes received on `fd` not read yet, and bytes sent on it not yet acknowledged by the peer
 * (0 where the OS cannot tell). What a deadline checks to tell a busy stream from an idle one. */
struct QueuedBytes {
    std::size_t unread = 0;
    std::size_t unacked = 0;
};
QueuedBytes queuedBytes(Fd fd);

void shutdownWrite(Fd fd);
void closeFd(Fd fd);
/** Closes with SO_LINGER {1, 0}: the peer sees a reset, not a clean end of stream. */
void closeWithReset(Fd fd);
void setNoDelay(Fd fd);
/** Linux copies TCP_NODELAY from a listening socket to the sockets it accepts (listenSocket
 *  sets it), which saves a setsockopt per connection; elsewhere it is set on each. */
#ifdef __linux__
inline constexpr bool kAcceptInheritsNoDelay = true;
#else
inline constexpr bool kAcceptInheritsNoDelay = false;
#endif
/** Whether TCP_NODELAY is on (tests). */
bool noDelay(Fd fd);
SocketAddress localAddress(Fd fd);
std::string errorText(int err);

#ifdef _WIN32
/** WSAStartup once per process (socket calls here do it themselves; name resolution needs it). */
void ensureWinsock();
/** A second handle to the same listening socket (Windows has no SO_REUSEPORT: workers share one
 * SO_EXCLUSIVEADDRUSE socket, each owning and closing its own handle). */
Fd duplicateSocket(Fd fd, std::string* error);
#endif

}  // namespace postern::net
