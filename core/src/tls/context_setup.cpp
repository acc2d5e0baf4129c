#include "tls/context_setup.h"

#include <Poco/Exception.h>
#include <openssl/err.h>

namespace postern::tls {

Poco::Net::Context::Ptr newContext(Poco::Net::Context::Usage usage, const CipherSelection& ciphers,
                                   TlsVersion min_version, std::string* error) {
    Poco::Net::Context::Params params;
    params.verificationMode = Poco::Net::Context::VERIFY_NONE;
    params.loadDefaultCAs = false;
    params.cipherList = ciphers.tls12;  // never Poco's "ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH"
    params.ecdhCurve = kGroups;
    Poco::Net::Context::Ptr context;
    try {
        context = new Poco::Net::Context(usage, params);
    } catch (const Poco::Exception& e) {
        *error = "cannot create a TLS context: " + e.displayText();
        ERR_clear_error();
        return nullptr;
    }
    SSL_CTX* ctx = context->sslContext();
    // Poco wires verification to its SSLManager singleton; ours is plain OpenSSL (set by callers).
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    // AUTO_RETRY matters with edge-triggered polling: without it SSL_read returns WANT_READ after
    // a non-application record (a TLS 1.3 session ticket) even when application data follows it
    // in the socket, and no new edge would ever announce that data.
    SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Read-ahead: one recv fills OpenSSL's buffer with every waiting record instead of a recv for
    // each record header and another for its body (TlsStream::socketDrained relies on it).
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_min_proto_version(ctx, min_version == TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (!applyCiphers(ctx, ciphers, error)) return nullptr;
    if (SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
        *error = "OpenSSL refused the key exchange groups: " + takeOpensslError();
        return nullptr;
    }
    ERR_clear_error();
    return context;
}

std::optional<CertificateInfo> useCertificate(SSL_CTX* ctx, const CertificateFiles& files,
                                              TlsField cert_field, TlsField key_field, std::size_t index,
                                              std::vector<TlsProblem>* problems) {
    std::string error;
    auto chain = loadCertificateChain(files.cert, &error);
    if (!chain) problems->push_back({cert_field, index, error});
    EvpPkeyPtr key = loadPrivateKey(files.key, &error);
    if (!key) problems->push_back({key_field, index, error});
    if (!chain || !key) return std::nullopt;

    auto shown = [](const FileRef& f) { return "\"" + (f.shown.empty() ? f.path : f.shown) + "\""; };
    if (X509_check_private_key(chain->leaf.get(), key.get()) != 1) {
        ERR_clear_error();
        problems->push_back({key_field, index,
                             "private key " + shown(files.key) + " does not match certificate " +
                                 shown(files.cert)});
        return std::nullopt;
    }
    ERR_clear_error();
    if (SSL_CTX_use_certificate(ctx, chain->leaf.get()) != 1) {
        problems->push_back({cert_field, index, shown(files.cert) + ": " + takeOpensslError()});
        return std::nullopt;
    }
    for (auto& extra : chain->intermediates) {
        if (SSL_CTX_add1_chain_cert(ctx, extra.get()) != 1) {
            problems->push_back({cert_field, index, shown(files.cert) + ": chain: " + takeOpensslError()});
            return std::nullopt;
        }
    }
    if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        problems->push_back({key_field, index, shown(files.key) + ": " + takeOpensslError()});
        return std::nullopt;
    }
    return describeCertificate(chain->leaf.get());
}

}  // namespace postern::tls
