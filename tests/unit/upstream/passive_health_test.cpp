// Passive health on a real control loop: consecutive connect failures reported by "workers"
// (here the test thread, through the Pool) mark a backend down once the threshold is reached; a
// success resets the count; a pool without a probe re-admits an ejected backend after the
// ejection time and never ejects its last backend; with a probe the health checker's bookkeeping
// becomes "marked down by the probes".
#include "upstream/passive_health.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "upstream/health_checker.h"

using namespace postern;
using namespace std::chrono_literals;

namespace {

struct Fixture {
    net::EventLoop loop;
    config::PoolConfig pc;
    std::unique_ptr<upstream::Pool> pool;
    std::unique_ptr<upstream::HealthChecker> health;
    std::unique_ptr<upstream::PassiveHealth> passive;

    explicit Fixture(bool with_probe, std::uint32_t backends = 2,
                     std::chrono::milliseconds ejection = 100ms) {
        pc.name = "p";
        pc.backend.passive_failures = 3;
        if (with_probe) {
            pc.probe.emplace();
            pc.probe->unhealthy_threshold = 4;
        }
        pool = std::make_unique<upstream::Pool>(pc, nullptr);
        for (std::uint32_t i = 0; i < backends; ++i) {
            auto b = std::make_shared<upstream::Backend>();
            b->host = "127.0.0." + std::to_string(i + 1);
            b->port = 5000;
            b->address_text = b->host + ":5000";
            b->up.store(true);
            pool->backends().push_back(b);
        }
        pool->republish();
        // No sync(): the checker runs no probe here, only its bookkeeping is looked at.
        if (with_probe) health = std::make_unique<upstream::HealthChecker>(loop, *pool);
        passive = std::make_unique<upstream::PassiveHealth>(loop, *pool, health.get(), ejection);
        pool->setPassiveHealth(passive.get());
    }

    upstream::Backend& at(std::size_t i) { return *pool->backends()[i]; }
    void fail(std::size_t i, int times) {
        for (int k = 0; k < times; ++k) pool->noteConnectFailure(pool->backends()[i]);
    }
    std::size_t eligible() const { return pool->snapshot()->backends.size(); }
    /** Runs the loop until `done()` or `limit` passes (bounded rounds of at most 10 ms). */
    template <class F>
    bool runUntil(F done, std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (int round = 0; round < 1000 && !done(); ++round) {
            if (std::chrono::steady_clock::now() >= deadline) return done();
            loop.runOnce(10ms);
        }
        return done();
    }
    /** A few rounds, so anything posted so far has run. */
    void settle() {
        for (int round = 0; round < 3; ++round) loop.runOnce(1ms);
    }
};

TEST(PassiveHealth, ThresholdMarksDownAndRepublishes) {
    Fixture f(false);
    f.fail(0, 2);
    f.settle();
    EXPECT_TRUE(f.at(0).up.load()) << "two failures are below the threshold of three";
    f.fail(0, 1);
    // Before the control loop runs, every worker already skips it.
    EXPECT_TRUE(f.at(0).passive_down.load());
    ASSERT_TRUE(f.runUntil([&] { return !f.at(0).up.load(); }, 2s));
    EXPECT_FALSE(f.at(0).passive_down.load()) << "`up` says it once the control loop has run";
    EXPECT_EQ(f.eligible(), 1u);
    EXPECT_EQ(f.pool->snapshot()->backends[0].get(), &f.at(1));
    EXPECT_TRUE(f.at(1).up.load());
}

TEST(PassiveHealth, SuccessResetsTheCount) {
    Fixture f(false);
    f.fail(0, 2);
    f.pool->noteConnectSuccess(f.at(0));
    f.fail(0, 2);
    f.settle();
    EXPECT_TRUE(f.at(0).up.load());
    EXPECT_EQ(f.at(0).connect_failure_streak.load(), 2u);
    EXPECT_EQ(f.eligible(), 2u);
}

TEST(PassiveHealth, WithoutAProbeTheBackendComesBackAfterTheEjectionTime) {
    Fixture f(false, 2, 100ms);
    const auto start = std::chrono::steady_clock::now();
    f.fail(0, 3);
    ASSERT_TRUE(f.runUntil([&] { return !f.at(0).up.load(); }, 2s));
    ASSERT_TRUE(f.runUntil([&] { return f.at(0).up.load(); }, 5s)) << "never re-admitted";
    EXPECT_GE(std::chrono::steady_clock::now() - start, 100ms);
    EXPECT_EQ(f.eligible(), 2u);
    EXPECT_EQ(f.at(0).connect_failure_streak.load(), 0u);
    // Still failing: ejected again by the next streak.
    f.fail(0, 3);
    EXPECT_TRUE(f.runUntil([&] { return !f.at(0).up.load(); }, 2s));
}

TEST(PassiveHealth, WithoutAProbeTheLastBackendUpIsKept) {
    Fixture f(false, 2);
    f.fail(0, 3);
    ASSERT_TRUE(f.runUntil([&] { return !f.at(0).up.load(); }, 2s));
    f.fail(1, 3);
    EXPECT_FALSE(f.at(1).passive_down.load()) << "the worker keeps it too";
    f.settle();
    EXPECT_TRUE(f.at(1).up.load()) << "nothing else to try: ejecting it only refuses clients";
    EXPECT_EQ(f.eligible(), 1u);
}

TEST(PassiveHealth, WithAProbeOnlyTheProbeBringsItBack) {
    Fixture f(true, 1, 50ms);
    f.at(0).probed_once = true;
    f.at(0).consecutive_ok = 7;
    f.fail(0, 3);
    ASSERT_TRUE(f.runUntil([&] { return !f.at(0).up.load(); }, 2s))
        << "with a probe even the last backend goes down: the probe brings it back";
    EXPECT_EQ(f.eligible(), 0u);
    // The checker's bookkeeping: as if the probes had marked it down, so `healthy_threshold`
    // successes are needed to come back (not "first success marks it up").
    EXPECT_TRUE(f.at(0).probed_once);
    EXPECT_EQ(f.at(0).consecutive_ok, 0u);
    EXPECT_EQ(f.at(0).consecutive_fail, 4u);
    // No ejection timer: well past the ejection time it is still down.
    const auto until = std::chrono::steady_clock::now() + 200ms;
    f.runUntil([&] { return std::chrono::steady_clock::now() >= until; }, 1s);
    EXPECT_FALSE(f.at(0).up.load());
}

TEST(PassiveHealth, OffWithoutAPassiveHealth) {
    Fixture f(false);
    f.pool->setPassiveHealth(nullptr);
    f.fail(0, 10);
    f.settle();
    EXPECT_TRUE(f.at(0).up.load());
    EXPECT_EQ(f.at(0).connect_failure_streak.load(), 0u);
}

TEST(PassiveHealth, AnAlreadyDownOrRemovedBackendIsLeftAlone) {
    Fixture f(false, 3);
    f.at(0).up.store(false);  // e.g. the probe got there first
    f.pool->republish();
    f.passive->markDown(f.pool->backends()[0]);
    EXPECT_FALSE(f.at(0).up.load());
    auto removed = f.pool->backends()[2];
    f.pool->backends().pop_back();
    f.passive->markDown(removed);
    EXPECT_TRUE(removed->up.load());
    EXPECT_EQ(f.eligible(), 2u);
}

}  // namespace
