// Kernel pipes for zero-copy relaying (Linux splice(2)): bytes move socket → pipe → socket as page
// references, never copied into or out of user space. A pipe is lent to a connection only while
// bytes sit in it, so idle connections hold none; empty pipes are kept per worker for reuse
// (creating one is three system calls: pipe2, and two closes at the end).
// Worker thread only. Linux only (Windows has no splice: kHasSplice is false there, and a
// connection's pipe pointer stays null).
#pragma once

#include <cstddef>
#include <vector>

#include "net/socket_ops.h"

namespace postern::net {

#ifdef __linux__
inline constexpr bool kHasSplice = true;
#else
inline constexpr bool kHasSplice = false;
#endif

struct Pipe {
    int read = -1;
    int write = -1;
};

#ifdef __linux__
/** Up to `len` bytes from the socket into the pipe: Ok with the count, Eof on the peer's FIN,
 * WouldBlock when the socket has nothing (or the pipe is full), else Reset/Error. */
IoResult spliceToPipe(Fd from, const Pipe& pipe, std::size_t len);
/** Up to `len` bytes from the pipe into the socket: Ok with the count (a short count = the send
 * buffer filled), WouldBlock when it takes nothing, else Reset/Error. */
IoResult spliceFromPipe(const Pipe& pipe, Fd to, std::size_t len);

class PipePool {
public:
    /** Bytes a pipe holds (F_SETPIPE_SZ): one splice moves up to this much. */
    static constexpr std::size_t kPipeSize = 256 * 1024;
    explicit PipePool(std::size_t keep = 64) : keep_(keep) {}
    ~PipePool();
    PipePool(const PipePool&) = delete;
    PipePool& operator=(const PipePool&) = delete;

    /** An empty pipe, or null when none can be made (out of descriptors: the caller copies). */
    Pipe* get();
    /** Takes back an empty pipe for reuse. */
    void put(Pipe* p);
    /** Closes a pipe that may still hold bytes (its connection ended). */
    static void discard(Pipe* p);

private:
    std::size_t keep_;
    std::vector<Pipe*> free_;
};
#endif

}  // namespace postern::net
