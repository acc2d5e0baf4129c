// TLS on the data path, without the proxy around it: listener and backend contexts talking to
// each other over a socketpair — SNI selection, chains, verification (CA, host name, IP), mutual
// TLS, version floor, ALPN, tickets, half-close and large transfers through partial writes.
#include "tls/tls_stream.h"

#include <gtest/gtest.h>

#include <functional>

#include "tls/client_tls_context.h"
#include "tls/server_tls_context.h"
#include "tls_pair.h"
#include "unit_pki.h"

namespace postern::test {
namespace {

using net::IoStatus;

tls::FileRef ref(const std::filesystem::path& p) { return {p.string(), p.filename().string()}; }

std::shared_ptr<const tls::ServerTlsContext> serverCtx(
    const std::vector<IssuedCertificate>& certs, const std::function<void(tls::ServerTlsSettings&)>& tweak = {}) {
    tls::ServerTlsSettings s;
    s.name = "unit";
    for (const auto& c : certs) s.certificates.push_back({ref(c.cert), ref(c.key)});
    if (tweak) tweak(s);
    std::vector<tls::TlsProblem> problems;
    auto ctx = tls::ServerTlsContext::create(s, &problems);
    for (const auto& p : problems) ADD_FAILURE() << p.message;
    return ctx;
}

std::shared_ptr<const tls::ClientTlsContext> clientCtx(const std::filesystem::path& ca, bool verify = true,
                                                       const IssuedCertificate* cert = nullptr) {
    tls::ClientTlsSettings s;
    s.name = "unit";
    if (!ca.empty()) s.ca = ref(ca);
    s.verify = verify;
    if (cert) {
        s.client_cert = ref(cert->cert);
        s.client_key = ref(cert->key);
    }
    std::vector<tls::TlsProblem> problems;
    auto ctx = tls::ClientTlsContext::create(s, &problems);
    for (const auto& p : problems) ADD_FAILURE() << p.message;
    return ctx;
}

class TlsStreamTest : public ::testing::Test {
protected:
    const UnitPki& pki = unitPki();
};

TEST_F(TlsStreamTest, HandshakeThenDataBothWays) {
    auto server = serverCtx({pki.rsa, pki.ecdsa});
    auto client = clientCtx(pki.ca);
    ASSERT_TRUE(server && client);
    TlsPair p(*server, *client, "a.example.com");
    auto [s, c] = p.handshake();
    ASSERT_EQ(c, IoStatus::Ok) << p.client->failure();
    ASSERT_EQ(s, IoStatus::Ok) << p.server->failure();
    EXPECT_EQ(p.server->version(), "TLSv1.3");
    EXPECT_EQ(p.server->serverName(), "a.example.com");
    EXPECT_FALSE(p.server->cipher().empty());
    EXPECT_EQ(TlsPair::transfer(*p.client, *p.server, "hello backend"), "hello backend");
    EXPECT_EQ(TlsPair::transfer(*p.server, *p.client, "hello client"), "hello client");
}

TEST_F(TlsStreamTest, SniPicksTheCertificateByExactOrWildcardNameAndDefaultsToTheFirst) {
    auto server = serverCtx({pki.rsa, pki.ecdsa, pki.chained});
    auto verifying = clientCtx(pki.ca);
    auto any = clientCtx({}, false);
    struct Case {
        std::string host;
        std::string cn;
        bool verify;
    } cases[] = {
        {"a.example.com", "a.example.com", true},      {"www.a.example.com", "a.example.com", true},
        {"b.example.com", "b.example.com", true},      {"x.wild.example.com", "b.example.com", true},
        {"c.example.com", "c.example.com", true},      {"unknown.example.com", "a.example.com", false},
        {"127.0.0.1", "a.example.com", false},  // an IP literal sends no SNI: the default
    };
    for (const auto& tc : cases) {
        SCOPED_TRACE(tc.host);
        TlsPair p(*server, tc.verify ? *verifying : *any, tc.host);
        auto [s, c] = p.handshake();
        ASSERT_EQ(c, IoStatus::Ok) << p.client->failure();
        ASSERT_EQ(s, IoStatus::Ok) << p.server->failure();
        EXPECT_EQ(peerCn(*p.client), tc.cn);
    }
}

TEST_F(TlsStreamTest, CertificateWithoutSanIsChosenByItsCommonName) {
    auto server = serverCtx({pki.rsa, pki.no_san});
    auto any = clientCtx({}, false);
    TlsPair p(*server, *any, "legacy.example.com");
    auto [s, c] = p.handshake();
    ASSERT_EQ(c, IoStatus::Ok) << p.client->failure();
    EXPECT_EQ(peerCn(*p.client), "legacy.example.com");
}

TEST_F(TlsStreamTest, TheChainIsSentSoTheRootAloneVerifiesIt) {
    auto server = serverCtx({pki.chained});
    auto client = clientCtx(pki.ca);
    TlsPair p(*server, *client, "c.example.com");
    auto [s, c] = p.handshake();
    EXPECT_EQ(c, IoStatus::Ok) << p.client->failure();
    EXPECT_EQ(s, IoStatus::Ok) << p.server->failure();
}

TEST_F(TlsStreamTest, BackendVerificationChecksTheCaTheNameAndTheIp) {
    auto client = clientCtx(pki.ca);
    {
        SCOPED_TRACE("certificate from another CA");
        auto server = serverCtx({pki.foreign});
        TlsPair p(*server, *client, "a.example.com");
        auto [s, c] = p.handshake();
        EXPECT_EQ(c, IoStatus::Error);
        EXPECT_NE(p.client->failure().find("certificate verify failed"), std::string::npos) << p.client->failure();
    }
    {
        SCOPED_TRACE("right CA, wrong name");
        auto server = serverCtx({pki.rsa});
        TlsPair p(*server, *client, "db.internal");
        auto [s, c] = p.handshake();
        EXPECT_EQ(c, IoStatus::Error);
        EXPECT_NE(p.client->failure().find("hostname mismatch"), std::string::npos) << p.client->failure();
    }
    {
        SCOPED_TRACE("IP SAN");
        auto server = serverCtx({pki.ip});
        TlsPair ok(*server, *client, "127.0.0.1");
        EXPECT_EQ(ok.handshake().second, IoStatus::Ok) << ok.client->failure();
        TlsPair v6(*server, *client, "::1");
        EXPECT_EQ(v6.handshake().second, IoStatus::Ok) << v6.client->failure();
        TlsPair wrong(*server, *client, "127.0.0.2");
        EXPECT_EQ(wrong.handshake().second, IoStatus::Error);
        EXPECT_NE(wrong.client->failure().find("IP address mismatch"), std::string::npos)
            << wrong.client->failure();
    }
    {
        SCOPED_TRACE("the SNI override names the certificate to expect");
        auto server = serverCtx({pki.rsa, pki.ecdsa});
        TlsPair p(*server, *client, "10.0.0.9", "b.example.com");
        EXPECT_EQ(p.handshake().second, IoStatus::Ok) << p.client->failure();
        EXPECT_EQ(p.server->serverName(), "b.example.com");
    }
}

TEST_F(TlsStreamTest, VerificationOffAcceptsAnyCertificate) {
    auto server = serverCtx({pki.foreign});
    auto client = clientCtx({}, false);
    TlsPair p(*server, *client, "whatever.example");
    auto [s, c] = p.handshake();
    EXPECT_EQ(c, IoStatus::Ok) << p.client->failure();
    EXPECT_EQ(s, IoStatus::Ok) << p.server->failure();
}

TEST_F(TlsStreamTest, MutualTlsNeedsACertificateFromTheClientCa) {
    auto server = serverCtx({pki.rsa}, [&](tls::ServerTlsSettings& s) { s.client_ca = ref(pki.ca); });
    {
        SCOPED_TRACE("no client certificate");
        auto client = clientCtx(pki.ca);
        TlsPair p(*server, *client, "a.example.com");
        auto [s, c] = p.handshake();
        EXPECT_EQ(s, IoStatus::Error);
        EXPECT_NE(p.server->failure().find("certificate"), std::string::npos) << p.server->failure();
        // TLS 1.3: the client may finish first; its next read sees the server's alert.
        if (c == IoStatus::Ok) {
            EXPECT_NE(TlsPair::readUntilSettled(*p.client).status, IoStatus::Ok);
        }
    }
    {
        SCOPED_TRACE("a certificate from another CA");
        auto client = clientCtx(pki.ca, true, &pki.foreign_client);
        TlsPair p(*server, *client, "a.example.com");
        auto [s, c] = p.handshake();
        EXPECT_EQ(s, IoStatus::Error);
        EXPECT_NE(p.server->failure().find("certificate verify failed"), std::string::npos) << p.server->failure();
    }
    {
        SCOPED_TRACE("a certificate from the client CA");
        auto client = clientCtx(pki.ca, true, &pki.client);
        TlsPair p(*server, *client, "a.example.com");
        auto [s, c] = p.handshake();
        ASSERT_EQ(c, IoStatus::Ok) << p.client->failure();
        ASSERT_EQ(s, IoStatus::Ok) << p.server->failure();
        EXPECT_TRUE(p.server->peerCertificatePresented());
        EXPECT_EQ(p.server->verifyResult(), X509_V_OK);
        EXPECT_EQ(p.server->peerCommonName(), "client-one");
        EXPECT_EQ(TlsPair::transfer(*p.client, *p.server, "mtls"), "mtls");
    }
}

TEST_F(TlsStreamTest, MinVersionRefusesOlderClients) {
    auto server = serverCtx({pki.ecdsa}, [](tls::ServerTlsSettings& s) { s.min_version = tls::TlsVersion::Tls13; });
    SslCtxHolder tls12(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_max_proto_version(tls12.get(), TLS1_2_VERSION);
    TlsPair old(*server, SSL_new(tls12.get()));
    auto [s, c] = old.handshake();
    EXPECT_EQ(s, IoStatus::Error);
    EXPECT_EQ(c, IoStatus::Error);

    auto client = clientCtx(pki.ca);
    TlsPair modern(*server, *client, "b.example.com");
    auto [s13, c13] = modern.handshake();
    EXPECT_EQ(s13, IoStatus::Ok) << modern.server->failure();
    EXPECT_EQ(modern.server->version(), "TLSv1.3");
}

TEST_F(TlsStreamTest, Tls12StillWorksByDefaultWithAnAeadCipher) {
    auto server = serverCtx({pki.rsa});
    SslCtxHolder tls12(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_max_proto_version(tls12.get(), TLS1_2_VERSION);
    TlsPair p(*server, SSL_new(tls12.get()));
    auto [s, c] = p.handshake();
    ASSERT_EQ(s, IoStatus::Ok) << p.server->failure();
    EXPECT_EQ(p.server->version(), "TLSv1.2");
    EXPECT_TRUE(SSL_CIPHER_is_aead(SSL_get_current_cipher(p.server->native()))) << p.server->cipher();
}

TEST_F(TlsStreamTest, WeakTls12CiphersAreRefusedByDefault) {
    auto server = serverCtx({pki.rsa});
    SslCtxHolder weak(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_max_proto_version(weak.get(), TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(weak.get(), "AES128-SHA:ECDHE-RSA-AES128-SHA");  // CBC, one without forward secrecy
    TlsPair p(*server, SSL_new(weak.get()));
    auto [s, c] = p.handshake();
    EXPECT_EQ(s, IoStatus::Error);
    EXPECT_NE(p.server->failure().find("no shared cipher"), std::string::npos) << p.server->failure();
}

TEST_F(TlsStreamTest, AlpnIsChosenByTheServerFromItsOwnList) {
    auto server = serverCtx({pki.rsa}, [](tls::ServerTlsSettings& s) { s.alpn = {"h2", "http/1.1"}; });
    auto client = clientCtx(pki.ca);
    TlsPair both(*server, *client, "a.example.com", {}, tls::alpnWireFromList("http/1.1,h2"));
    ASSERT_EQ(both.handshake().first, IoStatus::Ok) << both.server->failure();
    EXPECT_EQ(both.server->alpn(), "h2");
    EXPECT_EQ(both.client->alpn(), "h2");

    TlsPair none(*server, *client, "a.example.com", {}, tls::alpnWireFromList("mqtt"));
    ASSERT_EQ(none.handshake().first, IoStatus::Ok) << "no overlap: the handshake goes on without ALPN";
    EXPECT_EQ(none.server->alpn(), "");
}

TEST_F(TlsStreamTest, SessionTicketsResumeAcrossConnections) {
    auto server = serverCtx({pki.rsa, pki.ecdsa});
    SslCtxHolder raw(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_session_cache_mode(raw.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL* first_ssl = SSL_new(raw.get());
    SSL_set_tlsext_host_name(first_ssl, "b.example.com");
    TlsPair first(*server, first_ssl);
    ASSERT_EQ(first.handshake().first, IoStatus::Ok) << first.server->failure();
    // TLS 1.3 tickets follow the handshake; reading application data processes them.
    ASSERT_EQ(TlsPair::transfer(*first.server, *first.client, "x"), "x");
    SSL_SESSION* session = SSL_get1_session(first.client->native());
    ASSERT_NE(session, nullptr);
    ASSERT_TRUE(SSL_SESSION_is_resumable(session));

    SSL* second_ssl = SSL_new(raw.get());
    SSL_set_tlsext_host_name(second_ssl, "b.example.com");
    SSL_set_session(second_ssl, session);
    SSL_SESSION_free(session);
    TlsPair second(*server, second_ssl);
    ASSERT_EQ(second.handshake().first, IoStatus::Ok) << second.server->failure();
    EXPECT_EQ(SSL_session_reused(second.server->native()), 1);
    EXPECT_EQ(peerCn(*second.client), "b.example.com");
}

TEST_F(TlsStreamTest, OneReadGetsTheDataBehindSessionTickets) {
    // Edge-triggered polling reads until WouldBlock and then waits for a new edge, so WouldBlock
    // must mean "the socket is empty", not "a ticket was processed" with data still queued.
    auto server = serverCtx({pki.ecdsa});
    auto client = clientCtx(pki.ca);
    TlsPair p(*server, *client, "b.example.com");
    ASSERT_EQ(p.client->handshake(), IoStatus::WouldBlock);  // ClientHello out
    ASSERT_EQ(p.server->handshake(), IoStatus::WouldBlock);  // ServerHello ... Finished out
    ASSERT_EQ(p.client->handshake(), IoStatus::Ok);          // client Finished out
    ASSERT_EQ(p.server->handshake(), IoStatus::Ok);          // tickets out
    ASSERT_EQ(p.server->write("after the tickets", 17).status, IoStatus::Ok);
    char buf[256];
    const auto r = p.client->read(buf, sizeof buf);
    ASSERT_EQ(r.status, IoStatus::Ok);
    EXPECT_EQ(std::string(buf, r.bytes), "after the tickets");
}

TEST_F(TlsStreamTest, HalfCloseKeepsTheOtherDirectionOpen) {
    auto server = serverCtx({pki.ecdsa});
    auto client = clientCtx(pki.ca);
    TlsPair p(*server, *client, "b.example.com");
    ASSERT_EQ(p.handshake().first, IoStatus::Ok);
    ASSERT_EQ(TlsPair::transfer(*p.client, *p.server, "request"), "request");
    // The client ends its side (close_notify) ...
    EXPECT_EQ(p.client->shutdown(), IoStatus::Ok);
    EXPECT_EQ(TlsPair::readUntilSettled(*p.server).status, IoStatus::Eof);
    // ... and still reads what the server sends afterwards, until the server ends too.
    EXPECT_EQ(TlsPair::transfer(*p.server, *p.client, "late reply"), "late reply");
    EXPECT_EQ(p.server->shutdown(), IoStatus::Ok);
    EXPECT_EQ(TlsPair::readUntilSettled(*p.client).status, IoStatus::Eof);
}

TEST_F(TlsStreamTest, APeerThatJustClosesTheSocketReadsAsEndOfStream) {
    auto server = serverCtx({pki.ecdsa});
    auto client = clientCtx(pki.ca);
    TlsPair p(*server, *client, "b.example.com");
    ASSERT_EQ(p.handshake().first, IoStatus::Ok);
    ASSERT_EQ(TlsPair::transfer(*p.client, *p.server, "data"), "data");
    // Read everything the server sent (its session tickets included): closing a socket with
    // unread bytes would be a reset, not an end of stream.
    ASSERT_EQ(TlsPair::transfer(*p.server, *p.client, "bye"), "bye");
    p.client.reset();
    ::close(p.fds[1]);
    p.fds[1] = -1;
    EXPECT_EQ(TlsPair::readUntilSettled(*p.server).status, IoStatus::Eof);
}

TEST_F(TlsStreamTest, LargeTransfersSurvivePartialWritesAndMovedBuffers) {
    auto server = serverCtx({pki.rsa});
    auto client = clientCtx(pki.ca);
    TlsPair p(*server, *client, "a.example.com");
    ASSERT_EQ(p.handshake().first, IoStatus::Ok);
    const int small = 16 * 1024;
    ::setsockopt(p.fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(p.fds[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    // Bigger than the socketpair's buffers: writes stop with WouldBlock, and the unsent rest is
    // retried from a different buffer (as the session's pending buffer does).
    std::string payload(3 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 2654435761u) >> 13);
    std::string got;
    std::string pending;  // the unsent rest, copied like the session's stash
    std::size_t offered = 0;
    char buf[65536];
    bool saw_would_block = false;
    for (int i = 0; i < 1000000 && got.size() < payload.size(); ++i) {
        if (pending.empty() && offered < payload.size()) {
            const std::size_t n = std::min<std::size_t>(65536, payload.size() - offered);
            pending.assign(payload, offered, n);
            offered += n;
        }
        if (!pending.empty()) {
            std::string moved = pending;  // a different address every attempt
            auto w = p.client->write(moved.data(), moved.size());
            if (w.status == IoStatus::Ok) pending.erase(0, w.bytes);
            else if (w.status == IoStatus::WouldBlock) saw_would_block = true;
            else FAIL() << p.client->failure();
        }
        if (i % 3 == 0) {  // a slow reader: the writer runs into a full socket
            auto r = p.server->read(buf, sizeof buf);
            if (r.status == IoStatus::Ok) got.append(buf, r.bytes);
        }
    }
    EXPECT_TRUE(saw_would_block) << "the test must exercise a blocked write";
    ASSERT_EQ(got.size(), payload.size());
    EXPECT_TRUE(got == payload);
}

}  // namespace
}  // namespace postern::test
