// Runs a pool's discovery plugin on the control loop: one round at start (synchronously, before
// traffic), then every `refresh` (or the plugin's hint). Each round is level-triggered: the plugin
// reports the whole target set, the core resolves names, keeps Backend objects (and their health
// and counters) for targets that stay, adds new ones (probed before traffic) and removes the rest.
// A failed round keeps the last good set. Control thread only.
#pragma once

#include <memory>

#include "net/event_loop.h"
#include "upstream/health_checker.h"
#include "upstream/pool.h"

namespace postern::upstream {

class DiscoveryRunner : public net::TimerHandler {
public:
    DiscoveryRunner(net::EventLoop& loop, Pool& pool, HealthChecker* health);
    ~DiscoveryRunner();
    DiscoveryRunner(const DiscoveryRunner&) = delete;
    DiscoveryRunner& operator=(const DiscoveryRunner&) = delete;

    /** One round now; then schedules the next. Returns false when the round failed. */
    bool runRound();

    void onTimer(std::uint32_t tag) override;

private:
    net::EventLoop& loop_;
    Pool& pool_;
    HealthChecker* health_;
    net::Timer timer_;
};

}  // namespace postern::upstream
