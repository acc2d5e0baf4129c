// TLS through the real binary, against real OpenSSL peers and a private CA made at test time:
// listeners that terminate TLS (SNI, version floor, mutual TLS, ALPN, tickets, half-close,
// handshake timeout), backends reached over TLS (verification, SNI, client certificates, a
// failed handshake as a connect failure), TLS probes, start-up warnings, and 1,000 concurrent TLS
// connections through one worker.
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <thread>

#include "certs/test_pki.h"
#include "harness/payload.h"
#include "harness/temp_dir.h"
#include "integration_fixture.h"
#include "tls_peers/tls_client.h"
#include "tls_peers/tls_echo_server.h"

namespace postern::test {
namespace {

class TlsTest : public IntegrationTest {
protected:
    void SetUp() override {
        ignoreSigpipe();
        ca_ = TestCa::createRoot(certs_.path(), "test-root");
    }

    IssuedCertificate issue(const std::string& name, std::vector<std::string> dns, KeyType key = KeyType::EcdsaP256,
                            std::vector<std::string> ips = {}, int days = 90) {
        return ca_->issue(name, {dns.empty() ? name : dns.front(), std::move(dns), std::move(ips), key, days});
    }

    static std::string q(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

    static std::string certEntry(const IssuedCertificate& c) {
        return "{ cert = " + q(c.cert) + ", key = " + q(c.key) + " }";
    }

    /** A protocol = "tls" listener; `tls_body` goes into [listener.tls] after `certificates`. */
    static std::string tlsListener(std::string_view name, std::string_view pool,
                                   const std::vector<IssuedCertificate>& certs, std::string_view tls_body = {}) {
        std::string s = "[[listener]]\nname = \"" + std::string(name) + "\"\nbind = [\"127.0.0.1:0\"]\n";
        s += "protocol = \"tls\"\npool = \"" + std::string(pool) + "\"\n[listener.tls]\ncertificates = [";
        for (std::size_t i = 0; i < certs.size(); ++i) s += (i ? ", " : "") + certEntry(certs[i]);
        s += "]\n";
        s += tls_body;
        s += "\n\n";
        return s;
    }

    std::shared_ptr<SSL_CTX> clientContext(TlsClientOptions o = {}) {
        if (o.ca.empty()) o.ca = ca_->certificate();
        return makeTlsClientContext(o);
    }

    /** `openssl s_client -brief` against 127.0.0.1:port with `extra` arguments, no input. */
    static OpensslRun sClient(std::uint16_t port, std::vector<std::string> extra) {
        std::vector<std::string> args{"s_client", "-connect", "127.0.0.1:" + std::to_string(port), "-brief"};
        args.insert(args.end(), extra.begin(), extra.end());
        return runOpenssl(args, "", Millis(20000));
    }

    static std::uint16_t ready(PosternProcess& p, std::string_view listener) {
        const auto port = p.listeningPort(listener, kStartTimeout);
        if (port != 0 && !p.waitReady(kStartTimeout)) return 0;
        return port;
    }

    TempDir certs_{"postern-tls-certs"};
    std::unique_ptr<TestCa> ca_;
};

std::optional<std::string> readTlsLine(TlsClient& c, Millis timeout) {
    std::string line;
    for (int i = 0; i < 4096; ++i) {
        auto r = c.recvExactly(1, timeout);
        if (r.status != IoStatus::Ok) return std::nullopt;
        if (r.data[0] == '\n') return line;
        line += r.data;
    }
    return std::nullopt;
}

TEST_F(TlsTest, SniPicksTheCertificateVerifiedAgainstTheCaAndDataReachesAPlainBackend) {
    const auto rsa = issue("a.example.com", {"a.example.com"}, KeyType::Rsa2048);
    const auto ecdsa = issue("b.example.com", {"b.example.com", "*.b.example.com"});
    TestBackend backend(BackendMode::IdThenEcho, "plain-backend");
    auto& p = runPostern(gatewayToml() + tlsListener("front", "plain", {rsa, ecdsa}) +
                         poolToml("plain", addressesOf({&backend})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);

    const std::string ca = ca_->certificate().string();
    for (const auto& [name, cn, sig] : {std::tuple{"a.example.com", "a.example.com", "RSA"},
                                        std::tuple{"b.example.com", "b.example.com", "ECDSA"},
                                        std::tuple{"x.b.example.com", "b.example.com", "ECDSA"}}) {
        SCOPED_TRACE(name);
        const auto run = sClient(port, {"-servername", name, "-CAfile", ca, "-verify_return_error",
                                        "-verify_hostname", name});
        EXPECT_EQ(run.exit_code, 0) << run.output;
        EXPECT_NE(run.output.find(std::string("Peer certificate: CN = ") + cn), std::string::npos) << run.output;
        EXPECT_NE(run.output.find("Verification: OK"), std::string::npos) << run.output;
        EXPECT_NE(run.output.find(std::string("Signature type: ") + sig), std::string::npos) << run.output;
    }
    // No SNI: the first certificate.
    const auto none = sClient(port, {"-noservername", "-CAfile", ca, "-verify_return_error"});
    EXPECT_EQ(none.exit_code, 0) << none.output;
    EXPECT_NE(none.output.find("Peer certificate: CN = a.example.com"), std::string::npos) << none.output;

    // Application data reaches the plain backend and comes back.
    auto ctx = clientContext();
    auto c = TlsClient::connect("127.0.0.1", port, ctx, "b.example.com", kIoTimeout);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(readTlsLine(c, kIoTimeout), std::optional<std::string>("plain-backend"));
    const std::string payload = randomBytes(200 * 1024, 11);
    const auto echoed = c.exchange(payload, payload.size(), kIoTimeout);
    EXPECT_EQ(echoed.status, IoStatus::Ok) << toString(echoed.status);
    EXPECT_TRUE(echoed.data == payload);
    c = TlsClient();
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"},
                                       {"sni", "b.example.com"},
                                       {"tls_version", "TLSv1.3"},
                                       {"bytes_in", std::to_string(payload.size())},
                                       {"backend", backend.address()}}),
                              5s, Stream::Stdout))
        << "expected an access log line with the SNI, the TLS version and the bytes";
}

TEST_F(TlsTest, MinVersion13RefusesATls12Client) {
    const auto cert = issue("v13.example.com", {"v13.example.com"});
    TestBackend backend(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() + tlsListener("front", "echo", {cert}, "min_version = \"1.3\"") +
                         poolToml("echo", addressesOf({&backend})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);
    const std::string ca = ca_->certificate().string();

    const auto old = sClient(port, {"-servername", "v13.example.com", "-CAfile", ca, "-tls1_2"});
    EXPECT_NE(old.exit_code, 0) << old.output;
    const auto modern = sClient(port, {"-servername", "v13.example.com", "-CAfile", ca, "-tls1_3",
                                       "-verify_return_error"});
    EXPECT_EQ(modern.exit_code, 0) << modern.output;
    EXPECT_NE(modern.output.find("Protocol version: TLSv1.3"), std::string::npos) << modern.output;

    const auto failed = p.waitForLine(logLine({{"listener", "front"}, {"cause", "tls_failed"}}), 5s, Stream::Stdout);
    ASSERT_TRUE(failed) << "the refused handshake is logged with cause=tls_failed";
    EXPECT_NE(failed->find("tls_error="), std::string::npos) << *failed;
    EXPECT_NE(failed->find("backend=-"), std::string::npos) << "no backend connection for a failed handshake";
    EXPECT_EQ(backend.acceptedConnections(), 1u) << "only the TLS 1.3 client reached the backend";
}

TEST_F(TlsTest, MutualTlsRefusesClientsWithoutACertificateFromTheClientCa) {
    const auto server = issue("mtls.example.com", {"mtls.example.com"});
    const auto client_cert = ca_->issue("client", {"client-one", {}, {}, KeyType::EcdsaP256, 90, false});
    auto other_ca = TestCa::createRoot(certs_.path(), "other-root");
    const auto foreign_client = other_ca->issue("foreign", {"client-two", {}, {}, KeyType::EcdsaP256, 90, false});
    TestBackend backend(BackendMode::IdThenEcho, "behind-mtls");
    auto& p = runPostern(gatewayToml() +
                         tlsListener("front", "echo", {server}, "client_ca = " + q(ca_->certificate())) +
                         poolToml("echo", addressesOf({&backend})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);

    for (const auto* who : {static_cast<const IssuedCertificate*>(nullptr), &foreign_client}) {
        SCOPED_TRACE(who ? "certificate from another CA" : "no certificate");
        TlsClientOptions o;
        if (who) {
            o.cert = who->cert;
            o.key = who->key;
        }
        auto c = TlsClient::connect("127.0.0.1", port, clientContext(o), "mtls.example.com", kIoTimeout);
        // TLS 1.3 lets the client finish first; the server's alert then ends the connection.
        if (c.ok()) {
            const auto r = c.recvExactly(1, kIoTimeout);
            EXPECT_NE(r.status, IoStatus::Ok) << "got data: " << r.data;
        }
    }
    EXPECT_EQ(backend.acceptedConnections(), 0u) << "a refused client never reaches the backend";
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"cause", "tls_failed"}}), 5s, Stream::Stdout, 2));

    TlsClientOptions o;
    o.cert = client_cert.cert;
    o.key = client_cert.key;
    auto c = TlsClient::connect("127.0.0.1", port, clientContext(o), "mtls.example.com", kIoTimeout);
    ASSERT_TRUE(c.ok()) << c.error();
    EXPECT_EQ(readTlsLine(c, kIoTimeout), std::optional<std::string>("behind-mtls"));
    const auto echoed = c.exchange("through mutual TLS", 18, kIoTimeout);
    EXPECT_EQ(echoed.data, "through mutual TLS");
}

TEST_F(TlsTest, BackendsOverTlsAreVerifiedAndAFailedHandshakeClosesTheClientWithNoData) {
    const auto good_cert = issue("db.internal", {"db.internal"});
    const auto ip_cert = issue("ip-backend", {}, KeyType::EcdsaP256, {"127.0.0.1"});
    auto other_ca = TestCa::createRoot(certs_.path(), "other-root");
    const auto bad_cert = other_ca->issue("impostor", {"db.internal", {"db.internal"}, {}, KeyType::EcdsaP256, 90});
    TlsEchoServer good({good_cert.cert, good_cert.key, {}, "good-tls"});
    TlsEchoServer by_ip({ip_cert.cert, ip_cert.key, {}, "ip-tls"});
    TlsEchoServer bad({bad_cert.cert, bad_cert.key, {}, "bad-tls"});
    const std::string tls_backend = "protocol = \"tls\"\ntls_ca = " + q(ca_->certificate()) + "\nretries = 1";
    auto& p = runPostern(gatewayToml() + listenerToml("good", "good") + listenerToml("ip", "ip") +
                         listenerToml("bad", "bad") + listenerToml("mixed", "mixed") +
                         poolToml("good", {good.address()}, {}, tls_backend + "\ntls_sni = \"db.internal\"") +
                         poolToml("ip", {by_ip.address()}, {}, tls_backend) +
                         poolToml("bad", {bad.address()}, {}, tls_backend + "\ntls_sni = \"db.internal\"") +
                         poolToml("mixed", {bad.address(), good.address()}, {},
                                  tls_backend + "\ntls_sni = \"db.internal\""));
    const auto good_port = ready(p, "good");
    const auto ip_port = p.listeningPort("ip", kStartTimeout);
    const auto bad_port = p.listeningPort("bad", kStartTimeout);
    const auto mixed_port = p.listeningPort("mixed", kStartTimeout);
    ASSERT_NE(good_port, 0);

    EXPECT_EQ(connectAndReadId("127.0.0.1", good_port, kIoTimeout), std::optional<std::string>("good-tls"));
    EXPECT_EQ(good.lastSni(), "db.internal");
    // No tls_sni and an IP target: no SNI, and the certificate's IP address is checked.
    EXPECT_EQ(connectAndReadId("127.0.0.1", ip_port, kIoTimeout), std::optional<std::string>("ip-tls"));
    EXPECT_EQ(by_ip.lastSni(), "");

    auto c = BlockingClient::connect("127.0.0.1", bad_port, kIoTimeout);
    ASSERT_TRUE(c.connected());
    const auto r = c.recvAll(kIoTimeout);
    EXPECT_TRUE(r.closed()) << toString(r.status);
    EXPECT_TRUE(r.data.empty()) << "no byte of the impostor may reach the client: " << r.data;
    EXPECT_EQ(bad.handshakes(), 0u);
    EXPECT_EQ(bad.accepted(), 1u) << "one backend in the pool: nothing else to retry on";
    const auto warned = p.waitForLine(logLine({{"msg", "backend TLS handshake failed"}, {"pool", "bad"}}), 5s);
    ASSERT_TRUE(warned) << "the failed backend handshake is logged";
    EXPECT_NE(warned->find("certificate verify failed"), std::string::npos) << *warned;
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "bad"}, {"cause", "connect_failed"}}), 5s, Stream::Stdout));

    // A failed handshake counts as a connect failure: the next backend is tried.
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(connectAndReadId("127.0.0.1", mixed_port, kIoTimeout), std::optional<std::string>("good-tls"));
    EXPECT_GE(bad.accepted(), 2u) << "round robin sent some of them to the impostor first";
    EXPECT_EQ(bad.handshakes(), 0u);
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "mixed"}, {"attempts", "2"}, {"backend", good.address()}}), 5s,
                              Stream::Stdout));

    // The other pools keep serving, and a long exchange is re-encrypted byte for byte.
    auto after = BlockingClient::connect("127.0.0.1", good_port, kIoTimeout);
    ASSERT_TRUE(after.connected());
    EXPECT_EQ(readLine(after, kIoTimeout), std::optional<std::string>("good-tls"));
    const std::string payload = randomBytes(4 * 1024 * 1024, 5);
    // The client's FIN reaches the TLS backend as close_notify + FIN; its echo still comes back,
    // then its own end of stream.
    const auto echoed = after.exchange(payload, payload.size(), 60s, /*shutdown_write_after=*/true);
    EXPECT_EQ(echoed.status, IoStatus::Ok) << toString(echoed.status);
    EXPECT_EQ(echoed.data.size(), payload.size());
    EXPECT_TRUE(echoed.data == payload);
    EXPECT_EQ(after.recvAll(kIoTimeout).status, IoStatus::Eof);
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "good"}, {"cause", "client_fin"},
                                       {"bytes_out", std::to_string(payload.size() + 9)}}),
                              5s, Stream::Stdout));
}

TEST_F(TlsTest, BackendMutualTlsPresentsTheClientCertificate) {
    const auto server = issue("secure.internal", {"secure.internal"});
    const auto client_cert = ca_->issue("postern-client", {"postern-client", {}, {}, KeyType::EcdsaP256, 90, false});
    TlsEchoServer backend({server.cert, server.key, ca_->certificate(), "mtls-backend"});
    auto& p = runPostern(gatewayToml() + listenerToml("front", "secure") +
                         poolToml("secure", {backend.address()}, {},
                                  "protocol = \"tls\"\ntls_ca = " + q(ca_->certificate()) +
                                      "\ntls_sni = \"secure.internal\"\ntls_client_cert = " + q(client_cert.cert) +
                                      "\ntls_client_key = " + q(client_cert.key)));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);
    EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), std::optional<std::string>("mtls-backend"))
        << "accepted " << backend.accepted() << " handshakes " << backend.handshakes() << " failed "
        << backend.failedHandshakes();
    EXPECT_EQ(backend.lastClientCommonName(), "postern-client");
}

TEST_F(TlsTest, TlsProbeMarksABackendWithABadCertificateDown) {
    const auto good_cert = issue("svc.internal", {"svc.internal"});
    auto other_ca = TestCa::createRoot(certs_.path(), "other-root");
    const auto bad_cert = other_ca->issue("impostor", {"svc.internal", {"svc.internal"}, {}, KeyType::EcdsaP256, 90});
    TlsEchoServer good({good_cert.cert, good_cert.key, {}, "good"});
    TlsEchoServer bad({bad_cert.cert, bad_cert.key, {}, "bad"});
    std::string pool = "[[pool]]\nname = \"svc\"\n[pool.backend]\nprotocol = \"tls\"\nretries = 0\ntls_ca = " +
                       q(ca_->certificate()) + "\ntls_sni = \"svc.internal\"\n[pool.discovery]\ntargets = [\"" +
                       good.address() + "\", \"" + bad.address() + "\"]\n[pool.probe]\nplugin = \"tls\"\n" +
                       "interval = \"200ms\"\ntimeout = \"1s\"\n";
    auto& p = runPostern(gatewayToml() + listenerToml("front", "svc") + pool);
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);
    const auto down = p.waitForLine(logLine({{"msg", "backend down"}, {"backend", bad.address()}}), 5s);
    ASSERT_TRUE(down) << "the backend with the impostor certificate is marked down";
    EXPECT_NE(down->find("certificate verify failed"), std::string::npos) << *down;
    ASSERT_TRUE(p.waitForLine(logLine({{"msg", "backend up"}, {"backend", good.address()}}), 5s));
    // The probe's side of the handshake is done (it logged "backend up") before the server's
    // thread has counted it: wait for the count.
    EXPECT_TRUE(good.waitForHandshakes(1, 5s)) << "handshakes " << good.handshakes();
    for (int i = 0; i < 6; ++i)
        EXPECT_EQ(connectAndReadId("127.0.0.1", port, kIoTimeout), std::optional<std::string>("good"));
    EXPECT_EQ(bad.handshakes(), 0u);
}

TEST_F(TlsTest, HalfCloseOverTlsStillDeliversTheFullReply) {
    const auto cert = issue("late.example.com", {"late.example.com"});
    TestBackend backend(BackendMode::ReplyAfterEof);
    auto& p = runPostern(gatewayToml() + tlsListener("front", "late", {cert}) +
                         poolToml("late", addressesOf({&backend})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);
    auto c = TlsClient::connect("127.0.0.1", port, clientContext(), "late.example.com", kIoTimeout);
    ASSERT_TRUE(c.ok()) << c.error();
    const std::string request = randomBytes(300 * 1024, 3);
    ASSERT_EQ(c.sendAll(request, kIoTimeout), IoStatus::Ok);
    ASSERT_EQ(c.closeWrite(kIoTimeout), IoStatus::Ok);  // close_notify + FIN
    const auto reply = c.recvAll(kIoTimeout);
    EXPECT_EQ(reply.status, IoStatus::Eof) << "the reply ends with a clean end of stream, got "
                                           << toString(reply.status);
    EXPECT_EQ(reply.data.size(), request.size());
    EXPECT_TRUE(reply.data == request);
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"cause", "client_fin"}}), 5s, Stream::Stdout));
}

TEST_F(TlsTest, AlpnSessionTicketsAndTheHandshakeTimeout) {
    const auto cert = issue("app.example.com", {"app.example.com"});
    TestBackend backend(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() +
                         tlsListener("front", "echo", {cert},
                                     "alpn = [\"h2\", \"http/1.1\"]\nhandshake_timeout = \"300ms\"") +
                         poolToml("echo", addressesOf({&backend})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);

    TlsClientOptions o;
    o.alpn = {"http/1.1", "h2"};
    auto ctx = clientContext(o);
    auto first = TlsClient::connect("127.0.0.1", port, ctx, "app.example.com", kIoTimeout);
    ASSERT_TRUE(first.ok()) << first.error();
    EXPECT_EQ(first.alpn(), "h2") << "the server's preference wins";
    EXPECT_EQ(first.exchange("ping", 4, kIoTimeout).data, "ping");
    SSL_SESSION* session = first.takeSession(5s);
    ASSERT_NE(session, nullptr) << "no session ticket arrived";
    auto second = TlsClient::connect("127.0.0.1", port, ctx, "app.example.com", kIoTimeout, {}, session);
    SSL_SESSION_free(session);
    ASSERT_TRUE(second.ok()) << second.error();
    EXPECT_TRUE(second.resumed()) << "the ticket resumes the session";
    EXPECT_EQ(second.exchange("pong", 4, kIoTimeout).data, "pong");
    first = TlsClient();
    second = TlsClient();
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"alpn", "h2"}}), 5s, Stream::Stdout, 2));

    // A client that never says hello is closed after handshake_timeout.
    const auto start = std::chrono::steady_clock::now();
    auto silent = BlockingClient::connect("127.0.0.1", port, kIoTimeout);
    ASSERT_TRUE(silent.connected());
    const auto r = silent.recvAll(kIoTimeout);
    EXPECT_TRUE(r.closed()) << toString(r.status);
    const double ms = msSince(start);
    EXPECT_GE(ms, 250.0);
    EXPECT_LT(ms, 3000.0);
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"cause", "tls_failed"},
                                       {"tls_error", "handshake timeout"}}),
                              5s, Stream::Stdout));
}

// Read-ahead: the recv that takes the client's Finished can take its first application records
// too, in the handshake step that also sent the server's flight (the first one, right after
// accept: not on a readable edge). The socket is then drained, so no edge will announce those
// records: the session must read them because OpenSSL holds them. Under CPU load this happens by
// chance; the preloaded slow_reads library makes it happen every time (full and resumed).
TEST_F(TlsTest, FirstRecordsReadWithTheClientFinishedAreRelayed) {
#ifndef POSTERN_SLOW_READS_LIB
    GTEST_SKIP() << "needs the LD_PRELOAD library slow_reads (Linux, no sanitizers)";
#else
    const auto cert = issue("app.example.com", {"app.example.com"});
    TestBackend backend(BackendMode::Echo);
    auto& p = newProcess();
    p.addEnv("LD_PRELOAD=" POSTERN_SLOW_READS_LIB);
    p.run(gatewayToml(1) + tlsListener("front", "echo", {cert}) + poolToml("echo", addressesOf({&backend})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);

    auto ctx = clientContext();
    auto first = TlsClient::connect("127.0.0.1", port, ctx, "app.example.com", kIoTimeout);
    ASSERT_TRUE(first.ok()) << first.error();
    EXPECT_EQ(first.exchange("ping", 4, 2s).data, "ping") << "full handshake";
    SSL_SESSION* session = first.takeSession(5s);
    ASSERT_NE(session, nullptr);
    auto second = TlsClient::connect("127.0.0.1", port, ctx, "app.example.com", kIoTimeout, {}, session);
    SSL_SESSION_free(session);
    ASSERT_TRUE(second.ok()) << second.error();
    EXPECT_TRUE(second.resumed());
    EXPECT_EQ(second.exchange("pong", 4, 2s).data, "pong") << "resumed handshake";
#endif
}

TEST_F(TlsTest, StartupWarnsAboutExpiringCertificatesAndUnverifiedBackends) {
    const auto soon = issue("soon.example.com", {"soon.example.com"}, KeyType::EcdsaP256, {}, 10);
    TestBackend backend(BackendMode::Echo);
    auto& p = runPostern(gatewayToml() + tlsListener("front", "echo", {soon}) +
                         poolToml("echo", addressesOf({&backend}), {}, "protocol = \"tls\"\ntls_verify = false"));
    ASSERT_NE(ready(p, "front"), 0);
    const auto expiring = p.waitForLine(logLine({{"msg", "tls certificate expires soon"}, {"listener", "front"}}), 1s);
    ASSERT_TRUE(expiring);
    EXPECT_TRUE(expiring->find("days_left=9") != std::string::npos ||
                expiring->find("days_left=10") != std::string::npos)
        << *expiring;
    const auto unverified = p.waitForLine(LinePattern::containing("backend TLS certificates are not verified"), 1s);
    ASSERT_TRUE(unverified);
    EXPECT_NE(unverified->find("level=warn"), std::string::npos) << *unverified;
    EXPECT_NE(unverified->find("pool=echo"), std::string::npos) << *unverified;
}

TEST_F(TlsTest, AThousandConcurrentTlsConnectionsThroughOneWorkerAreByteExact) {
    const auto cert = issue("many.example.com", {"many.example.com"});
    TestBackend backend(BackendMode::Echo);
    auto& p = runPostern(gatewayToml(1) + tlsListener("front", "echo", {cert}) +
                         poolToml("echo", addressesOf({&backend})));
    const auto port = ready(p, "front");
    ASSERT_NE(port, 0);

    constexpr int kThreads = 8;
    constexpr int kPerThread = 125;
    constexpr std::size_t kPayload = 16 * 1024;
    auto ctx = clientContext();
    std::atomic<int> connected{0}, failed{0}, exact{0};
    std::atomic<bool> go{false};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::vector<TlsClient> clients;
            clients.reserve(kPerThread);
            for (int i = 0; i < kPerThread; ++i) {
                clients.push_back(TlsClient::connect("127.0.0.1", port, ctx, "many.example.com", 60s));
                if (clients.back().ok()) ++connected;
                else ++failed;
            }
            // Every connection stays open until all of them are: 1,000 at once.
            for (int i = 0; i < 6000 && !go.load(); ++i) std::this_thread::sleep_for(10ms);
            for (int i = 0; i < kPerThread; ++i) {
                auto& c = clients[static_cast<std::size_t>(i)];
                if (!c.ok()) continue;
                const std::string payload = randomBytes(kPayload, static_cast<std::uint64_t>(t * 1000 + i));
                const auto r = c.exchange(payload, kPayload, 60s);
                if (r.status == IoStatus::Ok && r.data == payload) ++exact;
            }
        });
    }
    for (int i = 0; i < 9000 && connected.load() + failed.load() < kThreads * kPerThread; ++i)
        std::this_thread::sleep_for(10ms);
    const bool all_open = backend.waitForAccepted(kThreads * kPerThread, 30s);
    const auto open_now = backend.activeConnections();
    go = true;
    for (auto& th : threads) th.join();
    const double seconds = msSince(start) / 1000.0;
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(connected.load(), kThreads * kPerThread);
    EXPECT_TRUE(all_open);
    EXPECT_EQ(open_now, static_cast<std::size_t>(kThreads * kPerThread)) << "all connections open at once";
    EXPECT_EQ(exact.load(), kThreads * kPerThread) << "every echo byte-exact";
    EXPECT_LT(seconds, 120.0);
    std::cerr << "1000 TLS connections (handshake + 16 KiB echo each) in " << seconds << " s\n";
    EXPECT_TRUE(p.waitForLine(logLine({{"listener", "front"}, {"tls_version", "TLSv1.3"}}), 30s, Stream::Stdout,
                              kThreads * kPerThread))
        << "one access log line per connection";
}

}  // namespace
}  // namespace postern::test
