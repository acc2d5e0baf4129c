// The balancer plugins through the real binary: least_connections equalises long-lived
// connections, random_two keeps them even, maglev sends a client to the same backend from two
// separate postern processes.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "balancing_support.h"

namespace postern::test {
namespace {

class BalancersTest : public IntegrationTest {
protected:
    std::uint16_t start(PosternProcess& p) {
        const auto port = p.listeningPort("front", kStartTimeout);
        EXPECT_TRUE(p.waitReady(kStartTimeout));
        return port;
    }
};

TEST_F(BalancersTest, LeastConnectionsEqualisesLongLivedConnections) {
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b"),
        c(BackendMode::IdThenEcho, "c");
    PoolSpec pool;
    pool.balancer = "least_connections";
    pool.targets = quoted({&a, &b, &c});
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = start(p);
    ASSERT_NE(port, 0);

    std::map<std::string, std::vector<BlockingClient>> held;
    for (int i = 0; i < 12; ++i) {
        std::vector<BlockingClient> one;
        const auto id = readId(port, {}, &one);
        ASSERT_TRUE(id) << "connection " << i;
        held[*id].push_back(std::move(one.front()));
    }
    EXPECT_EQ(held["a"].size(), 4u);
    EXPECT_EQ(held["b"].size(), 4u);
    EXPECT_EQ(held["c"].size(), 4u);

    // a's clients leave; once postern has closed them, every new connection goes to a until the
    // three are even again (round robin would send only a third there).
    for (auto& client : held["a"]) client.close();
    held["a"].clear();
    ASSERT_TRUE(waitAccessLines(p, "backend", a.address(), 4));
    for (int i = 0; i < 4; ++i) {
        std::vector<BlockingClient> one;
        EXPECT_EQ(readId(port, {}, &one), std::optional<std::string>("a")) << "connection " << i;
        for (auto& c : one) held["a"].push_back(std::move(c));
    }
    // Even again: the next three go one to each.
    std::set<std::string> next;
    for (int i = 0; i < 3; ++i) {
        std::vector<BlockingClient> one;
        if (auto id = readId(port, {}, &one)) next.insert(*id);
        for (auto& c : one) held["x"].push_back(std::move(c));
    }
    EXPECT_EQ(next, (std::set<std::string>{"a", "b", "c"}));
}

TEST_F(BalancersTest, RandomTwoNeverPicksTheBusierOfTwo) {
    // With two backends both are always drawn, so "never the busier of the two" is observable:
    // held connections alternate exactly, and freed slots are refilled first.
    TestBackend a(BackendMode::IdThenEcho, "a"), b(BackendMode::IdThenEcho, "b");
    PoolSpec pool;
    pool.balancer = "random_two";
    pool.targets = quoted({&a, &b});
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = start(p);
    ASSERT_NE(port, 0);
    std::map<std::string, std::vector<BlockingClient>> held;
    for (int i = 0; i < 10; ++i) {
        std::vector<BlockingClient> one;
        const auto id = readId(port, {}, &one);
        ASSERT_TRUE(id) << "connection " << i;
        held[*id].push_back(std::move(one.front()));
        const int diff = static_cast<int>(held["a"].size()) - static_cast<int>(held["b"].size());
        EXPECT_LE(std::abs(diff), 1) << "after connection " << i;
    }
    EXPECT_EQ(held["a"].size(), 5u);
    EXPECT_EQ(held["b"].size(), 5u);
    for (int k = 0; k < 4; ++k) held["b"][k].close();
    ASSERT_TRUE(waitAccessLines(p, "backend", b.address(), 4));
    for (int i = 0; i < 4; ++i) {
        std::vector<BlockingClient> one;
        EXPECT_EQ(readId(port, {}, &one), std::optional<std::string>("b")) << "connection " << i;
        for (auto& c : one) held["b"].push_back(std::move(c));
    }
}

TEST_F(BalancersTest, MaglevTwoProcessesAgreeForFiftyClientAddresses) {
    std::vector<std::unique_ptr<TestBackend>> backends;
    std::vector<const TestBackend*> views;
    for (int i = 0; i < 5; ++i) {
        backends.push_back(
            std::make_unique<TestBackend>(BackendMode::IdThenEcho, "m" + std::to_string(i)));
        views.push_back(backends.back().get());
    }
    PoolSpec pool;
    pool.balancer = "maglev";
    pool.targets = quoted(views);
    const std::string config = gatewayToml() + listenerToml("front", "pool") + poolToml(pool);
    auto& first = runPostern(config);
    auto& second = runPostern(config);
    const auto port1 = start(first);
    const auto port2 = start(second);
    ASSERT_NE(port1, 0);
    ASSERT_NE(port2, 0);

    std::set<std::string> used;
    for (int host = 10; host < 60; ++host) {
        const std::string client_ip = "127.0.0." + std::to_string(host);
        const auto one = readId(port1, client_ip);
        const auto two = readId(port2, client_ip);
        ASSERT_TRUE(one && two) << client_ip;
        EXPECT_EQ(*one, *two) << "the two instances disagree for client " << client_ip;
        EXPECT_EQ(readId(port1, client_ip), one)
            << "client " << client_ip << " moved between connections";
        used.insert(*one);
    }
    EXPECT_GE(used.size(), 4u) << "50 clients should spread over the 5 backends";
    // The access log names the client address the hash was computed from.
    // (Written when postern has closed its side, which may be just after the client saw EOF.)
    EXPECT_TRUE(first
                    .waitForLine(std::regex("client=127\\.0\\.0\\.59:"), Millis(5000),
                                 Stream::Stdout)
                    .has_value());
}

}  // namespace
}  // namespace postern::test
