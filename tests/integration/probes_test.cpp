// The http and agent probe plugins against real servers: Python's http.server, nginx (when
// installed) and a small line agent.
#include <map>
#include <set>
#include <thread>

#include "balancing_support.h"
#include "certs/test_pki.h"
#include "harness/temp_dir.h"

namespace postern::test {
namespace {

class ProbesTest : public IntegrationTest {
protected:
    static std::regex backendLine(std::string_view msg, const std::string& backend) {
        return lineWith({{"msg", std::string(msg)}, {"pool", "pool"}, {"backend", backend}});
    }
    static bool waitBackendLine(PosternProcess& p, std::string_view msg, const std::string& backend,
                                Millis timeout, std::size_t occurrence = 1) {
        return p.waitForLine(backendLine(msg, backend), timeout, Stream::Stderr, occurrence)
            .has_value();
    }
};

constexpr auto kTimings =
    "interval = \"200ms\"\ntimeout = \"1s\"\nhealthy_threshold = 2\nunhealthy_threshold = 2\n";

TEST_F(ProbesTest, HttpProbeFollowsTheStatusOfAPythonHttpServer) {
    PythonServer web(PythonServer::Kind::Http, "web", "200");
    PoolSpec pool;
    pool.targets = {"\"" + web.address() + "\""};
    pool.probe = std::string(
                     "plugin = \"http\"\npath = \"/healthz?deep=1\"\nhost = \"health.internal\"\n"
                     "expect_status = \"200-299,418\"\n") +
                 kTimings;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(waitBackendLine(p, "backend up", web.address(), kStartTimeout));
    EXPECT_EQ(httpGetBody(port), std::optional<std::string>("web"));

    // What the probe sent: a GET of the configured path with the configured Host, closing.
    const std::string requests = web.requests();
    EXPECT_NE(requests.find("GET /healthz?deep=1 HTTP/1.1"), std::string::npos) << requests;
    EXPECT_NE(requests.find("Host: health.internal"), std::string::npos) << requests;
    EXPECT_NE(requests.find("Connection: close"), std::string::npos) << requests;

    web.setState("503");
    const auto down = p.waitForLine(backendLine("backend down", web.address()), 5s);
    ASSERT_TRUE(down);
    EXPECT_NE(down->find("status 503 (expected 200-299,418)"), std::string::npos) << *down;
    EXPECT_FALSE(httpGetBody(port).has_value());  // every backend down: closed at once

    web.setState("418");  // in the expected list
    ASSERT_TRUE(waitBackendLine(p, "backend up", web.address(), 5s, 2));
    web.setState("302");  // outside 200-299,418
    ASSERT_TRUE(waitBackendLine(p, "backend down", web.address(), 5s, 2));
}

TEST_F(ProbesTest, HttpProbeAgainstAServerThatIsNotHttpFailsWithAReason) {
    TestBackend not_http(BackendMode::IdThenEcho, "SSH-2.0-OpenSSH_9.2");
    PoolSpec pool;
    pool.targets = quoted({&not_http});
    pool.probe = std::string("plugin = \"http\"\n") + kTimings;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    ASSERT_NE(p.listeningPort("front", kStartTimeout), 0);
    const auto down = p.waitForLine(backendLine("backend down", not_http.address()), kStartTimeout);
    ASSERT_TRUE(down);
    EXPECT_NE(down->find("malformed status line"), std::string::npos) << *down;
}

TEST_F(ProbesTest, HttpProbeReadsXUtilizationFromNginx) {
    const std::filesystem::path nginx = "/usr/sbin/nginx";
    if (!std::filesystem::exists(nginx)) GTEST_SKIP() << "nginx is not installed";
    const std::uint16_t hot_port = deadPort();
    std::uint16_t cool_port = deadPort();
    for (int i = 0; i < 10 && cool_port == hot_port; ++i) cool_port = deadPort();
    ASSERT_NE(hot_port, 0);
    ASSERT_NE(cool_port, 0);
    ASSERT_NE(hot_port, cool_port);
    PosternProcess server(nginx);
    const std::string conf =
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid nginx.pid;\nerror_log stderr "
        "warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n  access_log off;\n"
        "  client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path "
        "tmp; scgi_temp_path tmp;\n"
        "  server { listen 127.0.0.1:" +
        std::to_string(hot_port) +
        "; location / { add_header X-Utilization \"95%\" always; return 200 \"hot\\n\"; } }\n"
        "  server { listen 127.0.0.1:" +
        std::to_string(cool_port) +
        "; location / { add_header X-Utilization \"0.2\" always; return 200 \"cool\\n\"; } }\n}\n";
    server.writeConfig(conf, "nginx.conf");
    std::filesystem::create_directories(server.dir().path() / "tmp");
    server.start({"-p", server.dir().path().string() + "/", "-c", "nginx.conf"});
    // nginx says nothing when it starts: wait until it answers.
    bool listening = false;
    for (int i = 0; i < 100 && !listening; ++i) {
        auto c = BlockingClient::connect("127.0.0.1", cool_port, 1s);
        listening = c.connected();
        if (!listening) std::this_thread::sleep_for(50ms);
    }
    ASSERT_TRUE(listening) << server.stderrText();

    const std::string hot = "127.0.0.1:" + std::to_string(hot_port),
                      cool = "127.0.0.1:" + std::to_string(cool_port);
    PoolSpec pool;
    pool.targets = {"\"" + hot + "\"", "\"" + cool + "\""};
    pool.extra = "balancing_mode = \"utilization\"\nmax_utilization = 0.9\n";
    pool.probe = std::string("plugin = \"http\"\n") + kTimings;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(waitBackendLine(p, "backend over max_utilization", hot, kStartTimeout));
    ASSERT_TRUE(waitBackendLine(p, "backend up", cool, kStartTimeout));
    std::map<std::string, int> seen;
    for (int i = 0; i < 8; ++i) ++seen[httpGetBody(port).value_or("<refused>")];
    EXPECT_EQ(seen["cool"], 8);
    server.kill();
}

TEST_F(ProbesTest, HttpsProbeChecksTheCertificateThenTheStatus) {
    TempDir certs;
    auto ca = TestCa::createRoot(certs.path(), "probe-root");
    auto other_ca = TestCa::createRoot(certs.path(), "other-root");
    const auto good_cert =
        ca->issue("svc", {"svc.internal", {"svc.internal"}, {}, KeyType::EcdsaP256, 90});
    const auto bad_cert =
        other_ca->issue("impostor", {"svc.internal", {"svc.internal"}, {}, KeyType::EcdsaP256, 90});
    PythonServer good(PythonServer::Kind::Http, "good", "200 0.5", "127.0.0.1", 0, good_cert.cert,
                      good_cert.key);
    PythonServer bad(PythonServer::Kind::Http, "bad", "200", "127.0.0.1", 0, bad_cert.cert,
                     bad_cert.key);
    PoolSpec pool;
    pool.targets = {"\"" + good.address() + "\"", "\"" + bad.address() + "\""};
    pool.backend = "tls_ca = \"" + ca->certificate().string() + "\"\n";
    pool.probe =
        std::string("plugin = \"https\"\nsni = \"svc.internal\"\npath = \"/ready\"\n") + kTimings;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    ASSERT_NE(p.listeningPort("front", kStartTimeout), 0);
    ASSERT_TRUE(waitBackendLine(p, "backend up", good.address(), kStartTimeout));
    const auto down = p.waitForLine(backendLine("backend down", bad.address()), kStartTimeout);
    ASSERT_TRUE(down) << "the backend whose certificate the CA did not sign stays down";
    EXPECT_NE(down->find("certificate verify failed"), std::string::npos) << *down;
    EXPECT_NE(good.requests().find("GET /ready HTTP/1.1"), std::string::npos) << good.requests();
    EXPECT_TRUE(bad.requests().empty())
        << "no HTTP request goes out before the certificate is checked";

    // Over TLS, the status still decides.
    good.setState("500");
    ASSERT_TRUE(p.waitForLine(backendLine("backend down", good.address()), 5s));
}

TEST_F(ProbesTest, AgentUpDrainDownAndBack) {
    // Two traffic backends on two loopback addresses; their agents listen on the same port of each
    // address ([pool.probe] port is one number for the pool).
    TestBackend a(BackendMode::IdThenEcho, "a", "127.0.0.1"),
        b(BackendMode::IdThenEcho, "b", "127.0.0.2");
    auto agents = agentsOnOnePort("up", "127.0.0.1", "up 35%", "127.0.0.2");
    PythonServer& agent_a = *agents.a;
    PoolSpec pool;
    pool.balancer = "least_connections";
    pool.targets = quoted({&a, &b});
    pool.probe = "plugin = \"agent\"\nport = " + std::to_string(agent_a.port()) + "\n" + kTimings;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(waitBackendLine(p, "backend up", a.address(), kStartTimeout));
    ASSERT_TRUE(waitBackendLine(p, "backend up", b.address(), kStartTimeout));

    // A long-lived connection to a, then a's agent says "drain".
    std::vector<BlockingClient> on_a;
    std::optional<std::string> id;
    for (int i = 0; i < 4 && id != std::optional<std::string>("a"); ++i)
        id = readId(port, {}, &on_a);
    ASSERT_EQ(id, std::optional<std::string>("a"));
    agent_a.setState("drain");
    ASSERT_TRUE(waitBackendLine(p, "backend draining", a.address(), 5s));
    std::map<std::string, int> seen;
    for (int i = 0; i < 6; ++i) ++seen[readId(port).value_or("<refused>")];
    EXPECT_EQ(seen["b"], 6) << "a got " << seen["a"];
    EXPECT_TRUE(echoRoundTrip(on_a.back(), "a draining backend keeps its connections\n"));
    EXPECT_TRUE(p.matchingLines(backendLine("backend down", a.address()), Stream::Stderr).empty());

    // "up" again: a gets new connections. With everything closed, least_connections sends two
    // held connections one to each backend.
    const std::size_t closed_before = accessLines(p, "cause", "client_fin");
    const std::size_t held_count = on_a.size();
    on_a.clear();
    ASSERT_TRUE(waitAccessLines(p, "cause", "client_fin", closed_before + held_count));
    agent_a.setState("up");
    ASSERT_TRUE(waitBackendLine(p, "backend ready", a.address(), 5s));
    std::vector<BlockingClient> two;
    std::set<std::string> both;
    for (int i = 0; i < 2; ++i)
        if (auto got = readId(port, {}, &two)) both.insert(*got);
    EXPECT_EQ(both, (std::set<std::string>{"a", "b"}));
    two.clear();

    // "down" with a description: down after the thresholds, with the reason logged.
    agent_a.setState("down#maintenance window");
    const auto down = p.waitForLine(backendLine("backend down", a.address()), 5s);
    ASSERT_TRUE(down);
    EXPECT_NE(down->find("agent says down: maintenance window"), std::string::npos) << *down;
    seen.clear();
    for (int i = 0; i < 4; ++i) ++seen[readId(port).value_or("<refused>")];
    EXPECT_EQ(seen["b"], 4);
    agent_a.setState("up");
    ASSERT_TRUE(waitBackendLine(p, "backend up", a.address(), 5s, 2));
}

TEST_F(ProbesTest, AgentPercentageDrivesUtilizationMode) {
    TestBackend a(BackendMode::IdThenEcho, "a", "127.0.0.1"),
        b(BackendMode::IdThenEcho, "b", "127.0.0.3");
    auto agents = agentsOnOnePort("96%", "127.0.0.1", "40%", "127.0.0.3");
    PythonServer& agent_a = *agents.a;
    PoolSpec pool;
    pool.targets = quoted({&a, &b});
    pool.extra = "balancing_mode = \"utilization\"\nmax_utilization = 0.9\n";
    pool.probe = "plugin = \"agent\"\nport = " + std::to_string(agent_a.port()) + "\n" + kTimings;
    auto& p = runPostern(gatewayToml() + listenerToml("front", "pool") + poolToml(pool));
    const auto port = p.listeningPort("front", kStartTimeout);
    ASSERT_NE(port, 0);
    ASSERT_TRUE(waitBackendLine(p, "backend over max_utilization", a.address(), kStartTimeout));
    ASSERT_TRUE(waitBackendLine(p, "backend up", b.address(), kStartTimeout));
    std::map<std::string, int> seen;
    for (int i = 0; i < 6; ++i) ++seen[readId(port).value_or("<refused>")];
    EXPECT_EQ(seen["b"], 6);
}

}  // namespace
}  // namespace postern::test
