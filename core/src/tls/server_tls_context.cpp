#include "tls/server_tls_context.h"

#include <openssl/err.h>

#include "tls/context_setup.h"

namespace postern::tls {

std::string alpnWireFormat(const std::vector<std::string>& names) {
    std::string wire;
    for (const auto& n : names) {
        if (n.empty() || n.size() > 255) continue;
        wire += static_cast<char>(n.size());
        wire += n;
    }
    return wire;
}

ServerTlsContext::~ServerTlsContext() = default;

std::shared_ptr<const ServerTlsContext> ServerTlsContext::create(const ServerTlsSettings& settings,
                                                                 std::vector<TlsProblem>* problems) {
    const std::size_t problems_before = problems->size();
    std::string error;
    auto ciphers = parseCiphers(settings.ciphers, &error);
    if (!ciphers) {
        problems->push_back({TlsField::Ciphers, 0, error});
        ciphers = CipherSelection{};  // keep checking the certificates with the defaults
    }
    for (std::size_t i = 0; i < settings.alpn.size(); ++i) {
        const auto& name = settings.alpn[i];
        if (name.empty() || name.size() > 255)
            problems->push_back({TlsField::Alpn, i, "ALPN protocol names must be 1 to 255 bytes long"});
    }
    std::optional<std::vector<X509Ptr>> client_cas;
    if (!settings.client_ca.empty()) {
        client_cas = loadCaBundle(settings.client_ca, &error);
        if (!client_cas) problems->push_back({TlsField::ClientCa, 0, error});
    }
    if (settings.certificates.empty())
        problems->push_back({TlsField::Certificate, 0, "at least one certificate is required"});

    std::shared_ptr<ServerTlsContext> self(new ServerTlsContext());
    self->settings_ = settings;
    self->alpn_wire_ = alpnWireFormat(settings.alpn);
    std::vector<std::vector<std::string>> names;
    for (std::size_t i = 0; i < settings.certificates.size(); ++i) {
        auto context = newContext(Poco::Net::Context::TLS_SERVER_USE, *ciphers, settings.min_version, &error);
        if (!context) {
            problems->push_back({TlsField::Other, i, error});
            return nullptr;
        }
        SSL_CTX* ctx = context->sslContext();
        auto info = useCertificate(ctx, settings.certificates[i], TlsField::Certificate, TlsField::Key, i, problems);
        if (!info) continue;
        // Resumed sessions (tickets) are only accepted by contexts of the same listener.
        std::string id = "postern:" + settings.name;
        if (id.size() > SSL_MAX_SID_CTX_LENGTH) id.resize(SSL_MAX_SID_CTX_LENGTH);
        SSL_CTX_set_session_id_context(ctx, reinterpret_cast<const unsigned char*>(id.data()),
                                       static_cast<unsigned int>(id.size()));
        if (client_cas) {
            X509_STORE* store = SSL_CTX_get_cert_store(ctx);
            STACK_OF(X509_NAME)* ca_names = sk_X509_NAME_new_null();
            for (const auto& ca : *client_cas) {
                X509_STORE_add_cert(store, ca.get());
                if (ca_names) sk_X509_NAME_push(ca_names, X509_NAME_dup(X509_get_subject_name(ca.get())));
            }
            // Tells clients which CA their certificate must come from.
            SSL_CTX_set_client_CA_list(ctx, ca_names);
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE,
                               nullptr);
            ERR_clear_error();
        }
        SSL_CTX_set_tlsext_servername_callback(ctx, &ServerTlsContext::onServerName);
        SSL_CTX_set_tlsext_servername_arg(ctx, self.get());
        if (!self->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, &ServerTlsContext::onAlpn, self.get());
        names.push_back(serverNamesOf(*info));
        self->certificates_.push_back(std::move(*info));
        self->contexts_.push_back(std::move(context));
    }
    if (problems->size() != problems_before) return nullptr;
    self->sni_ = SniSelector(names);
    return self;
}

std::unique_ptr<TlsStream> ServerTlsContext::accept(net::Fd fd) const {
    SSL* ssl = SSL_new(contexts_.front()->sslContext());
    if (!ssl) {
        ERR_clear_error();
        return nullptr;
    }
    auto stream = std::make_unique<TlsStream>(ssl);
    if (!stream->bindSocket(fd)) return nullptr;
    SSL_set_accept_state(ssl);
    return stream;
}

int ServerTlsContext::onServerName(SSL* ssl, int* alert, void* arg) {
    (void)alert;
    const auto* self = static_cast<const ServerTlsContext*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
    auto index = self->sni_.select(name);
    if (index && *index != 0) SSL_set_SSL_CTX(ssl, self->contexts_[*index]->sslContext());
    // An unknown name also gets the default certificate (the client decides whether to trust it).
    return SSL_TLSEXT_ERR_OK;
}

int ServerTlsContext::onAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                             unsigned int in_len, void* arg) {
    (void)ssl;
    const auto* self = static_cast<const ServerTlsContext*>(arg);
    unsigned char* selected = nullptr;
    // Server preference: the first of our protocols the client also offers.
    if (SSL_select_next_proto(&selected, out_len, reinterpret_cast<const unsigned char*>(self->alpn_wire_.data()),
                              static_cast<unsigned int>(self->alpn_wire_.size()), in,
                              in_len) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;  // no overlap: continue without ALPN, as HAProxy does
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace postern::tls
