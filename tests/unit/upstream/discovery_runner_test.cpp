// DiscoveryRunner on a real control loop, with discovery plugins driven through the SDK's C glue
// (as a plugin library exports them) and the real `tcp` probe plugin loaded from its library:
// rounds after the first run on the pool's own thread and are applied on the loop; a slow
// discover() (4 s, ignoring its budget like a blocking resolver) delays neither the probes of
// another pool nor the loop; failed rounds keep the last set; removed backends drain and come
// back as the same object; the destructor joins a thread that is inside discover().
#include "upstream/discovery_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/socket_ops.h"
#include "plugin/registry.h"
#include "postern/plugin/sdk.h"
#include "support/plugins/fake_config.h"

namespace postern::upstream {
namespace {

using namespace std::chrono_literals;

DiscoveredTarget tgt(std::string host, std::uint16_t port, std::uint32_t weight = 1,
                     std::uint32_t max_connections = 0, std::string region = {},
                     std::uint32_t priority = 0) {
    return DiscoveredTarget{std::move(host),   port,    weight, max_connections,
                            std::move(region), priority};
}

/** What a test tells its discovery plugin to report, and what the plugin saw. */
struct Script {
    std::mutex mutex;
    std::vector<DiscoveredTarget> targets;  // guarded by mutex
    bool fail = false;                      // guarded by mutex
    std::int64_t hint_ms = 0;               // guarded by mutex
    /** Rounds from this one on (1-based) sleep `delay` first, ignoring their budget. */
    int slow_from_round = 1000;
    std::chrono::milliseconds delay{0};
    std::atomic<int> started{0};
    std::atomic<int> finished{0};
    std::atomic<std::int64_t> last_budget{0};
    std::mutex threads_mutex;
    std::vector<std::thread::id> threads;  // guarded by threads_mutex: where each round ran

    void set(std::vector<DiscoveredTarget> t, bool failing = false) {
        std::lock_guard<std::mutex> g(mutex);
        targets = std::move(t);
        fail = failing;
    }
};

class ScriptedDiscovery final : public sdk::Discovery {
public:
    explicit ScriptedDiscovery(Script& script) : script_(script) {}
    static std::unique_ptr<ScriptedDiscovery> create(sdk::Config&, sdk::Host&) noexcept {
        return nullptr;  // made by the test itself
    }
    void discover(sdk::Sink& sink, std::int64_t budget_ms) noexcept override {
        const int round = ++script_.started;
        script_.last_budget.store(budget_ms);
        {
            std::lock_guard<std::mutex> g(script_.threads_mutex);
            script_.threads.push_back(std::this_thread::get_id());
        }
        if (round >= script_.slow_from_round) std::this_thread::sleep_for(script_.delay);
        {
            std::lock_guard<std::mutex> g(script_.mutex);
            if (script_.fail) {
                sdk::Target discarded;  // discarded with the failure
                discarded.host = "10.9.9.9";
                sink.add(discarded);
                sink.fail("scripted failure");
            } else {
                for (const auto& t : script_.targets)
                    sink.add({t.host, t.port, t.weight, t.max_connections, t.region, t.priority});
            }
        }
        ++script_.finished;
    }
    std::int64_t nextRefreshMs() const noexcept override {
        std::lock_guard<std::mutex> g(script_.mutex);
        return script_.hint_ms;
    }

private:
    Script& script_;
};

/** The plugin as the Registry would hold it: for the life of the process (a runner's last
 * result may still hold the instance when the test's loop goes). */
const plugin::LoadedPlugin* scriptedPlugin() {
    static const postern_descriptor desc = [] {
        postern_descriptor d{};
        d.abi_version = POSTERN_PLUGIN_ABI_VERSION;
        d.descriptor_size = sizeof d;
        d.kind = POSTERN_KIND_DISCOVERY;
        d.discovery = &sdk::detail::DiscoveryGlue<ScriptedDiscovery>::ops;
        return d;
    }();
    static const plugin::LoadedPlugin plugin = [] {
        plugin::LoadedPlugin p;
        p.kind = POSTERN_KIND_DISCOVERY;
        p.name = "scripted";
        p.descriptor = &desc;
        return p;
    }();
    return &plugin;
}

/** A pool whose discovery is a ScriptedDiscovery, optionally probed by the real `tcp` probe. */
struct PoolUnderTest {
    config::PoolConfig pc;
    std::unique_ptr<Pool> pool;
    std::unique_ptr<HealthChecker> health;
    std::unique_ptr<DiscoveryRunner> runner;

    PoolUnderTest(net::EventLoop& loop, Script& script, const std::string& name,
                  std::chrono::milliseconds refresh,
                  std::shared_ptr<plugin::Probe> probe = nullptr) {
        pc.name = name;
        pc.discovery.plugin = "scripted";
        pc.discovery.refresh = refresh;
        sdk::Discovery* instance = new ScriptedDiscovery(script);
        pc.discovery.instance = std::make_shared<plugin::Discovery>(scriptedPlugin(), instance);
        if (probe) {
            pc.probe.emplace();
            pc.probe->interval = 100ms;
            pc.probe->timeout = 1000ms;
            pc.probe->instance = std::move(probe);
        }
        pool = std::make_unique<Pool>(pc, nullptr);
        if (pc.probe) health = std::make_unique<HealthChecker>(loop, *pool);
        runner = std::make_unique<DiscoveryRunner>(loop, *pool, health.get());
    }
    ~PoolUnderTest() {
        runner.reset();  // joins the thread before the plugin instance goes
        health.reset();
    }
    std::vector<std::string> addresses() {
        std::vector<std::string> out;
        for (const auto& b : pool->backends()) out.push_back(b->address_text);
        return out;
    }
};

/** Runs the loop on this thread (the control thread) until `done()` or `limit`; bounded. */
template <class F>
bool runUntil(net::EventLoop& loop, F done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (int round = 0; round < 100000 && !done(); ++round) {
        if (std::chrono::steady_clock::now() >= deadline) return done();
        loop.runOnce(5ms);
    }
    return done();
}

TEST(DiscoveryRunner, TheFirstRoundRunsOnTheCallerTheNextOnesOnThePoolsThread) {
    net::EventLoop loop;
    Script script;
    script.set({tgt("10.0.0.1", 80)});
    PoolUnderTest p(loop, script, "p", 20ms);
    ASSERT_TRUE(p.runner->runRound());
    EXPECT_EQ(p.addresses(), (std::vector<std::string>{"10.0.0.1:80"}))
        << "applied before it returns";
    EXPECT_EQ(p.runner->roundsApplied(), 1u);
    EXPECT_EQ(script.last_budget.load(), 1000) << "refresh 20 ms: the budget is at least 1 s";

    script.set({tgt("10.0.0.1", 80), tgt("10.0.0.2", 81)});
    ASSERT_TRUE(runUntil(
        loop, [&] { return p.pool->backends().size() == 2; }, 5s));
    EXPECT_EQ(p.addresses(), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:81"}));
    EXPECT_EQ(p.pool->snapshot()->backends.size(), 2u) << "republished";
    std::lock_guard<std::mutex> g(script.threads_mutex);
    ASSERT_GE(script.threads.size(), 2u);
    EXPECT_EQ(script.threads[0], std::this_thread::get_id());
    for (std::size_t i = 1; i < script.threads.size(); ++i) {
        EXPECT_NE(script.threads[i], std::this_thread::get_id()) << "round " << i + 1;
        EXPECT_EQ(script.threads[i], script.threads[1]) << "one thread per pool";
    }
}

TEST(DiscoveryRunner, StartRunsTheFirstRoundOnTheThreadAndAppliesItOnTheLoop) {
    net::EventLoop loop;
    Script script;
    script.set({tgt("10.0.0.1", 80)});
    PoolUnderTest p(loop, script, "p", 600s);
    p.runner->start();
    EXPECT_TRUE(p.pool->backends().empty()) << "nothing is applied off the control loop";
    ASSERT_TRUE(runUntil(
        loop, [&] { return p.runner->roundsApplied() == 1; }, 5s));
    EXPECT_EQ(p.addresses(), (std::vector<std::string>{"10.0.0.1:80"}));
    p.runner->start();  // no-op: the thread runs
    std::lock_guard<std::mutex> g(script.threads_mutex);
    ASSERT_EQ(script.threads.size(), 1u);
    EXPECT_NE(script.threads[0], std::this_thread::get_id());
}

TEST(DiscoveryRunner, ThePluginsHintSetsTheNextRound) {
    net::EventLoop loop;
    Script script;
    script.set({tgt("10.0.0.1", 80)});
    {
        std::lock_guard<std::mutex> g(script.mutex);
        script.hint_ms = 30;
    }
    PoolUnderTest p(loop, script, "p", 600s);  // without the hint: one round only in this test
    ASSERT_TRUE(p.runner->runRound());
    EXPECT_EQ(script.last_budget.load(), DiscoveryRunner::kMaxBudget.count());
    ASSERT_TRUE(runUntil(
        loop, [&] { return p.runner->roundsApplied() >= 3; }, 5s));
}

TEST(DiscoveryRunner, AFailedRoundKeepsTheLastSetAnEmptyOneRemovesEverything) {
    net::EventLoop loop;
    Script script;
    script.set({tgt("10.0.0.1", 80), tgt("10.0.0.2", 80)});
    PoolUnderTest p(loop, script, "p", 600s);
    ASSERT_TRUE(p.runner->runRound());
    const auto before = p.pool->backends();
    script.set({tgt("10.0.0.3", 80)}, /*failing=*/true);
    EXPECT_FALSE(p.runner->runRound());
    EXPECT_EQ(p.pool->backends(), before) << "the same objects";
    EXPECT_EQ(p.pool->snapshot()->backends.size(), 2u);
    EXPECT_FALSE(before[0]->draining.load());
    script.set({});
    EXPECT_TRUE(p.runner->runRound());
    EXPECT_TRUE(p.pool->backends().empty());
    EXPECT_TRUE(p.pool->snapshot()->backends.empty());
    EXPECT_TRUE(before[0]->draining.load());
    EXPECT_TRUE(before[1]->draining.load());
}

TEST(DiscoveryRunner, RemovedBackendsDrainAndComeBackAsTheSameObject) {
    net::EventLoop loop;
    Script script;
    script.set({tgt("10.0.0.1", 80), tgt("10.0.0.2", 80, 1, 0, "", 0)});
    PoolUnderTest p(loop, script, "p", 600s);
    ASSERT_TRUE(p.runner->runRound());
    auto b = p.pool->backends()[1];
    b->active.store(1);  // an open connection
    script.set({tgt("10.0.0.1", 80)});
    ASSERT_TRUE(p.runner->runRound());
    EXPECT_TRUE(b->draining.load());
    ASSERT_EQ(p.runner->draining().size(), 1u);
    // Reported again, with another weight and priority: the same object, in place.
    script.set({tgt("10.0.0.1", 80), tgt("10.0.0.2", 80, 4, 7, "r", 2)});
    ASSERT_TRUE(p.runner->runRound());
    ASSERT_EQ(p.pool->backends().size(), 2u);
    EXPECT_EQ(p.pool->backends()[1], b);
    EXPECT_FALSE(b->draining.load());
    EXPECT_EQ(b->weight, 4u);
    EXPECT_EQ(b->max_connections.load(), 7u);
    EXPECT_EQ(b->region, "r");
    EXPECT_EQ(b->priority, 2u);
    EXPECT_TRUE(p.runner->draining().empty());
    const auto snap = p.pool->snapshot();
    ASSERT_EQ(snap->tiers.size(), 2u) << "priority 2 is a tier of its own";
    EXPECT_EQ(snap->backends[1], b);
    EXPECT_EQ(snap->views[1].weight, 4u);
    b->active.store(0);
}

// The seam this runner exists for: discovery of one pool blocked for 4 s (a slow DNS server)
// while another pool's probes go on at their interval on the shared control loop.
TEST(DiscoveryRunner, ASlowDiscoverDoesNotDelayTheProbesOfAnotherPool) {
    plugin::Registry registry;
    registry.scan({POSTERN_TEST_PLUGIN_DIR});
    const auto* tcp = registry.find(POSTERN_KIND_PROBE, "tcp");
    ASSERT_NE(tcp, nullptr);
    testing::FakeConfig probe_config(testing::Value::table({}));
    void* raw_probe = tcp->descriptor->probe->create(probe_config.raw(), registry.host(*tcp));
    ASSERT_NE(raw_probe, nullptr);
    auto probe = std::make_shared<plugin::Probe>(tcp, raw_probe);

    // The probed backend: a loopback listener (the kernel completes the handshakes).
    std::string err;
    const auto any = net::SocketAddress::fromIp("127.0.0.1", 0);
    net::Fd listener = net::listenSocket(*any, false, 512, &err);
    ASSERT_NE(listener, net::kInvalidFd) << err;
    const std::uint16_t port = net::localAddress(listener).port();

    net::EventLoop loop;
    Script slow;
    slow.set({tgt("10.0.0.1", 80)});
    slow.slow_from_round = 2;
    slow.delay = 4000ms;
    Script fast;
    fast.set({tgt("127.0.0.1", port)});
    auto a = std::make_unique<PoolUnderTest>(loop, slow, "slow", 50ms);
    PoolUnderTest b(loop, fast, "probed", 600s, probe);
    ASSERT_TRUE(a->runner->runRound());
    ASSERT_TRUE(b.runner->runRound());
    ASSERT_EQ(b.pool->backends().size(), 1u);
    const auto& probed = *b.pool->backends()[0];

    // 3 s of the loop, during which pool "slow" enters its 4 s round (after 50 ms): probes (every
    // 100 ms) must go on. A blocked loop would show a gap of 4 s; 2 s allows for a machine busy
    // with other work.
    const auto blocked_at = std::chrono::steady_clock::now();
    const std::uint32_t ok_before = probed.consecutive_ok;
    std::uint32_t last_ok = ok_before;
    auto last_change = blocked_at;
    std::chrono::milliseconds longest_gap{0};
    runUntil(
        loop,
        [&] {
            const auto now = std::chrono::steady_clock::now();
            longest_gap =
                std::max(longest_gap,
                         std::chrono::duration_cast<std::chrono::milliseconds>(now - last_change));
            if (probed.consecutive_ok != last_ok) {
                last_ok = probed.consecutive_ok;
                last_change = now;
            }
            return false;
        },
        3000ms);
    EXPECT_EQ(slow.started.load(), 2) << "the slow round began";
    const auto window = std::chrono::steady_clock::now() - blocked_at;
    EXPECT_EQ(slow.finished.load(), 1) << "the slow round was still in discover() all along";
    EXPECT_EQ(a->runner->roundsApplied(), 1u);
    EXPECT_TRUE(probed.up.load());
    EXPECT_GE(probed.consecutive_ok - ok_before, 10u)
        << "probes every 100 ms for "
        << std::chrono::duration_cast<std::chrono::milliseconds>(window).count() << " ms";
    EXPECT_LT(longest_gap, 2000ms) << "a probe interval was held up";

    // Destroyed while its thread is inside discover(): the destructor waits for the round (what is
    // left of the 4 s) and nothing is applied to the destroyed runner afterwards.
    const auto destroy_at = std::chrono::steady_clock::now();
    a.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - destroy_at, 4000ms);
    EXPECT_EQ(slow.finished.load(), 2);
    for (int i = 0; i < 5; ++i) loop.runOnce(1ms);  // a result it might have posted is dropped
    net::closeFd(listener);
}

}  // namespace
}  // namespace postern::upstream
