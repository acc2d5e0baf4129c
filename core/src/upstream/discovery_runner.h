// Runs a pool's discovery plugin off the control loop. Every round is level-triggered: the
// plugin reports the whole target set; the core resolves every name to all its addresses and
// diffs the result against the pool (upstream/target_diff.h): backends that stay keep their
// object, health and counters (weight, region, max_connections and priority change in place), new
// ones are added (probed before traffic), the rest retire and drain. A failed round keeps the last
// good set.
//
// Threads: the first round runs on the caller of runRound() (at start, before traffic). After it,
// each pool has a discovery thread of its own where the plugin's discover() and the name
// resolution (blocking getaddrinfo) run, so a slow DNS server delays only this pool's discovery,
// never the probes that share the control loop. The thread posts each round's result to the
// control loop (net::EventLoop::post), where it is applied to the pool (Pool::backends() is
// control-thread only). The next round comes after the plugin's nextRefreshMs() hint, or
// `refresh`. The plugin's budget for one round is `refresh` clamped to [1 s, 5 s].
//
// The runner reads what it needs of the pool's config once, at construction (the discovery
// instance, refresh, the default port, whether the pool probes): a pool whose [pool.discovery]
// or [pool.backend] changes gets a new runner. Construct, runRound() and destroy on the control
// thread (or before the control loop runs / after it stopped). The destructor stops and joins the
// thread: a discover() in progress finishes first (within its budget, if the plugin keeps it); a
// result posted but not yet applied is dropped, never applied to a destroyed runner.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "upstream/health_checker.h"
#include "upstream/pool.h"
#include "upstream/target_diff.h"

namespace postern::upstream {

class DiscoveryRunner {
public:
    /** The upper bound of a round's budget (see the file comment). */
    static constexpr std::chrono::milliseconds kMaxBudget{5000};
    static constexpr std::chrono::milliseconds kMinBudget{1000};

    DiscoveryRunner(net::EventLoop& loop, Pool& pool, HealthChecker* health);
    ~DiscoveryRunner();
    DiscoveryRunner(const DiscoveryRunner&) = delete;
    DiscoveryRunner& operator=(const DiscoveryRunner&) = delete;

    /** One round now, on the calling thread (control thread, or before the control loop runs),
     * applied before it returns; then the discovery thread (started on the first call) takes the
     * next rounds. Returns false when the round failed (the last good set stays). */
    bool runRound();

    /** Instead of runRound(), where the caller must not wait for discovery (e.g. a pool added by
     * a reload while the control loop runs): starts the discovery thread with a round at once,
     * applied on the control loop like every later one. Touches neither the pool nor the loop, so
     * any thread may call it (not concurrently with runRound() or the destructor); no-op once the
     * thread runs. */
    void start();

    /** Rounds applied to the pool so far, failed ones included (control thread). */
    std::uint64_t roundsApplied() const { return rounds_applied_; }
    /** Backends discovery removed that have open connections still (control thread). */
    const std::vector<std::shared_ptr<Backend>>& draining() const { return draining_; }

private:
    /** One round's result, as the discovery thread hands it to the control loop. */
    struct Round {
        std::uint64_t sequence = 0;
        bool failed = false;
        std::string reason;
        Resolution resolution;
        std::chrono::milliseconds next{0};  ///< delay before the next round
    };
    struct Shared;

    /** Runs the plugin and resolves its targets. Any thread; one at a time (Shared). */
    static std::shared_ptr<Round> collect(Shared& shared);
    /** Control thread: applies a round to the pool. */
    bool apply(const Round& round);
    void startThread(std::chrono::milliseconds first_delay);
    static void threadMain(std::shared_ptr<Shared> shared, net::EventLoop* loop,
                           DiscoveryRunner* runner);

    net::EventLoop& loop_;
    Pool& pool_;
    HealthChecker* health_;
    std::shared_ptr<Shared> shared_;
    std::thread thread_;
    std::vector<std::shared_ptr<Backend>> draining_;
    std::uint64_t rounds_applied_ = 0;
    std::uint64_t last_sequence_ = 0;
    bool up_without_probe_ = true;
    bool name_is_identity_ = false;
};

}  // namespace postern::upstream
