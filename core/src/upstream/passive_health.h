// Passive health (`[pool.backend] passive_failures`, like HAProxy's `observe layer4` +
// `error-limit` or Envoy's consecutive gateway failures): a backend whose connects fail
// `passive_failures` times in a row is marked down at once, without waiting for the probe.
//
// Workers count (Pool::noteConnectFailure / noteConnectSuccess: an atomic on the Backend, no
// lock); the worker whose failure reaches the threshold sets the backend's `passive_down` flag,
// which every worker's pick() honours at once, and calls report(), which posts the backend to the
// control loop. Everything else runs there, like the health checker's transitions: the mark-down
// (up = false, which clears `passive_down`), the snapshot republish, the log line and, in a pool
// without a probe, the re-admission.
//
// What brings a backend back:
//  - a pool with a probe: the probe. The mark-down leaves the health checker's bookkeeping as if
//    the probes had marked it down (HealthChecker::notePassiveDown), so it takes
//    `healthy_threshold` consecutive successful probes to come back.
//  - a pool without a probe (its backends count as up): nothing else would, so the backend is
//    ejected for a fixed time (kEjectionTime, Envoy's default base_ejection_time) and then counts
//    as up again; if it still fails, the next `passive_failures` failures eject it again. The last
//    backend of such a pool that counts as up is never ejected: with nothing else to try, it would
//    only turn failed connects into refusals for the whole ejection time.
// Control thread only, except report().
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "upstream/pool.h"

namespace postern::upstream {

class HealthChecker;

class PassiveHealth final : public net::TimerHandler {
public:
    static constexpr std::chrono::milliseconds kEjectionTime{30000};
    /** "backend not ejected" (the last one up) is logged at most this often per pool. */
    static constexpr std::chrono::milliseconds kKeptLogInterval{10000};

    /** `health` is the pool's health checker, null when the pool has no probe. */
    PassiveHealth(net::EventLoop& loop, Pool& pool, HealthChecker* health,
                  std::chrono::milliseconds ejection_time = kEjectionTime);
    ~PassiveHealth();
    PassiveHealth(const PassiveHealth&) = delete;
    PassiveHealth& operator=(const PassiveHealth&) = delete;

    /** Any thread: `backend` just reached the threshold of consecutive connect failures. */
    void report(std::shared_ptr<Backend> backend);

    /** Control thread: marks `backend` down by the rules above (a no-op when it is down already,
     * draining or no longer in the pool). report() posts this. */
    void markDown(const std::shared_ptr<Backend>& backend);

    void onTimer(std::uint32_t tag) override;

    /** Control thread: a reload gave the pool a probe, or took it away (null). */
    void setHealthChecker(HealthChecker* health) { health_ = health; }

private:
    struct Ejected {
        std::shared_ptr<Backend> backend;
        net::Clock::time_point until;
    };
    bool inPool(const Backend& b);
    void armNext();

    net::EventLoop& loop_;
    Pool& pool_;
    HealthChecker* health_;
    const std::chrono::milliseconds ejection_time_;
    std::vector<Ejected> ejected_;  // pools without a probe only
    net::Clock::time_point next_kept_log_{};
    net::Timer timer_;
};

}  // namespace postern::upstream
