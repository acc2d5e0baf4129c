#ifdef __linux__
#include <fcntl.h>
#include <unistd.h>

#include "net/pipe.h"

namespace postern::net {

IoResult spliceToPipe(Fd from, const Pipe& pipe, std::size_t len) {
    return ioResult(::splice(from, nullptr, pipe.write, nullptr, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
}

IoResult spliceFromPipe(const Pipe& pipe, Fd to, std::size_t len) {
    // SIGPIPE cannot stop the process here: it is ignored (service/posix/signals.cpp) before any
    // worker runs, so a reset peer shows as EPIPE.
    const ssize_t n = ::splice(pipe.read, nullptr, to, nullptr, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) return {IoStatus::WouldBlock, 0, 0};
    return ioResult(n);
}

PipePool::~PipePool() {
    for (Pipe* p : free_) discard(p);
}

Pipe* PipePool::get() {
    if (!free_.empty()) {
        Pipe* p = free_.back();
        free_.pop_back();
        return p;
    }
    int fds[2];
    if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return nullptr;
    // Larger than the 64 KiB default, so one splice moves a whole burst of segments; refused
    // above /proc/sys/fs/pipe-max-size (1 MiB by default) or the user's pipe quota: the default
    // size still works.
    (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(kPipeSize));
    return new Pipe{fds[0], fds[1]};
}

void PipePool::put(Pipe* p) {
    if (!p) return;
    if (free_.size() < keep_) free_.push_back(p);
    else discard(p);
}

void PipePool::discard(Pipe* p) {
    if (!p) return;
    ::close(p->read);
    ::close(p->write);
    delete p;
}

}  // namespace postern::net
#endif
