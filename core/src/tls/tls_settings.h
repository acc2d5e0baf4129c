// What a TLS context is built from: plain values taken from the configuration (no OpenSSL, Poco or
// TOML types), and the problems found while building one, tagged with the setting they belong to
// so the config reader can report each at its own file:line:column. Value types; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace postern::tls {

enum class TlsVersion { Tls12, Tls13 };

/** A file as the context reads it (`path`, absolute) and as the user wrote it (`shown`). */
struct FileRef {
    std::string path;
    std::string shown;
    bool empty() const { return path.empty(); }
};

struct CertificateFiles {
    FileRef cert;  ///< PEM: the leaf certificate first, then its chain
    FileRef key;   ///< PEM private key (RSA or EC), unencrypted
};

/** A TLS listener (`[listener.tls]`). */
struct ServerTlsSettings {
    std::string name;                            ///< listener name: session id context, messages
    std::vector<CertificateFiles> certificates;  ///< chosen by SNI; the first is the default
    TlsVersion min_version = TlsVersion::Tls12;
    std::string ciphers;             ///< OpenSSL syntax; TLS 1.3 names (TLS_*) allowed; "" = default
    std::vector<std::string> alpn;   ///< server preference order
    FileRef client_ca;               ///< set: client certificates required (mutual TLS)
};

/** TLS towards a pool's backends (`[pool.backend] tls_*`), also used by TLS probes. */
struct ClientTlsSettings {
    std::string name;  ///< pool name, for messages
    std::string sni;   ///< "" = the target's host name (no SNI for an IP literal)
    FileRef ca;        ///< "" = the system's trust store
    bool verify = true;
    FileRef client_cert;
    FileRef client_key;
};

/** Which setting a problem is about. */
enum class TlsField { Certificate, Key, Ciphers, ClientCa, Alpn, Ca, ClientCert, ClientKey, Other };

struct TlsProblem {
    TlsField field = TlsField::Other;
    std::size_t index = 0;  ///< certificates[index] / alpn[index]
    std::string message;    ///< complete sentence fragment, e.g. "cannot read \"a.pem\": ..."
};

}  // namespace postern::tls
