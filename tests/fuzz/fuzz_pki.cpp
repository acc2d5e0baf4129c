#include "fuzz_pki.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>

namespace postern::fuzz {

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_pki: %s failed\n", what);
    std::abort();
}

template <typename T>
T* must(T* p, const char* what) {
    if (!p) fail(what);
    return p;
}

struct KeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
    void operator()(X509* c) const { X509_free(c); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

KeyPtr newKey(KeyKind kind) {
    switch (kind) {
        case KeyKind::EcdsaP256:
            return KeyPtr(must(EVP_EC_gen("P-256"), "EVP_EC_gen"));
        case KeyKind::Rsa2048:
            return KeyPtr(must(EVP_RSA_gen(2048), "EVP_RSA_gen"));
        case KeyKind::Ed25519:
            return KeyPtr(must(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), "ed25519 keygen"));
    }
    fail("key kind");
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext =
        must(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()), "X509V3_EXT_conf_nid");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

std::string pemOf(X509* cert) {
    BIO* bio = must(BIO_new(BIO_s_mem()), "BIO_new");
    if (PEM_write_bio_X509(bio, cert) != 1) fail("PEM_write_bio_X509");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

std::string pemOf(EVP_PKEY* key) {
    BIO* bio = must(BIO_new(BIO_s_mem()), "BIO_new");
    if (PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
        fail("PEM_write_bio_PrivateKey");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

/** An unsigned certificate for `key` with subject CN = `cn`, issued by `issuer` (self-issued when
 * `issuer` is null). */
CertPtr makeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, long serial) {
    CertPtr cert(must(X509_new(), "X509_new"));
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3650L * 24 * 3600);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(cert.get(), key);
    return cert;
}

void sign(X509* cert, EVP_PKEY* key) {
    // Ed25519 signs without a separate digest.
    const EVP_MD* md = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
    if (X509_sign(cert, key, md) <= 0) fail("X509_sign");
}

std::once_flag& cleanupOnce() {
    static std::once_flag once;
    return once;
}

std::vector<std::filesystem::path>& tempDirs() {
    static auto* dirs = new std::vector<std::filesystem::path>();
    return *dirs;
}

}  // namespace

FuzzPki::FuzzPki() {
    KeyPtr key = newKey(KeyKind::EcdsaP256);
    CertPtr cert = makeCert(key.get(), "postern fuzz CA", nullptr, 1);
    addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    addExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    sign(cert.get(), key.get());
    ca_ = {pemOf(cert.get()), pemOf(key.get())};
}

PemPair FuzzPki::issue(const std::vector<std::string>& names, KeyKind kind, bool server) const {
    BIO* bio = must(BIO_new_mem_buf(ca_.cert.data(), static_cast<int>(ca_.cert.size())),
                    "BIO_new_mem_buf");
    CertPtr ca_cert(must(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr), "PEM_read_bio_X509"));
    BIO_free(bio);
    bio =
        must(BIO_new_mem_buf(ca_.key.data(), static_cast<int>(ca_.key.size())), "BIO_new_mem_buf");
    KeyPtr ca_key(
        must(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr), "PEM_read_bio_PrivateKey"));
    BIO_free(bio);

    static long serial = 100;
    KeyPtr key = newKey(kind);
    CertPtr cert =
        makeCert(key.get(), names.empty() ? "leaf" : names.front(), ca_cert.get(), ++serial);
    addExtension(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                 server ? "serverAuth" : "clientAuth");
    if (!names.empty()) {
        std::string san;
        for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
        addExtension(cert.get(), ca_cert.get(), NID_subject_alt_name, san);
    }
    sign(cert.get(), ca_key.get());
    return {pemOf(cert.get()), pemOf(key.get())};
}

std::string encryptedKey(const std::string& key_pem, const std::string& passphrase) {
    BIO* bio =
        must(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), "BIO_new_mem_buf");
    KeyPtr key(
        must(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr), "PEM_read_bio_PrivateKey"));
    BIO_free(bio);
    bio = must(BIO_new(BIO_s_mem()), "BIO_new");
    if (PEM_write_bio_PrivateKey(bio, key.get(), EVP_aes_256_cbc(),
                                 reinterpret_cast<const unsigned char*>(passphrase.data()),
                                 static_cast<int>(passphrase.size()), nullptr, nullptr) != 1)
        fail("PEM_write_bio_PrivateKey (encrypted)");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

std::filesystem::path makeTempDir(const char* prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/" + prefix + "XXXXXX";
    if (!::mkdtemp(templ.data())) fail("mkdtemp");
    tempDirs().push_back(templ);
    std::call_once(cleanupOnce(), [] {
        std::atexit([] {
            std::error_code ec;
            for (const auto& dir : tempDirs()) std::filesystem::remove_all(dir, ec);
        });
    });
    return templ;
}

void writeFile(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
    if (!out.flush()) fail("writeFile");
}

}  // namespace postern::fuzz
