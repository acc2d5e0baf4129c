// Runs a pool's probe against each of its backends on the control loop: interval, timeout, the
// connection, and the healthy/unhealthy thresholds are the core's; the probe plugin's session only
// writes request bytes and judges response bytes. Control thread only.
//
// Rules: a backend is not eligible until probed; its FIRST successful probe marks it up (as Envoy
// does, so a new backend serves after one interval, not `healthy_threshold` of them); after that,
// `unhealthy_threshold` consecutive failures mark it down and `healthy_threshold` consecutive
// successes mark it up again. Every transition republishes the pool's snapshot and is logged.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "net/event_loop.h"
#include "upstream/pool.h"

namespace postern::upstream {

class HealthChecker {
public:
    HealthChecker(net::EventLoop& loop, Pool& pool);
    ~HealthChecker();
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    /** Starts probing backends new to the pool (at once) and stops probing removed ones. */
    void sync();

private:
    class Task;
    friend class Task;
    void record(Backend& backend, bool ok, const std::string& reason);

    net::EventLoop& loop_;
    Pool& pool_;
    std::unordered_map<Backend*, Task*> tasks_;  // owned; destroyed through loop_.destroyLater
};

}  // namespace postern::upstream
