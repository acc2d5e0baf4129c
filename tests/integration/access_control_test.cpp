// Access control end to end (SPEC §2, §3): allow / deny lists, the PROXY-carried address checked
// on accept_proxy listeners, max_connections_per_client and new_connections_per_client. Distinct
// clients are distinct loopback source addresses (127.0.0.2, 127.0.0.3 ...); each refusal must
// close the connection before any byte reaches a backend and leave an access-log line with its
// cause.
#include <chrono>
#include <string>
#include <vector>

#include "integration_fixture.h"

namespace postern::test {
namespace {

using std::chrono::steady_clock;

class AccessControlTest : public IntegrationTest {
protected:
    /** Starts postern with one listener "front" (extra keys `listener_keys`) over an IdThenEcho
     * backend; returns the listener's port (0 on failure). */
    std::uint16_t start(std::string_view listener_keys) {
        p_ = &runPostern(gatewayToml() + listenerToml("front", "echo", listener_keys) +
                         poolToml("echo", addressesOf({&backend_})));
        const auto port = p_->listeningPort("front", kStartTimeout);
        if (port == 0 || !p_->waitReady(kStartTimeout)) return 0;
        return port;
    }

    struct Attempt {
        BlockingClient client;
        std::string address;  ///< "ip:port" as the access log names the client
        bool served = false;  ///< the backend's id line arrived
        bool closed = false;  ///< closed by postern with nothing received
    };

    /** Connects from `source_ip` and sees whether the backend answers (served) or postern closes
     * the connection first (refused). */
    Attempt attempt(std::uint16_t port, const std::string& source_ip,
                    std::string_view preface = {}) {
        Attempt a{
            BlockingClient::connect("127.0.0.1", port, kIoTimeout, source_ip), {}, false, false};
        if (!a.client.connected()) return a;
        a.address = source_ip + ":" + std::to_string(a.client.localAddress()->port());
        if (!preface.empty() && a.client.sendAll(preface, kIoTimeout) != IoStatus::Ok) {
            a.closed = true;  // refused before the header was even sent
            return a;
        }
        const RecvResult r = a.client.recvSome(kIoTimeout);
        a.served = r.status == IoStatus::Ok && !r.data.empty();
        a.closed = r.closed() && r.data.empty();
        return a;
    }

    ::testing::AssertionResult refused(const Attempt& a, std::string_view cause,
                                       const std::string& client_address = {}) {
        if (!a.client.connected()) return ::testing::AssertionFailure() << "could not connect";
        if (a.served) return ::testing::AssertionFailure() << a.address << " was served";
        if (!a.closed)
            return ::testing::AssertionFailure() << a.address << " neither served nor closed";
        const std::string who = client_address.empty() ? a.address : client_address;
        if (!p_->waitForLine(logLine({{"client", who}, {"cause", std::string(cause)}}), kIoTimeout,
                             Stream::Stdout))
            return ::testing::AssertionFailure()
                   << "no access log line client=" << who << " cause=" << cause;
        return ::testing::AssertionSuccess();
    }

    static ::testing::AssertionResult served(const Attempt& a) {
        if (!a.client.connected()) return ::testing::AssertionFailure() << "could not connect";
        if (!a.served) return ::testing::AssertionFailure() << a.address << " was not served";
        return ::testing::AssertionSuccess();
    }

    TestBackend backend_{BackendMode::IdThenEcho, "b1"};
    PosternProcess* p_ = nullptr;
};

TEST_F(AccessControlTest, DenyListRefusesOnlyListedClients) {
    const auto port = start(R"(deny = ["127.0.0.3", "127.0.5.0/24"])");
    ASSERT_NE(port, 0);
    EXPECT_TRUE(served(attempt(port, "127.0.0.2")));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.3"), "refused_acl"));
    EXPECT_TRUE(refused(attempt(port, "127.0.5.77"), "refused_acl"));
    EXPECT_TRUE(served(attempt(port, "127.0.6.77")));
    // The backend counts an accept just after it sent its id line.
    EXPECT_TRUE(backend_.waitForAccepted(2, kIoTimeout));
    EXPECT_EQ(backend_.acceptedConnections(), 2u);
}

TEST_F(AccessControlTest, AllowListAdmitsOnlyListedClients) {
    const auto port = start(R"(allow = ["127.0.0.2/31"])");  // .2 and .3
    ASSERT_NE(port, 0);
    EXPECT_TRUE(served(attempt(port, "127.0.0.2")));
    EXPECT_TRUE(served(attempt(port, "127.0.0.3")));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.4"), "refused_acl"));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.1"), "refused_acl"));
}

TEST_F(AccessControlTest, DenyWinsOverAllow) {
    const auto port = start(R"(allow = ["127.0.0.0/8"]
deny = ["127.0.0.3"])");
    ASSERT_NE(port, 0);
    EXPECT_TRUE(served(attempt(port, "127.0.0.2")));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.3"), "refused_acl"));
}

TEST_F(AccessControlTest, AcceptProxyChecksTheCarriedAddress) {
    // The real peer (127.0.0.1) is in neither list: only the carried address can decide.
    const auto port = start(R"(accept_proxy = true
trusted_proxies = ["127.0.0.1"]
allow = ["127.0.0.8", "127.0.0.9"]
deny = ["127.0.0.9"])");
    ASSERT_NE(port, 0);
    EXPECT_TRUE(
        served(attempt(port, "127.0.0.1", "PROXY TCP4 127.0.0.8 127.0.0.1 40008 5432\r\n")));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.1", "PROXY TCP4 127.0.0.9 127.0.0.1 40009 5432\r\n"),
                        "refused_acl", "127.0.0.9:40009"));
    // PROXY UNKNOWN keeps the real peer, which is not allowed.
    EXPECT_TRUE(refused(attempt(port, "127.0.0.1", "PROXY UNKNOWN\r\n"), "refused_acl"));
}

TEST_F(AccessControlTest, AcceptProxyLimitsPerCarriedClient) {
    const auto port = start(R"(accept_proxy = true
trusted_proxies = ["127.0.0.1"]
max_connections_per_client = 1)");
    ASSERT_NE(port, 0);
    // One proxy, two clients behind it: each gets its own slot.
    auto a = attempt(port, "127.0.0.1", "PROXY TCP4 192.0.2.1 127.0.0.1 40001 5432\r\n");
    ASSERT_TRUE(served(a));
    EXPECT_TRUE(
        served(attempt(port, "127.0.0.1", "PROXY TCP4 192.0.2.2 127.0.0.1 40002 5432\r\n")));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.1", "PROXY TCP4 192.0.2.1 127.0.0.1 40003 5432\r\n"),
                        "refused_client_limit", "192.0.2.1:40003"));
}

TEST_F(AccessControlTest, MaxConnectionsPerClient) {
    const auto port = start("max_connections_per_client = 2");
    ASSERT_NE(port, 0);
    auto a1 = attempt(port, "127.0.0.2");
    auto a2 = attempt(port, "127.0.0.2");
    ASSERT_TRUE(served(a1));
    ASSERT_TRUE(served(a2));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.2"), "refused_client_limit"));
    // Another client has its own count.
    auto b1 = attempt(port, "127.0.0.3");
    auto b2 = attempt(port, "127.0.0.3");
    EXPECT_TRUE(served(b1));
    EXPECT_TRUE(served(b2));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.3"), "refused_client_limit"));
    // The slot comes back once a connection has ended (its access-log line is written after).
    a1.client.close();
    ASSERT_TRUE(p_->waitForLine(logLine({{"client", a1.address}, {"cause", "client_fin"}}),
                                kIoTimeout, Stream::Stdout));
    auto a3 = attempt(port, "127.0.0.2");
    EXPECT_TRUE(served(a3));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.2"), "refused_client_limit"));
    // The held connections still work.
    EXPECT_TRUE(echoRoundTrip(a2.client, "still here"));
    EXPECT_TRUE(echoRoundTrip(a3.client, "me too"));
}

TEST_F(AccessControlTest, RefusedByListenerMaxGivesTheClientSlotBack) {
    // Per-client allows 2 but the listener only 1: the second connection is refused by the
    // listener's cap after taking a per-client slot, which must come back.
    const auto port = start("max_connections = 1\nmax_connections_per_client = 2");
    ASSERT_NE(port, 0);
    auto a1 = attempt(port, "127.0.0.2");
    ASSERT_TRUE(served(a1));
    EXPECT_TRUE(refused(attempt(port, "127.0.0.2"), "refused_max_connections"));
    a1.client.close();
    ASSERT_TRUE(p_->waitForLine(logLine({{"client", a1.address}, {"cause", "client_fin"}}),
                                kIoTimeout, Stream::Stdout));
    auto a3 = attempt(port, "127.0.0.2");
    EXPECT_TRUE(served(a3));
    // Had the refused connection kept its slot, this client would hold 2 (that one and a3) and
    // the next would be refused_client_limit, checked first.
    EXPECT_TRUE(refused(attempt(port, "127.0.0.2"), "refused_max_connections"));
}

TEST_F(AccessControlTest, NewConnectionsPerClientRefusesTheExcessOfABurst) {
    // 5 per second with a burst of 5: of 5 + k connections opened back to back, exactly k are
    // refused, less one for each 200 ms token that may have come back while the loop ran.
    constexpr int kRate = 5;
    constexpr int kExtra = 15;
    const auto port = start("new_connections_per_client = " + std::to_string(kRate));
    ASSERT_NE(port, 0);
    const auto begin = steady_clock::now();
    std::vector<BlockingClient> clients;
    for (int i = 0; i < kRate + kExtra; ++i) {
        clients.push_back(BlockingClient::connect("127.0.0.1", port, kIoTimeout, "127.0.0.2"));
        ASSERT_TRUE(clients.back().connected()) << i;
    }
    // Every accept happened before its connection was answered or closed: the window ends here.
    int served_count = 0, refused_count = 0;
    for (auto& c : clients) {
        const RecvResult r = c.recvSome(kIoTimeout);
        if (r.status == IoStatus::Ok && !r.data.empty())
            ++served_count;
        else if (r.closed() && r.data.empty())
            ++refused_count;
    }
    const double elapsed_ms = msSince(begin);
    const int refills = static_cast<int>(elapsed_ms / (1000.0 / kRate));
    EXPECT_EQ(served_count + refused_count, kRate + kExtra);
    EXPECT_LE(refused_count, kExtra);
    EXPECT_GE(refused_count, kExtra - refills) << "elapsed " << elapsed_ms << " ms";
    EXPECT_LT(refills, kExtra) << "the burst took " << elapsed_ms
                               << " ms: too slow to tell a limit from none";
    if (refused_count > 0) {
        EXPECT_TRUE(p_->waitForLine(logLine({{"cause", "refused_client_rate"}}), kIoTimeout,
                                    Stream::Stdout, static_cast<std::size_t>(refused_count)));
    }
    EXPECT_EQ(p_->matchingLines(logLine({{"cause", "refused_client_rate"}}), Stream::Stdout).size(),
              static_cast<std::size_t>(refused_count));
    // Another client is not limited by the first one's burst.
    EXPECT_TRUE(served(attempt(port, "127.0.0.3")));
}

}  // namespace
}  // namespace postern::test
