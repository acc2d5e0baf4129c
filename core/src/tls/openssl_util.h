// Small OpenSSL helpers shared by the tls folder: owning pointers for OpenSSL objects, and the
// thread's error queue turned into one readable message. Any thread (OpenSSL's error queue is
// per thread).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace postern::tls {

struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct EvpPkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct SslCtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

/** The reason of the oldest error in this thread's queue ("" when empty); empties the queue. */
std::string takeOpensslError();

}  // namespace postern::tls
