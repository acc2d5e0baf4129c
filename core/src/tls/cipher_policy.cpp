#include "tls/cipher_policy.h"

#include <openssl/err.h>

#include "tls/openssl_util.h"

namespace postern::tls {

std::optional<CipherSelection> parseCiphers(std::string_view text, std::string* error) {
    CipherSelection out;
    if (text.empty()) return out;
    SslCtxPtr probe(SSL_CTX_new(TLS_method()));
    if (!probe) {
        *error = "cannot create an OpenSSL context: " + takeOpensslError();
        return std::nullopt;
    }
    std::string tls12, tls13;
    std::size_t start = 0;
    // Elements are separated by ':' (OpenSSL also takes ',' and spaces).
    for (int guard = 0; start <= text.size() && guard < 4096; ++guard) {
        std::size_t end = text.find_first_of(":, ", start);
        if (end == std::string_view::npos) end = text.size();
        std::string element(text.substr(start, end - start));
        start = end + 1;
        if (element.empty()) {
            if (end == text.size()) break;
            continue;
        }
        const bool is_suite = element.rfind("TLS_", 0) == 0;
        std::string& part = is_suite ? tls13 : tls12;
        if (!part.empty()) part += ':';
        part += element;
        // Removals ("!RC4", "-x"), reorderings ("+x") and directives ("@STRENGTH") may name
        // things that are not there; only what adds ciphers must exist.
        const char first = element[0];
        if (first == '!' || first == '-' || first == '+' || first == '@') continue;
        const int ok = is_suite ? SSL_CTX_set_ciphersuites(probe.get(), element.c_str())
                                : SSL_CTX_set_cipher_list(probe.get(), element.c_str());
        ERR_clear_error();
        if (ok != 1) {
            *error = "unknown or unavailable cipher \"" + element + "\"";
            return std::nullopt;
        }
        if (end == text.size()) break;
    }
    if (!tls12.empty()) {
        if (SSL_CTX_set_cipher_list(probe.get(), tls12.c_str()) != 1) {
            ERR_clear_error();
            *error = "\"" + std::string(text) + "\" selects no cipher";
            return std::nullopt;
        }
        out.tls12 = tls12;
    }
    if (!tls13.empty()) out.tls13 = tls13;
    return out;
}

bool applyCiphers(SSL_CTX* ctx, const CipherSelection& ciphers, std::string* error) {
    ERR_clear_error();
    if (SSL_CTX_set_cipher_list(ctx, ciphers.tls12.c_str()) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, ciphers.tls13.c_str()) != 1) {
        *error = "OpenSSL refused the cipher list: " + takeOpensslError();
        return false;
    }
    return true;
}

}  // namespace postern::tls
