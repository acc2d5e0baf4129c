// Cipher selection: the secure defaults (ECDHE key exchange with AEAD ciphers only: AES-GCM and
// ChaCha20-Poly1305 for TLS 1.2, the three standard TLS 1.3 suites), and a user's `ciphers` string
// split into its TLS 1.2 part (OpenSSL cipher-list syntax) and its TLS 1.3 part (TLS_* suite
// names), each element checked so a typo is an error instead of a silently shorter list. A part
// the user leaves out keeps its default. Control thread.
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <string_view>

namespace postern::tls {

inline constexpr const char* kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kDefaultTls13Suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
/** Key exchange groups offered / accepted (Poco's default starts with X448 and finite-field DH). */
inline constexpr const char* kGroups = "X25519:P-256:P-384";

struct CipherSelection {
    std::string tls12 = kDefaultTls12Ciphers;
    std::string tls13 = kDefaultTls13Suites;
};

/** Parses `text` ("" = the defaults). nullopt + *error (e.g. "unknown or unavailable cipher
 * \"RC4-SHA\"") when an element names nothing OpenSSL offers. */
std::optional<CipherSelection> parseCiphers(std::string_view text, std::string* error);

/** Sets both parts on `ctx`; false (with the OpenSSL reason in *error) if OpenSSL refuses. */
bool applyCiphers(SSL_CTX* ctx, const CipherSelection& ciphers, std::string* error);

}  // namespace postern::tls
