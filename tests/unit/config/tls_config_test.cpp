// The TLS part of the configuration: [listener.tls] and [pool.backend] tls_* build working
// contexts from real files, and every problem (unreadable file, key not matching its
// certificate, encrypted key, bad version, cipher or ALPN name, keys without effect) is reported
// at the position of the value it is about.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "certs/test_pki.h"
#include "config/loader.h"
#include "tls/client_tls_context.h"
#include "tls/server_tls_context.h"
#include "unit/config/load_helpers.h"
#include "unit/tls/unit_pki.h"

namespace postern::config {
namespace {

namespace fs = std::filesystem;
using test::errorLines;
using test::loadText;
using Lines = std::vector<std::string>;

std::string listener(const std::string& tls_table, const std::string& extra = {}) {
    return "[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"tls\"\npool = \"pg\"\n" + extra +
           "[listener.tls]\n" + tls_table;
}

std::string pool(const std::string& backend = {}, const std::string& probe = {}) {
    std::string s = "[[pool]]\nname = \"pg\"\n  [pool.backend]\n  port = 5432\n" + backend +
                    "  [pool.discovery]\n  targets = [\"10.0.0.4\"]\n";
    if (!probe.empty()) s += "  [pool.probe]\n" + probe;
    return s;
}

std::string q(const fs::path& p) { return "\"" + p.string() + "\""; }

class TlsConfig : public ::testing::Test {
protected:
    const postern::test::UnitPki& pki = postern::test::unitPki();
};

TEST_F(TlsConfig, AValidListenerAndTlsBackendsBuildTheirContexts) {
    LoadResult r = loadText(listener("certificates = [\n  { cert = " + q(pki.rsa.cert) + ", key = " + q(pki.rsa.key) +
                                     " },\n  { cert = " + q(pki.ecdsa.cert) + ", key = " + q(pki.ecdsa.key) +
                                     " },\n]\nmin_version = \"1.3\"\nalpn = [\"mqtt\"]\nclient_ca = " + q(pki.ca) +
                                     "\nhandshake_timeout = \"3s\"\n") +
                            pool("  protocol = \"tls\"\n  tls_ca = " + q(pki.ca) + "\n  tls_sni = \"db.internal\"\n" +
                                 "  tls_client_cert = " + q(pki.client.cert) + "\n  tls_client_key = " +
                                 q(pki.client.key) + "\n"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const auto& l = r.config->listeners[0];
    EXPECT_EQ(l.protocol, ListenerProtocol::Tls);
    ASSERT_TRUE(l.tls);
    EXPECT_EQ(l.tls->handshake_timeout, std::chrono::seconds(3));
    ASSERT_TRUE(l.tls->context);
    EXPECT_EQ(l.tls->settings.min_version, tls::TlsVersion::Tls13);
    ASSERT_EQ(l.tls->context->certificates().size(), 2u);
    EXPECT_EQ(l.tls->context->certificates()[0].key_type, "RSA 2048");
    EXPECT_EQ(l.tls->context->certificates()[1].key_type, "EC P-256");
    EXPECT_EQ(l.tls->context->certificates()[1].dns_names, (Lines{"b.example.com", "*.wild.example.com"}));
    const auto& b = r.config->pools[0].backend;
    EXPECT_EQ(b.protocol, BackendProtocol::Tls);
    ASSERT_TRUE(b.tls_context);
    EXPECT_EQ(b.tls.sni, "db.internal");
    ASSERT_TRUE(b.tls_context->clientCertificate());
    EXPECT_EQ(b.tls_context->clientCertificate()->common_name, "client-one");
}

TEST_F(TlsConfig, DefaultsAreTls12TenSecondsAndNoClientCertificates) {
    LoadResult r = loadText(listener("certificates = [{ cert = " + q(pki.ecdsa.cert) + ", key = " + q(pki.ecdsa.key) +
                                     " }]\n") +
                            pool());
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const auto& t = *r.config->listeners[0].tls;
    EXPECT_EQ(t.settings.min_version, tls::TlsVersion::Tls12);
    EXPECT_EQ(t.handshake_timeout, std::chrono::seconds(10));
    EXPECT_TRUE(t.settings.client_ca.empty());
    EXPECT_TRUE(t.settings.alpn.empty());
    EXPECT_FALSE(r.config->pools[0].backend.tls_context) << "a plain TCP pool builds no TLS context";
}

TEST_F(TlsConfig, RelativePathsAreRelativeToTheConfigFileAndShownAsWritten) {
    LoadResult r = loadText(listener("certificates = [{ cert = \"certs/front.pem\", key = \"certs/front.key\" }]\n") +
                            pool());
    EXPECT_EQ(errorLines(r),
              (Lines{"t.toml:7:26: 'cert': cannot read \"certs/front.pem\": No such file or directory",
                     "t.toml:7:51: 'key': cannot read \"certs/front.key\": No such file or directory"}));
}

TEST_F(TlsConfig, AKeyThatDoesNotMatchItsCertificateIsAnErrorAtTheKey) {
    const std::string entry = "{ cert = " + q(pki.rsa.cert) + ", key = " + q(pki.ecdsa.key) + " }";
    LoadResult r = loadText(listener("certificates = [" + entry + "]\n") + pool());
    const std::string column = std::to_string(17 + entry.find("key = ") + 6);
    EXPECT_EQ(errorLines(r), (Lines{"t.toml:7:" + column + ": 'key': private key " + q(pki.ecdsa.key) +
                                    " does not match certificate " + q(pki.rsa.cert)}));
}

TEST_F(TlsConfig, FilesWithoutWhatTheyShouldHoldAreErrors) {
    // A key where the certificate should be, a certificate where the key should be.
    LoadResult r = loadText(listener("certificates = [{ cert = " + q(pki.rsa.key) + ", key = " + q(pki.rsa.cert) +
                                     " }]\nclient_ca = " + q(pki.rsa.key) + "\n") +
                            pool());
    const auto lines = errorLines(r);
    ASSERT_EQ(lines.size(), 3u) << testing::PrintToString(lines);
    EXPECT_NE(lines[0].find("'cert': " + q(pki.rsa.key) + " contains no PEM certificate"), std::string::npos);
    EXPECT_NE(lines[1].find("'key': " + q(pki.rsa.cert) + " contains no PEM private key"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("t.toml:8:13: 'client_ca': " + q(pki.rsa.key) + " contains no PEM certificate"),
              std::string::npos);
}

TEST_F(TlsConfig, EncryptedKeysAreRefusedWithAReason) {
    const fs::path encrypted = pki.dir / "encrypted.key";
    if (!fs::exists(encrypted))
        postern::test::runOpensslOrThrow({"pkey", "-in", pki.ecdsa.key.string(), "-aes256", "-passout", "pass:secret", "-out",
                                 encrypted.string()});
    LoadResult r = loadText(listener("certificates = [{ cert = " + q(pki.ecdsa.cert) + ", key = " + q(encrypted) +
                                     " }]\n") +
                            pool());
    const auto lines = errorLines(r);
    ASSERT_EQ(lines.size(), 1u) << testing::PrintToString(lines);
    EXPECT_NE(lines[0].find("'key': " + q(encrypted) + " is encrypted (encrypted private keys are not supported)"),
              std::string::npos)
        << lines[0];
}

TEST_F(TlsConfig, VersionCipherAndAlpnErrors) {
    LoadResult r = loadText(listener("certificates = [{ cert = " + q(pki.ecdsa.cert) + ", key = " + q(pki.ecdsa.key) +
                                     " }]\nmin_version = \"1.0\"\nciphers = \"ECDHE+AESGCM:NOPE-CIPHER\"\n"
                                     "alpn = [\"h2\", \"\"]\nalpn_extra = 1\n") +
                            pool());
    EXPECT_EQ(errorLines(r), (Lines{
                                 "t.toml:8:15: 'min_version' must be \"1.2\" or \"1.3\", not \"1.0\"",
                                 "t.toml:9:11: 'ciphers': unknown or unavailable cipher \"NOPE-CIPHER\"",
                                 "t.toml:10:15: 'alpn': ALPN protocol names must be 1 to 255 bytes long",
                                 "t.toml:11:1: unknown key 'alpn_extra' in [listener.tls]",
                             }));
}

TEST_F(TlsConfig, ProtocolAndTableMustGoTogether) {
    LoadResult missing = loadText(
        "[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"tls\"\npool = \"pg\"\n" + pool());
    EXPECT_EQ(errorLines(missing),
              (Lines{"t.toml:4:12: protocol \"tls\" needs a [listener.tls] table with at least one certificate"}));
    LoadResult extra = loadText("[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n"
                                "[listener.tls]\ncertificates = []\n" +
                                pool());
    EXPECT_EQ(errorLines(extra), (Lines{"t.toml:5:1: [listener.tls] only applies to protocol = "
                                        "\"tls\" and \"https\" listeners"}));
    LoadResult empty = loadText(listener("certificates = []\n") + pool());
    EXPECT_EQ(errorLines(empty),
              (Lines{"t.toml:7:16: 'certificates' must list at least one { cert = \"...\", key = \"...\" }"}));
}

TEST_F(TlsConfig, HttpsListenersTerminateTlsWithAlpnHttp11) {
    LoadOptions options = test::testOptions();
    const std::string certs =
        "certificates = [{ cert = " + q(pki.ecdsa.cert) + ", key = " + q(pki.ecdsa.key) + " }]\n";
    auto https = [&](const std::string& tls_extra) {
        return "[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"https\"\n"
               "pool = \"pg\"\n[listener.tls]\n" +
               certs + tls_extra + pool();
    };
    LoadResult r = loadText(https(""), options);
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const auto& l = r.config->listeners[0];
    EXPECT_EQ(l.protocol, ListenerProtocol::Https);
    ASSERT_TRUE(l.tls && l.tls->context);
    EXPECT_EQ(l.tls->settings.alpn, (std::vector<std::string>{"http/1.1"}));  // the default

    LoadResult both = loadText(https("alpn = [\"http/1.1\", \"http/1.0\"]\n"), options);
    ASSERT_TRUE(both.config) << testing::PrintToString(errorLines(both));
    EXPECT_EQ(both.config->listeners[0].tls->settings.alpn,
              (std::vector<std::string>{"http/1.1", "http/1.0"}));

    EXPECT_EQ(errorLines(loadText(https("alpn = [\"h2\", \"http/1.1\"]\n"), options)),
              (Lines{"t.toml:8:9: 'alpn' of an https listener may offer only \"http/1.1\" and "
                     "\"http/1.0\", not \"h2\""}));
    LoadResult missing = loadText(
        "[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"https\"\npool = "
        "\"pg\"\n" +
            pool(),
        options);
    EXPECT_EQ(errorLines(missing), (Lines{"t.toml:4:12: protocol \"https\" needs a [listener.tls] "
                                          "table with at least one certificate"}));
    LoadResult plain_http = loadText(
        "[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"http\"\npool = "
        "\"pg\"\n[listener.tls]\n" +
            certs + pool(),
        options);
    EXPECT_EQ(errorLines(plain_http),
              (Lines{"t.toml:6:1: [listener.tls] only applies to protocol = \"tls\" and \"https\" "
                     "listeners"}));
}

TEST_F(TlsConfig, SniRoutesOnATlsListener) {
    LoadResult r = loadText(
        listener("certificates = [{ cert = " + q(pki.ecdsa.cert) + ", key = " + q(pki.ecdsa.key) +
                 " }]\n") +
        "  [[listener.route]]\n  sni = \"*.wild.example.com\"\n  pool = \"pg\"\n" + pool());
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    ASSERT_EQ(r.config->listeners[0].routes.size(), 1u);
    EXPECT_EQ(r.config->listeners[0].routes[0].sni, "*.wild.example.com");
    EXPECT_FALSE(r.config->listeners[0].peeksSni());  // terminated: the handshake gives the name
}

TEST_F(TlsConfig, BackendTlsKeysAreCheckedAndNeedTlsSomewhere) {
    LoadResult r = loadText(
        "[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n" +
        pool("  protocol = \"tls\"\n  tls_sni = \"not a name\"\n  tls_ca = \"missing-ca.pem\"\n"
             "  tls_client_key = " + q(pki.client.key) + "\n"));
    EXPECT_EQ(errorLines(r),
              (Lines{"t.toml:10:13: 'tls_sni' must be a host name (letters, digits, '-' and '_' in dot-separated "
                     "labels), not \"not a name\"",
                     "t.toml:11:12: 'tls_ca': cannot read \"missing-ca.pem\": No such file or directory",
                     "t.toml:12:20: 'tls_client_key' needs 'tls_client_cert' (the certificate it belongs to)"}));

    LoadResult unused = loadText("[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n" +
                                 pool("  tls_verify = false\n  tls_ca = " + q(pki.ca) + "\n"));
    EXPECT_EQ(errorLines(unused),
              (Lines{"t.toml:9:16: 'tls_verify' has no effect: [pool.backend] protocol is \"tcp\" and the probe "
                     "does not use TLS",
                     "t.toml:10:12: 'tls_ca' has no effect: [pool.backend] protocol is \"tcp\" and the probe does "
                     "not use TLS"}));
}

TEST_F(TlsConfig, ATlsProbeGivesAPlainPoolATlsContextForItsChecks) {
    LoadResult r = loadText("[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n" +
                            pool("  tls_ca = " + q(pki.ca) + "\n", "  plugin = \"tls\"\n  sni = \"b.example.com\"\n"));
    ASSERT_TRUE(r.config) << testing::PrintToString(errorLines(r));
    const auto& b = r.config->pools[0].backend;
    EXPECT_EQ(b.protocol, BackendProtocol::Tcp) << "the relay stays plain TCP (TLS passthrough)";
    EXPECT_TRUE(b.tls_context);
}

TEST_F(TlsConfig, TheTlsProbeChecksItsOwnKeys) {
    LoadResult r = loadText("[[listener]]\nname = \"front\"\nbind = [\"127.0.0.1:0\"]\npool = \"pg\"\n" +
                            pool({}, "  plugin = \"tls\"\n  sni = \"bad name\"\n  alpn = [\"h2\", 3]\n"));
    EXPECT_EQ(errorLines(r), (Lines{"t.toml:13:9: 'sni' must be a host name (letters, digits, '-' and '_' in "
                                    "dot-separated labels), not \"bad name\"",
                                    "t.toml:14:17: each element of 'alpn' must be a string, not an integer"}));
}

// tests/fixtures/config/tls_errors.toml, as `postern check` run in that folder reports it.
TEST_F(TlsConfig, ErrorsFixture) {
    const fs::path dir = fs::path(POSTERN_SOURCE_DIR) / "tests/fixtures/config";
    const fs::path previous = fs::current_path();
    fs::current_path(dir);
    LoadResult r = loadConfigFile("tls_errors.toml", test::sharedRegistry(), test::testOptions());
    fs::current_path(previous);
    EXPECT_FALSE(r.config);
    std::ifstream in(dir / "tls_errors.expected");
    Lines expected;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) expected.push_back(line);
    EXPECT_EQ(errorLines(r), expected);
}

}  // namespace
}  // namespace postern::config
