// Pool::retire and the drain bookkeeping: the observer hears of a retired backend with the pool's
// drain_timeout, a backend of the same address that joins again ends the drain, and a pool's
// settings reach workers through the snapshot (Pool::setConfig + republish).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "upstream/pool.h"

namespace postern::upstream {
namespace {

struct Recorder final : DrainObserver {
    std::vector<std::pair<const Backend*, config::Millis>> retired;
    std::vector<const Backend*> returned;
    void backendRetired(const std::shared_ptr<Backend>& b, config::Millis timeout) override {
        retired.emplace_back(b.get(), timeout);
    }
    void backendReturned(const std::shared_ptr<Backend>& b) override {
        returned.push_back(b.get());
    }
};

std::shared_ptr<Backend> backend(const std::string& host) {
    auto b = std::make_shared<Backend>();
    b->host = host;
    b->port = 5000;
    b->address_text = host + ":5000";
    b->up.store(true);
    return b;
}

std::shared_ptr<const config::PoolConfig> settings(config::Millis drain) {
    auto pc = std::make_shared<config::PoolConfig>();
    pc->name = "p";
    pc->drain_timeout = drain;
    return pc;
}

TEST(PoolDrainTest, RetireMarksDrainingAndTellsTheObserverThePoolsTimeout) {
    Recorder rec;
    Pool pool(settings(config::Millis(2500)));
    pool.setDrainObserver(&rec);
    auto a = backend("10.0.0.1");
    auto b = backend("10.0.0.2");
    pool.backends() = {a, b};
    pool.republish();
    ASSERT_EQ(pool.snapshot()->backends.size(), 2u);

    pool.retire(b);
    pool.backends() = {a};
    pool.republish();
    EXPECT_TRUE(b->draining.load());
    EXPECT_FALSE(b->takesNewConnections());
    ASSERT_EQ(rec.retired.size(), 1u);
    EXPECT_EQ(rec.retired[0].first, b.get());
    EXPECT_EQ(rec.retired[0].second, config::Millis(2500));
    EXPECT_TRUE(rec.returned.empty());
    EXPECT_EQ(pool.snapshot()->backends.size(), 1u);
}

TEST(PoolDrainTest, ABackendOfTheSameAddressJoiningAgainEndsTheDrain) {
    Recorder rec;
    Pool pool(settings(config::Millis(60000)));
    pool.setDrainObserver(&rec);
    auto old_b = backend("10.0.0.2");
    old_b->active.store(1);  // a connection that would be cut
    pool.backends() = {old_b};
    pool.republish();
    pool.retire(old_b);
    pool.backends().clear();
    pool.republish();
    EXPECT_TRUE(rec.returned.empty());

    auto new_b = backend("10.0.0.2");  // discovery made a new object for the same address
    pool.backends() = {new_b};
    pool.republish();
    ASSERT_EQ(rec.returned.size(), 1u);
    EXPECT_EQ(rec.returned[0], old_b.get());
    // Reported once only.
    pool.republish();
    EXPECT_EQ(rec.returned.size(), 1u);

    // The same object back in the set takes new connections again.
    new_b->active.store(1);
    pool.retire(new_b);
    pool.republish();
    EXPECT_EQ(rec.returned.size(), 2u);
    EXPECT_FALSE(new_b->draining.load());

    // A retired backend with no connection left is forgotten: nothing to end.
    auto idle = backend("10.0.0.3");
    pool.backends() = {new_b, idle};
    pool.republish();
    pool.retire(idle);
    pool.backends() = {new_b};
    pool.republish();
    pool.backends() = {new_b, backend("10.0.0.3")};
    pool.republish();
    EXPECT_EQ(rec.returned.size(), 2u);
}

TEST(PoolDrainTest, NewSettingsReachTheSnapshotOnRepublish) {
    Pool pool(settings(config::Millis(1000)));
    pool.backends() = {backend("10.0.0.1")};
    pool.republish();
    const auto before = pool.snapshot();
    EXPECT_EQ(before->config->drain_timeout, config::Millis(1000));
    pool.setConfig(settings(config::kUnlimited));
    EXPECT_EQ(pool.snapshot()->config->drain_timeout, config::Millis(1000)) << "published early";
    pool.republish();
    EXPECT_EQ(pool.snapshot()->config->drain_timeout, config::kUnlimited);
    EXPECT_EQ(before->config->drain_timeout, config::Millis(1000)) << "an old snapshot changed";
}

}  // namespace
}  // namespace postern::upstream
