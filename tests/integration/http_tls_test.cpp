// https listeners (SPEC §3): TLS terminated here (ALPN http/1.1), then the same HTTP session;
// curl against nginx with the test CA.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "certs/test_pki.h"
#include "http_support.h"
#include "integration_fixture.h"

namespace postern::test {
namespace {

class HttpTlsTest : public IntegrationTest {
protected:
    void SetUp() override {
        ca_ = TestCa::createRoot(certs_.path(), "https-root");
        LeafSpec spec;
        spec.common_name = "localhost";
        spec.dns = {"localhost"};
        spec.ips = {"127.0.0.1"};
        cert_ = ca_->issue("gateway", spec);
    }
    std::uint16_t startGateway(const std::string& target) {
        const std::string toml = gatewayToml(1) +
                                 httpListenerToml("web", "site", {}, cert_.cert, cert_.key) +
                                 poolToml("site", {target});
        postern_ = &runPostern(toml);
        EXPECT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
        return postern_->listeningPort("web", kStartTimeout);
    }

    TempDir certs_;
    std::unique_ptr<TestCa> ca_;
    IssuedCertificate cert_;
    PosternProcess* postern_ = nullptr;
};

TEST_F(HttpTlsTest, CurlOverHttpsToNginxWithKeepAlive) {
    NginxBackend nginx;
    const auto port = startGateway(nginx.address());
    const std::string base = "https://localhost:" + std::to_string(port);
    const auto r = runCurl({"--cacert", ca_->certificate().string(), "-w", "%{http_version}\\n",
                            base + "/a", base + "/b", base + "/c"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("conn="), 0u) << r.out;
    EXPECT_NE(r.out.find("\n1.1\n"), std::string::npos) << r.out;  // ALPN http/1.1
    ASSERT_TRUE(postern_->waitForLine(logLine({{"status", "200"}, {"path", "/c"}}), kIoTimeout,
                                      Stream::Stdout));
    EXPECT_EQ(nginx.accessLines().size(), 3u);
    // One client connection: one TLS handshake for the three requests (curl -v would tell;
    // the backend connection count tells the same about the pool).
    std::set<std::string> connections;
    for (const auto& l : nginx.accessLines()) connections.insert(l.substr(0, l.find(' ')));
    EXPECT_EQ(connections.size(), 1u);
}

TEST_F(HttpTlsTest, BackendSeesProtoHttps) {
    HttpBackend backend;
    const auto port = startGateway(backend.address());
    const auto r = runCurl({"--cacert", ca_->certificate().string(),
                            "https://localhost:" + std::to_string(port) + "/headers"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("X-Forwarded-Proto: https\r\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(";proto=https;"), std::string::npos) << r.out;
}

TEST_F(HttpTlsTest, TlsBackendConnectionsAreKeptAliveAndReused) {
    LeafSpec spec;
    spec.common_name = "backend";
    spec.ips = {"127.0.0.1"};
    const auto backend_cert = ca_->issue("backend", spec);
    HttpBackend backend("127.0.0.1", backend_cert.cert, backend_cert.key);
    const std::string toml =
        gatewayToml(1) + httpListenerToml("web", "site") +
        poolToml("site", {backend.address()}, {},
                 "protocol = \"tls\"\ntls_ca = \"" + ca_->certificate().string() + "\"");
    postern_ = &runPostern(toml);
    ASSERT_TRUE(postern_->waitReady(kStartTimeout)) << postern_->stderrText();
    const auto port = postern_->listeningPort("web", kStartTimeout);
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/conn";
    // Three clients one after the other: one TLS connection to the backend serves them all (its
    // TLS 1.3 session tickets, read while it is idle, do not end it).
    for (int i = 0; i < 3; ++i) {
        const auto r = runCurl({url});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out, "1\n") << "request " << i;
    }
    EXPECT_EQ(backend.connections(), 1u);
}

}  // namespace
}  // namespace postern::test
