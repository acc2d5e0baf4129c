// Routing by SNI through the real binary (SPEC §2 [[listener.route]] sni): a `tls` listener that
// terminates TLS and sends each server name to its own pool; a `tcp` listener that reads the
// ClientHello without terminating and relays it untouched to TLS backends (passthrough: each
// client gets the certificate of the backend its name chose); what happens to names no route
// matches, to clients without SNI and to bytes that are not TLS; and a reload that moves a name
// to another pool while an established connection stays where it is.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <csignal>
#include <regex>

#include "balancing_support.h"
#include "certs/test_pki.h"
#include "harness/temp_dir.h"
#include "integration_fixture.h"
#include "tls_peers/tls_client.h"
#include "tls_peers/tls_echo_server.h"

namespace postern::test {
namespace {

/** The first bytes an OpenSSL client sends to `sni` (its ClientHello), made on memory BIOs. */
std::string clientHelloFor(const char* sni) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    SSL_set_tlsext_host_name(ssl, sni);
    BIO* rbio = BIO_new(BIO_s_mem());
    BIO* wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_connect_state(ssl);
    SSL_do_handshake(ssl);
    char* data = nullptr;
    const long n = BIO_get_mem_data(wbio, &data);
    std::string out(data, n > 0 ? static_cast<std::size_t>(n) : 0);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return out;
}

class SniRoutingTest : public IntegrationTest {
protected:
    void SetUp() override {
        ignoreSigpipe();
        ca_ = TestCa::createRoot(certs_.path(), "sni-root");
    }

    IssuedCertificate issue(const std::string& name, std::vector<std::string> dns) {
        return ca_->issue(name, {name, std::move(dns), {}, KeyType::EcdsaP256, 90});
    }
    static std::string q(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

    static std::string route(std::string_view sni, std::string_view pool) {
        return "  [[listener.route]]\n  sni = \"" + std::string(sni) + "\"\n  pool = \"" +
               std::string(pool) + "\"\n";
    }
    /** A listener; `pool` empty = routes only. */
    static std::string listener(std::string_view name, std::string_view protocol,
                                std::string_view pool, const std::string& routes,
                                const IssuedCertificate* cert = nullptr) {
        std::string s = "[[listener]]\nname = \"" + std::string(name) +
                        "\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"" + std::string(protocol) +
                        "\"\n";
        if (!pool.empty()) s += "pool = \"" + std::string(pool) + "\"\n";
        if (cert)
            s += "[listener.tls]\ncertificates = [{ cert = " + q(cert->cert) +
                 ", key = " + q(cert->key) + " }]\n";
        return s + routes + "\n";
    }

    std::shared_ptr<SSL_CTX> verifyingContext() {
        TlsClientOptions o;
        o.ca = ca_->certificate();
        return makeTlsClientContext(o);
    }
    /** A TLS echo backend with `cert` that sends `id` first. */
    static TlsEchoOptions echo(const IssuedCertificate& cert, std::string id) {
        TlsEchoOptions o;
        o.cert = cert.cert;
        o.key = cert.key;
        o.id = std::move(id);
        return o;
    }

    std::uint16_t ready(PosternProcess& p, std::string_view name) {
        const auto port = p.listeningPort(name, kStartTimeout);
        if (port == 0 || !p.waitReady(kStartTimeout)) return 0;
        return port;
    }

    /** The first line the backend behind `sni` sends (its id), through a verified TLS client. */
    std::optional<std::string> idThrough(std::uint16_t port, std::string_view sni,
                                         std::string* error = nullptr,
                                         std::string_view verify_name = {}) {
        auto c =
            TlsClient::connect("127.0.0.1", port, verifyingContext(), sni, kIoTimeout, verify_name);
        if (!c.ok()) {
            if (error) *error = c.error();
            return std::nullopt;
        }
        std::string line;
        for (int i = 0; i < 256; ++i) {
            auto r = c.recvExactly(1, kIoTimeout);
            if (r.status != IoStatus::Ok) return std::nullopt;
            if (r.data[0] == '\n') return line;
            line += r.data;
        }
        return std::nullopt;
    }

    TempDir certs_{"postern-sni-certs"};
    std::unique_ptr<TestCa> ca_;
};

TEST_F(SniRoutingTest, TlsListenerSendsEachServerNameToItsPool) {
    const auto cert = issue("example.com", {"example.com", "*.example.com", "*.b.example.com"});
    TestBackend a(BackendMode::IdThenEcho, "pool-a");
    TestBackend b(BackendMode::IdThenEcho, "pool-b");
    TestBackend fallback(BackendMode::IdThenEcho, "fallback");
    auto& p =
        runPostern(gatewayToml() +
                   listener("front", "tls", "fallback",
                            route("a.example.com", "pa") + route("*.b.example.com", "pb"), &cert) +
                   poolToml("pa", addressesOf({&a})) + poolToml("pb", addressesOf({&b})) +
                   poolToml("fallback", addressesOf({&fallback})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);

    EXPECT_EQ(idThrough(port, "a.example.com"), std::optional<std::string>("pool-a"));
    EXPECT_EQ(idThrough(port, "A.Example.COM"), std::optional<std::string>("pool-a"));
    EXPECT_EQ(idThrough(port, "x.b.example.com"), std::optional<std::string>("pool-b"));
    // Two labels under a route's wildcard (the certificate's covers one: checked as x.b).
    EXPECT_EQ(idThrough(port, "x.y.b.example.com", nullptr, "x.b.example.com"),
              std::optional<std::string>("pool-b"));
    EXPECT_EQ(idThrough(port, "c.example.com"), std::optional<std::string>("fallback"));
    // No SNI: no name route matches, the listener's pool takes it.
    auto none =
        TlsClient::connect("127.0.0.1", port, verifyingContext(), "", kIoTimeout, "example.com");
    ASSERT_TRUE(none.ok()) << none.error();
    EXPECT_EQ(none.recvExactly(9, kIoTimeout).data, "fallback\n");
    none = TlsClient();
    // The access log names the pool each name went to.
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"},
                                       {"sni", "x.b.example.com"},
                                       {"pool", "pb"},
                                       {"backend", b.address()}}),
                              5s, Stream::Stdout));
    EXPECT_TRUE(p.waitForLine(
        logLine({{"listener", "front"}, {"sni", "c.example.com"}, {"pool", "fallback"}}), 5s,
        Stream::Stdout));
}

TEST_F(SniRoutingTest, TlsListenerWithoutPoolClosesUnmatchedNames) {
    const auto cert = issue("example.com", {"*.example.com"});
    TestBackend a(BackendMode::IdThenEcho, "pool-a");
    auto& p = runPostern(gatewayToml() +
                         listener("front", "tls", "", route("a.example.com", "pa"), &cert) +
                         poolToml("pa", addressesOf({&a})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);
    EXPECT_EQ(idThrough(port, "a.example.com"), std::optional<std::string>("pool-a"));
    const std::size_t accepted = a.acceptedConnections();
    EXPECT_EQ(idThrough(port, "other.example.com"), std::nullopt);
    EXPECT_TRUE(p.waitForLine(
        logLine({{"listener", "front"}, {"sni", "other.example.com"}, {"cause", "no_route"}}), 5s,
        Stream::Stdout));
    EXPECT_EQ(a.acceptedConnections(), accepted);  // no backend was dialed for it
}

TEST_F(SniRoutingTest, TcpListenerPassesTlsThroughToTheBackendTheNameChose) {
    // Each TLS backend has its own certificate: the client sees the certificate of the backend
    // its name chose, so Postern did not terminate, and the backend saw the client's own SNI.
    const auto cert_a = issue("a.example.com", {"a.example.com"});
    const auto cert_b = issue("b.example.com", {"b.example.com", "*.b.example.com"});
    TlsEchoServer a(echo(cert_a, "tls-a"));
    TlsEchoServer b(echo(cert_b, "tls-b"));
    auto& p = runPostern(
        gatewayToml() +
        listener("pass", "tcp", "", route("a.example.com", "pa") + route("*.b.example.com", "pb")) +
        poolToml("pa", {a.address()}) + poolToml("pb", {b.address()}));
    const auto port = ready(p, "pass");
    ASSERT_NE(port, 0);

    EXPECT_EQ(idThrough(port, "a.example.com"), std::optional<std::string>("tls-a"));
    EXPECT_TRUE(a.waitForHandshakes(1, kIoTimeout));
    EXPECT_EQ(a.lastSni(), "a.example.com");
    EXPECT_EQ(idThrough(port, "x.b.example.com"), std::optional<std::string>("tls-b"));
    EXPECT_TRUE(b.waitForHandshakes(1, kIoTimeout));
    EXPECT_EQ(b.lastSni(), "x.b.example.com");

    // openssl s_client, a peer users have: the backend's own certificate, verified by name.
    const std::string ca = ca_->certificate().string();
    const auto run = runOpenssl({"s_client", "-connect", "127.0.0.1:" + std::to_string(port),
                                 "-brief", "-servername", "x.b.example.com", "-CAfile", ca,
                                 "-verify_return_error", "-verify_hostname", "x.b.example.com"},
                                "", Millis(20000));
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("Peer certificate: CN = b.example.com"), std::string::npos)
        << run.output;

    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "pass"},
                                       {"sni", "x.b.example.com"},
                                       {"pool", "pb"},
                                       {"backend", b.address()}}),
                              5s, Stream::Stdout));
}

TEST_F(SniRoutingTest, TcpPassthroughWithoutAMatchUsesTheListenerPoolOrCloses) {
    const auto cert_a = issue("a.example.com", {"a.example.com"});
    const auto cert_d = issue("default.example.com", {"default.example.com"});
    TlsEchoServer a(echo(cert_a, "tls-a"));
    TlsEchoServer d(echo(cert_d, "tls-default"));
    auto& p = runPostern(gatewayToml() +
                         listener("with_pool", "tcp", "pd", route("a.example.com", "pa")) +
                         listener("routes_only", "tcp", "", route("a.example.com", "pa")) +
                         poolToml("pa", {a.address()}) + poolToml("pd", {d.address()}));
    const auto with_pool = ready(p, "with_pool");
    const auto routes_only = p.listeningPort("routes_only", kStartTimeout);
    ASSERT_NE(with_pool, 0);
    ASSERT_NE(routes_only, 0);

    // Another name, or none: the listener's pool (its backend's certificate, untouched).
    auto other = TlsClient::connect("127.0.0.1", with_pool, verifyingContext(), "zzz.example.com",
                                    kIoTimeout, "default.example.com");
    ASSERT_TRUE(other.ok()) << other.error();
    EXPECT_EQ(other.peerCommonName(), "default.example.com");
    other = TlsClient();
    EXPECT_TRUE(d.waitForHandshakes(1, kIoTimeout));
    EXPECT_EQ(d.lastSni(), "zzz.example.com");

    // Without a pool: closed before any backend is dialed, with the cause in the access log.
    const std::size_t accepted = a.accepted();
    std::string why;
    EXPECT_EQ(idThrough(routes_only, "zzz.example.com", &why), std::nullopt);
    EXPECT_TRUE(p.waitForLine(
        logLine({{"listener", "routes_only"}, {"sni", "zzz.example.com"}, {"cause", "no_route"}}),
        5s, Stream::Stdout));
    // Bytes that are not TLS: no name, so no name route; without a pool, closed.
    auto plain = BlockingClient::connect("127.0.0.1", routes_only, kIoTimeout);
    ASSERT_TRUE(plain.connected());
    ASSERT_EQ(plain.sendAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n", kIoTimeout), IoStatus::Ok);
    EXPECT_TRUE(plain.recvAll(kIoTimeout).closed());
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "routes_only"}, {"cause", "no_route"}}), 5s,
                              Stream::Stdout, 2));
    EXPECT_EQ(a.accepted(), accepted);
}

TEST_F(SniRoutingTest, PassthroughAfterAProxyHeaderRelaysTheHelloByteForByte) {
    // accept_proxy: the PROXY header is taken first, then the hello is peeked; the backend (an
    // echo behind the route) gets the hello exactly as sent, and echoes it back.
    TestBackend a(BackendMode::IdThenEcho, "pool-a");
    TestBackend b(BackendMode::IdThenEcho, "pool-b");
    auto& p = runPostern(gatewayToml() +
                         listener("pass", "tcp", "pa",
                                  "accept_proxy = true\ntrusted_proxies = [\"127.0.0.0/8\"]\n" +
                                      route("b.example.com", "pb")) +
                         poolToml("pa", addressesOf({&a})) + poolToml("pb", addressesOf({&b})));
    const auto port = ready(p, "pass");
    ASSERT_NE(port, 0);
    const std::string hello = clientHelloFor("b.example.com");
    ASSERT_GT(hello.size(), 100u);
    auto c = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(c.connected());
    // The header and the first half of the hello, then the rest: routed once it is complete.
    ASSERT_EQ(c.sendAll("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n" +
                            hello.substr(0, hello.size() / 2),
                        kIoTimeout),
              IoStatus::Ok);
    ASSERT_EQ(c.sendAll(hello.substr(hello.size() / 2), kIoTimeout), IoStatus::Ok);
    const auto got = c.recvExactly(7 + hello.size(), kIoTimeout);
    ASSERT_EQ(got.status, IoStatus::Ok) << toString(got.status);
    EXPECT_EQ(got.data.substr(0, 7), "pool-b\n");
    EXPECT_TRUE(got.data.substr(7) == hello) << "the hello did not arrive byte for byte";
    c.close();
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "pass"},
                                       {"client", "192.0.2.7:56324"},
                                       {"sni", "b.example.com"},
                                       {"pool", "pb"}}),
                              5s, Stream::Stdout));
}

TEST_F(SniRoutingTest, TcpPassthroughDoesNotWaitForeverForAHello) {
    // A client that connects and stays silent (or sends half a hello) is not held: the hello
    // must arrive within the listener's idle_timeout (at most 10 s); then it is closed without
    // any backend.
    TestBackend backend(BackendMode::IdThenEcho, "plain");
    auto& p = runPostern(
        gatewayToml() +
        listener("pass", "tcp", "p", "idle_timeout = \"1s\"\n" + route("a.example.com", "p")) +
        poolToml("p", addressesOf({&backend})));
    const auto port = ready(p, "pass");
    ASSERT_NE(port, 0);
    const std::size_t accepted = backend.acceptedConnections();
    auto silent = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    auto half = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(silent.connected() && half.connected());
    ASSERT_EQ(half.sendAll(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 9), kIoTimeout),
              IoStatus::Ok);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(silent.recvAll(kIoTimeout).closed());
    EXPECT_TRUE(half.recvAll(kIoTimeout).closed());
    EXPECT_GE(msSince(start), 500.0);
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "pass"}, {"cause", "idle_timeout"}}), 5s,
                              Stream::Stdout, 2));
    EXPECT_EQ(backend.acceptedConnections(), accepted);
}

TEST_F(SniRoutingTest, ReloadMovesANameToAnotherPoolForNewConnectionsOnly) {
    const auto cert = issue("example.com", {"*.example.com"});
    TestBackend a(BackendMode::IdThenEcho, "pool-a");
    TestBackend b(BackendMode::IdThenEcho, "pool-b");
    auto config = [&](std::string_view pool) {
        return gatewayToml() + listener("front", "tls", "", route("a.example.com", pool), &cert) +
               poolToml("pa", addressesOf({&a})) + poolToml("pb", addressesOf({&b}));
    };
    auto& p = runPostern(config("pa"));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);
    auto before =
        TlsClient::connect("127.0.0.1", port, verifyingContext(), "a.example.com", kIoTimeout);
    ASSERT_TRUE(before.ok()) << before.error();
    EXPECT_EQ(before.recvExactly(7, kIoTimeout).data, "pool-a\n");

    p.writeConfig(config("pb"));
    ASSERT_TRUE(p.sendSignal(SIGHUP));
    ASSERT_TRUE(p.waitForLine(logLine({{"msg", "reload applied"}, {"routes_changed", "front"}}),
                              kStartTimeout));
    EXPECT_EQ(idThrough(port, "a.example.com"), std::optional<std::string>("pool-b"));
    // The connection made before the reload still talks to pool-a's backend.
    const auto echoed = before.exchange("still here", 10, kIoTimeout);
    EXPECT_EQ(echoed.status, IoStatus::Ok);
    EXPECT_EQ(echoed.data, "still here");
}

TEST_F(SniRoutingTest, APoolOnlyARouteNamedDrainsWithItsOwnTimeoutWhenRemoved) {
    // pb is named by a route only. A reload removes the route and the pool: the connection it
    // carries is cut at pb's own drain_timeout (1 s), not the listener pool's (unlimited), and
    // the name now goes to the listener's pool.
    const auto cert = issue("example.com", {"*.example.com"});
    TestBackend a(BackendMode::IdThenEcho, "pool-a");
    TestBackend b(BackendMode::IdThenEcho, "pool-b");
    const std::string pa = poolToml("pa", addressesOf({&a}), "drain_timeout = \"unlimited\"");
    auto& p = runPostern(gatewayToml() +
                         listener("front", "tls", "pa", route("b.example.com", "pb"), &cert) + pa +
                         poolToml("pb", addressesOf({&b}), "drain_timeout = \"1s\""));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);
    auto on_b =
        TlsClient::connect("127.0.0.1", port, verifyingContext(), "b.example.com", kIoTimeout);
    ASSERT_TRUE(on_b.ok()) << on_b.error();
    EXPECT_EQ(on_b.recvExactly(7, kIoTimeout).data, "pool-b\n");

    p.writeConfig(gatewayToml() + listener("front", "tls", "pa", "", &cert) + pa);
    ASSERT_TRUE(p.sendSignal(SIGHUP));
    ASSERT_TRUE(p.waitForLine(
        logLine({{"msg", "reload applied"}, {"pools_removed", "pb"}, {"routes_changed", "front"}}),
        kStartTimeout));
    const auto reloaded = std::chrono::steady_clock::now();
    EXPECT_EQ(idThrough(port, "b.example.com"), std::optional<std::string>("pool-a"));
    EXPECT_TRUE(on_b.recvExactly(1, kIoTimeout).closed());
    const double waited = msSince(reloaded);
    EXPECT_GE(waited, 800.0);
    EXPECT_LT(waited, 5000.0);
    EXPECT_TRUE(
        p.waitForLine(logLine({{"listener", "front"}, {"pool", "pb"}, {"cause", "drained"}}), 5s,
                      Stream::Stdout));
}

TEST_F(SniRoutingTest, CurlReachesThePoolItsNameChoosesTerminatedAndPassedThrough) {
    // curl --resolve, as a user tries it: HTTPS to Python http.server backends, through a tls
    // listener (Postern terminates, plain HTTP behind) and through a tcp listener (passthrough:
    // the backends speak HTTPS with their own certificates).
    const std::filesystem::path curl = "/usr/bin/curl";
    if (!std::filesystem::exists(curl)) GTEST_SKIP() << "curl is not installed";
    const auto edge = issue("example.com", {"*.example.com"});
    const auto cert_a = issue("a.example.com", {"a.example.com"});
    const auto cert_b = issue("b.example.com", {"b.example.com"});
    PythonServer web_a(PythonServer::Kind::Http, "web-a", "200");
    PythonServer web_b(PythonServer::Kind::Http, "web-b", "200");
    PythonServer tls_a(PythonServer::Kind::Http, "tls-a", "200", "127.0.0.1", 0, cert_a.cert,
                       cert_a.key);
    PythonServer tls_b(PythonServer::Kind::Http, "tls-b", "200", "127.0.0.1", 0, cert_b.cert,
                       cert_b.key);
    auto& p = runPostern(
        gatewayToml() +
        listener("front", "tls", "", route("a.example.com", "wa") + route("b.example.com", "wb"),
                 &edge) +
        listener("pass", "tcp", "", route("a.example.com", "ta") + route("b.example.com", "tb")) +
        poolToml("wa", {web_a.address()}) + poolToml("wb", {web_b.address()}) +
        poolToml("ta", {tls_a.address()}) + poolToml("tb", {tls_b.address()}));
    const auto front = ready(p, "front");
    const auto pass = p.listeningPort("pass", kStartTimeout);
    ASSERT_NE(front, 0);
    ASSERT_NE(pass, 0);
    const std::string ca = ca_->certificate().string();
    auto get = [&](const std::string& name, std::uint16_t port) {
        const std::string authority = name + ":" + std::to_string(port);
        const auto r = runCommand(curl,
                                  {"-sS", "--max-time", "10", "--cacert", ca, "--resolve",
                                   authority + ":127.0.0.1", "https://" + authority + "/"},
                                  Millis(20000));
        EXPECT_EQ(r.exit_code, std::optional<int>(0)) << r.err;
        return r.out;
    };
    EXPECT_EQ(get("a.example.com", front), "web-a\n");
    EXPECT_EQ(get("b.example.com", front), "web-b\n");
    EXPECT_EQ(get("a.example.com", pass), "tls-a\n");
    EXPECT_EQ(get("b.example.com", pass), "tls-b\n");
}

}  // namespace
}  // namespace postern::test
