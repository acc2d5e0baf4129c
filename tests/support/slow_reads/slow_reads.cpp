// Preloaded into postern by TLS tests to make one timing deterministic: accept4() waits, so a
// client's first flight is in the socket when the session starts, and the first recv() on a
// socket after a send() on it waits, so the peer's answer to what was sent is in the socket when
// that recv() comes. A TLS server then reads the client's Finished together with the client's
// first application records in the very handshake step that sent its own flight.
#include <dlfcn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

namespace {

constexpr useconds_t kWaitUs = 100'000;
constexpr int kMaxFd = 4096;
std::atomic<bool> sent_since_recv[kMaxFd];

template <typename Fn>
Fn next(const char* name) {
    return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
    static const auto real = next<int (*)(int, sockaddr*, socklen_t*, int)>("accept4");
    ::usleep(kWaitUs);
    return real(fd, addr, len, flags);
}

extern "C" ssize_t send(int fd, const void* buf, size_t len, int flags) {
    static const auto real = next<ssize_t (*)(int, const void*, size_t, int)>("send");
    if (fd >= 0 && fd < kMaxFd) sent_since_recv[fd].store(true, std::memory_order_relaxed);
    return real(fd, buf, len, flags);
}

extern "C" ssize_t recv(int fd, void* buf, size_t len, int flags) {
    static const auto real = next<ssize_t (*)(int, void*, size_t, int)>("recv");
    if (fd >= 0 && fd < kMaxFd && sent_since_recv[fd].exchange(false, std::memory_order_relaxed))
        ::usleep(kWaitUs);
    return real(fd, buf, len, flags);
}
