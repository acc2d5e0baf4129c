// Gives memory freed after a burst back to the OS. glibc keeps what a burst of connections freed
// (TLS handshakes allocate ~40 KiB each, in per-thread arenas) mapped in the process: after 2,000
// slow handshakes RSS went from 14 MB to 125 MB and stayed there. malloc_trim(0) returns the free
// pages of every arena (madvise), which brings it back near the start. The control thread calls
// it every kInterval, but only when enough connections ended since the last trim to have freed
// something worth the walk (it locks each arena briefly). Linux/glibc only; elsewhere a no-op.
// Control thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "net/event_loop.h"

namespace postern::server {

class MemoryTrimmer final : public net::TimerHandler {
public:
    static constexpr std::chrono::seconds kInterval{5};
    /** Connections that must have ended since the last trim for the next one to run. */
    static constexpr std::uint64_t kMinEndedConnections = 256;

    /** `ended` returns how many client connections have ended so far (any monotonic count). */
    MemoryTrimmer(net::EventLoop& loop, std::function<std::uint64_t()> ended);
    ~MemoryTrimmer();
    MemoryTrimmer(const MemoryTrimmer&) = delete;
    MemoryTrimmer& operator=(const MemoryTrimmer&) = delete;

    void start();
    void onTimer(std::uint32_t tag) override;

    /** Trims now; returns whether the platform can. */
    static bool trimNow();

private:
    net::EventLoop& loop_;
    std::function<std::uint64_t()> ended_;
    net::Timer timer_{this, 0};
    std::uint64_t ended_at_last_trim_ = 0;
};

}  // namespace postern::server
