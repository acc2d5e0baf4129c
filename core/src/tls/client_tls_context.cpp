#include "tls/client_tls_context.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/context_setup.h"

namespace postern::tls {

bool isIpLiteral(std::string_view host) {
    char buf[64];
    if (host.empty() || host.size() >= sizeof buf) return false;
    host.copy(buf, host.size());
    buf[host.size()] = '\0';
    unsigned char addr[16];
    return ::inet_pton(AF_INET, buf, addr) == 1 || ::inet_pton(AF_INET6, buf, addr) == 1;
}

std::string alpnWireFromList(std::string_view list) {
    std::string wire;
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        std::string_view name = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
        while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
        if (name.empty() || name.size() > 255) continue;
        wire += static_cast<char>(name.size());
        wire += name;
    }
    return wire;
}

ClientTlsContext::~ClientTlsContext() = default;

std::shared_ptr<const ClientTlsContext> ClientTlsContext::create(const ClientTlsSettings& settings,
                                                                 std::vector<TlsProblem>* problems) {
    const std::size_t problems_before = problems->size();
    std::string error;
    std::shared_ptr<ClientTlsContext> self(new ClientTlsContext());
    self->settings_ = settings;
    self->context_ = newContext(Poco::Net::Context::TLS_CLIENT_USE, CipherSelection{}, TlsVersion::Tls12, &error);
    if (!self->context_) {
        problems->push_back({TlsField::Other, 0, error});
        return nullptr;
    }
    SSL_CTX* ctx = self->context_->sslContext();
    if (!settings.ca.empty()) {
        auto cas = loadCaBundle(settings.ca, &error);
        if (!cas) {
            problems->push_back({TlsField::Ca, 0, error});
        } else {
            X509_STORE* store = SSL_CTX_get_cert_store(ctx);
            for (const auto& ca : *cas) X509_STORE_add_cert(store, ca.get());
            ERR_clear_error();
        }
    } else if (settings.verify) {
        // No private CA named: the system's trust store, as a TLS client normally does.
        SSL_CTX_set_default_verify_paths(ctx);
        ERR_clear_error();
    }
    if (settings.verify) SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);

    if (!settings.client_cert.empty() || !settings.client_key.empty()) {
        if (settings.client_cert.empty() || settings.client_key.empty())
            problems->push_back({TlsField::Other, 0, "a client certificate needs both its certificate and its key"});
        else
            self->client_certificate_ = useCertificate(ctx, {settings.client_cert, settings.client_key},
                                                       TlsField::ClientCert, TlsField::ClientKey, 0, problems);
    }
    if (problems->size() != problems_before) return nullptr;
    return self;
}

std::unique_ptr<TlsStream> ClientTlsContext::connect(net::Fd fd, std::string_view host, std::string_view sni_override,
                                                     std::string_view alpn_wire) const {
    SSL* ssl = SSL_new(context_->sslContext());
    if (!ssl) {
        ERR_clear_error();
        return nullptr;
    }
    auto stream = std::make_unique<TlsStream>(ssl);
    if (!stream->bindSocket(fd)) return nullptr;
    SSL_set_connect_state(ssl);
    const std::string name(!sni_override.empty() ? sni_override : !settings_.sni.empty() ? settings_.sni : host);
    const bool ip = isIpLiteral(name);
    // RFC 6066: SNI carries host names only, never IP literals.
    if (!ip && !name.empty()) SSL_set_tlsext_host_name(ssl, name.c_str());
    if (settings_.verify && !name.empty()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (ip) {
            X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
        } else {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            X509_VERIFY_PARAM_set1_host(param, name.data(), name.size());
        }
    }
    if (!alpn_wire.empty())
        SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn_wire.data()),
                            static_cast<unsigned int>(alpn_wire.size()));
    ERR_clear_error();
    return stream;
}

}  // namespace postern::tls
