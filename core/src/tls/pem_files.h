// Reading PEM files for TLS contexts: certificate chains, private keys and CA bundles, with
// messages that name the file as the user wrote it. Also what a certificate says about itself
// (names, expiry, key type), for SNI selection and the start-up log. Control thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "tls/openssl_util.h"
#include "tls/tls_settings.h"

namespace postern::tls {

struct CertificateChain {
    X509Ptr leaf;
    std::vector<X509Ptr> intermediates;
};

/** The certificates of `file`, leaf first. nullopt + *error ("cannot read \"a.pem\": ...",
 * "\"a.pem\" contains no PEM certificate", ...) when unusable. */
std::optional<CertificateChain> loadCertificateChain(const FileRef& file, std::string* error);

/** An unencrypted PEM private key (RSA, EC, Ed25519...). null + *error when unusable. */
EvpPkeyPtr loadPrivateKey(const FileRef& file, std::string* error);

/** Every certificate of a CA bundle (at least one). nullopt + *error when unusable. */
std::optional<std::vector<X509Ptr>> loadCaBundle(const FileRef& file, std::string* error);

struct CertificateInfo {
    std::string subject;                 ///< one line, e.g. "CN=a.example.com"
    std::vector<std::string> dns_names;  ///< SAN DNS names, lower case ("*.x" kept as is)
    std::string common_name;             ///< lower case; "" when none
    std::string key_type;                ///< "RSA 2048", "EC P-256", "ED25519"...
    std::chrono::system_clock::time_point not_after{};
    std::chrono::system_clock::time_point not_before{};
};

CertificateInfo describeCertificate(X509* cert);

/** The names a certificate answers for in SNI selection: its SAN DNS names, or its common name
 * when it has none (as browsers did before SANs were mandatory). */
std::vector<std::string> serverNamesOf(const CertificateInfo& info);

/** "2026-05-01T12:00:00Z". */
std::string formatUtc(std::chrono::system_clock::time_point t);

}  // namespace postern::tls
