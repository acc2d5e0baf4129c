// What the server and client TLS contexts share: creating the SSL_CTX through Poco's Context (with
// Poco's weak defaults overridden: cipher list, groups, verify callbacks), the options
// every Postern context has, and loading a certificate + key pair with a match check. Control
// thread.
#pragma once

#include <Poco/Net/Context.h>

#include <optional>
#include <string>

#include "tls/cipher_policy.h"
#include "tls/pem_files.h"
#include "tls/tls_settings.h"

namespace postern::tls {

/** A Poco Context (TLS_SERVER_USE / TLS_CLIENT_USE) set up with Postern's defaults: no peer
 * verification (the caller sets its own), `ciphers`, kGroups, TLS >= `min_version`, no
 * renegotiation, no compression, unexpected EOF = clean EOF, partial writes with a movable buffer,
 * and reads that go on past non-application records (AUTO_RETRY).
 * null + *error when Poco or OpenSSL refuses. */
Poco::Net::Context::Ptr newContext(Poco::Net::Context::Usage usage, const CipherSelection& ciphers,
                                   TlsVersion min_version, std::string* error);

/** Loads `files` into `ctx` (leaf, chain, key). Problems (unreadable file, no certificate, key not
 * matching) go to *problems tagged with `cert_field` / `key_field` and `index`. Returns the leaf's
 * description when it worked. */
std::optional<CertificateInfo> useCertificate(SSL_CTX* ctx, const CertificateFiles& files,
                                              TlsField cert_field, TlsField key_field, std::size_t index,
                                              std::vector<TlsProblem>* problems);

}  // namespace postern::tls
