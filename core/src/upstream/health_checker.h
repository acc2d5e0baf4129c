// Runs a pool's probe against each of its backends on the control loop: interval, timeout, the
// connection, and the healthy/unhealthy thresholds are the core's; the probe plugin's session only
// writes request bytes and judges response bytes. Control thread only.
//
// Rules: a backend is not eligible until probed; its FIRST successful probe marks it up (as Envoy
// does, so a new backend serves after one interval, not `healthy_threshold` of them); after that,
// `unhealthy_threshold` consecutive failures mark it down and `healthy_threshold` consecutive
// successes mark it up again. Every transition republishes the pool's snapshot and is logged.
// A successful check also records the utilization the probe reported (for utilization balancing)
// and whether it said "drain": a draining backend stays up but leaves the snapshot, so it gets no
// new connections while its open ones go on, until a check says plain healthy again.
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

    /** `backend` was just marked down by passive health (PassiveHealth): from here it is a
     * backend the probes marked down, which `healthy_threshold` consecutive successes bring
     * back. */
    void notePassiveDown(Backend& backend);

private:
    class Task;
    friend class Task;
    /** What one check found. */
    struct Outcome {
        bool ok = false;           ///< healthy (Healthy or Drain verdict)
        bool drain = false;        ///< Drain verdict: up, but no new connections
        double utilization = -1;   ///< reported by the probe; negative = not reported
        std::string reason;        ///< why it failed
        net::Clock::duration took{};  ///< start of the check to its verdict
    };
    void record(Backend& backend, const Outcome& outcome);

    net::EventLoop& loop_;
    Pool& pool_;
    /** A removed backend's task is handed to loop_.destroyLater. */
    std::unordered_map<Backend*, std::unique_ptr<Task>> tasks_;
};

}  // namespace postern::upstream
