#include "server/memory_trimmer.h"

#if defined(__linux__) && defined(__GLIBC__)
#include <malloc.h>
#define POSTERN_HAVE_MALLOC_TRIM 1
#endif

#include <string>

#include "common/log.h"

namespace postern::server {

MemoryTrimmer::MemoryTrimmer(net::EventLoop& loop, std::function<std::uint64_t()> ended)
    : loop_(loop), ended_(std::move(ended)) {}

MemoryTrimmer::~MemoryTrimmer() { loop_.cancel(timer_); }

void MemoryTrimmer::start() {
#ifdef POSTERN_HAVE_MALLOC_TRIM
    loop_.armAfter(timer_, kInterval);
#endif
}

bool MemoryTrimmer::trimNow() {
#ifdef POSTERN_HAVE_MALLOC_TRIM
    ::malloc_trim(0);
    return true;
#else
    return false;
#endif
}

void MemoryTrimmer::onTimer(std::uint32_t) {
    const std::uint64_t ended = ended_();
    if (ended >= ended_at_last_trim_ + kMinEndedConnections) {
        ended_at_last_trim_ = ended;
        const auto started = std::chrono::steady_clock::now();
        trimNow();
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
        POSTERN_LOG(
            Debug, "freed memory returned to the system",
            "connections_ended=" + std::to_string(ended) + " trim_us=" + std::to_string(us));
    }
    loop_.armAfter(timer_, kInterval);
}

}  // namespace postern::server
