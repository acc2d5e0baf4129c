// The TLS side of one listener: an SSL_CTX per certificate (built through Poco's Context), a
// server-name callback that switches a new connection to the certificate its SNI asks for (the
// first certificate otherwise), ALPN chosen by the server from its own list, mutual TLS when a
// client CA is set, the version floor, the cipher policy and stateless session tickets.
//
// Built on the control thread when the configuration is loaded, then immutable and shared by
// every worker: accept() may be called from any thread at the same time (SSL_new on a shared
// SSL_CTX is thread-safe).
#pragma once

#include <Poco/Net/Context.h>

#include <memory>
#include <string>
#include <vector>

#include "net/socket_ops.h"
#include "tls/pem_files.h"
#include "tls/sni_selector.h"
#include "tls/tls_settings.h"
#include "tls/tls_stream.h"

namespace postern::tls {

class ServerTlsContext {
public:
    /** null when anything is wrong; every problem found is appended to *problems. */
    static std::shared_ptr<const ServerTlsContext> create(const ServerTlsSettings& settings,
                                                          std::vector<TlsProblem>* problems);
    ~ServerTlsContext();
    ServerTlsContext(const ServerTlsContext&) = delete;
    ServerTlsContext& operator=(const ServerTlsContext&) = delete;

    /** A server stream on `fd` (not owned; the caller closes it after the stream is gone). null
     * only when OpenSSL cannot allocate. Any thread. */
    std::unique_ptr<TlsStream> accept(net::Fd fd) const;

    const ServerTlsSettings& settings() const { return settings_; }
    /** certificates()[i] describes settings().certificates[i]. */
    const std::vector<CertificateInfo>& certificates() const { return certificates_; }
    const SniSelector& sni() const { return sni_; }

private:
    ServerTlsContext() = default;
    static int onServerName(SSL* ssl, int* alert, void* self);
    static int onAlpn(SSL* ssl, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                      unsigned int in_len, void* self);

    ServerTlsSettings settings_;
    std::vector<Poco::Net::Context::Ptr> contexts_;  ///< one per certificate; [0] is the default
    std::vector<CertificateInfo> certificates_;
    SniSelector sni_;
    std::string alpn_wire_;  ///< length-prefixed protocol names, server preference order
};

/** ALPN names as the wire format wants them ("\x02h2\x08http/1.1"); names must be 1..255 bytes. */
std::string alpnWireFormat(const std::vector<std::string>& names);

}  // namespace postern::tls
