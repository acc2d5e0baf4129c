// TLS towards the backends of one pool (and that pool's TLS probes): one SSL_CTX built through
// Poco's Context with the pool's CA bundle (or the system trust store), optional client
// certificate for backends that want mutual TLS, and per-connection SNI and host name / IP checks.
//
// Built on the control thread when the configuration is loaded, then immutable; connect() may be
// called from any thread at the same time.
#pragma once

#include <Poco/Net/Context.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket_ops.h"
#include "tls/pem_files.h"
#include "tls/tls_settings.h"
#include "tls/tls_stream.h"

namespace postern::tls {

class ClientTlsContext {
public:
    /** null when anything is wrong; every problem found is appended to *problems. */
    static std::shared_ptr<const ClientTlsContext> create(const ClientTlsSettings& settings,
                                                          std::vector<TlsProblem>* problems);
    ~ClientTlsContext();
    ClientTlsContext(const ClientTlsContext&) = delete;
    ClientTlsContext& operator=(const ClientTlsContext&) = delete;

    /** A client stream on `fd` (not owned) towards a backend discovered as `host` (a name or an IP
     * literal). The name sent as SNI and checked against the certificate is `sni_override` if
     * set, else settings().sni if set, else `host`; an IP literal is checked against the
     * certificate's IP SANs and sends no SNI. `alpn_wire` (wire format) may be empty. null only
     * when OpenSSL cannot allocate. Any thread. */
    std::unique_ptr<TlsStream> connect(net::Fd fd, std::string_view host, std::string_view sni_override = {},
                                       std::string_view alpn_wire = {}) const;

    const ClientTlsSettings& settings() const { return settings_; }
    /** The client certificate presented to backends, if any. */
    const std::optional<CertificateInfo>& clientCertificate() const { return client_certificate_; }

private:
    ClientTlsContext() = default;

    ClientTlsSettings settings_;
    Poco::Net::Context::Ptr context_;
    std::optional<CertificateInfo> client_certificate_;
};

/** A comma-separated protocol list ("h2,http/1.1", as probe plugins give it) in ALPN wire format;
 * empty names and names over 255 bytes are skipped. */
std::string alpnWireFromList(std::string_view comma_separated);

/** Whether `host` is an IPv4 or IPv6 literal (no brackets). */
bool isIpLiteral(std::string_view host);

}  // namespace postern::tls
