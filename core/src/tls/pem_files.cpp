#include "tls/pem_files.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace postern::tls {

namespace {

std::string quoted(const FileRef& f) { return "\"" + (f.shown.empty() ? f.path : f.shown) + "\""; }

/** The whole file, or nullopt with "cannot read \"x\": <OS reason>". */
std::optional<std::string> readAll(const FileRef& file, std::string* error) {
    errno = 0;
    std::FILE* f = std::fopen(file.path.c_str(), "rb");
    if (!f) {
        *error = "cannot read " + quoted(file) + ": " + (errno ? std::strerror(errno) : "cannot open it");
        return std::nullopt;
    }
    std::string text;
    char buf[8192];
    std::size_t n = 0;
    // Bounded: certificate material is small; a 16 MiB file is not a PEM bundle anyone means.
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text.size() < (16u << 20)) text.append(buf, n);
    const bool failed = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (failed) {
        *error = "cannot read " + quoted(file) + ": " + (err == EISDIR ? "it is a directory" : std::strerror(err));
        return std::nullopt;
    }
    return text;
}

BioPtr memoryBio(const std::string& text) {
    return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

/** Reads every certificate of `text`; *bad_reason set when a PEM certificate block is corrupt. */
std::vector<X509Ptr> readCertificates(const std::string& text, std::string* bad_reason) {
    std::vector<X509Ptr> out;
    BioPtr bio = memoryBio(text);
    ERR_clear_error();
    for (int i = 0; bio && i < 1000; ++i) {
        X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
        if (!x) {
            unsigned long e = ERR_peek_last_error();
            // "no start line" after the last block is the normal end of the file.
            if (!(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
                *bad_reason = takeOpensslError();
                if (bad_reason->empty()) *bad_reason = "unreadable PEM data";
            }
            ERR_clear_error();
            break;
        }
        out.emplace_back(x);
    }
    return out;
}

int refusePassphrase(char*, int, int, void* asked) {
    *static_cast<bool*>(asked) = true;
    return -1;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::chrono::system_clock::time_point toTimePoint(const ASN1_TIME* t) {
    std::tm tm{};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
#ifdef _WIN32
    return std::chrono::system_clock::from_time_t(_mkgmtime(&tm));
#else
    return std::chrono::system_clock::from_time_t(timegm(&tm));
#endif
}

std::string keyTypeOf(X509* cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (!key) return "unknown";
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA: return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
        case EVP_PKEY_EC: {
            char group[64] = {0};
            std::size_t len = 0;
            if (EVP_PKEY_get_group_name(key, group, sizeof group, &len) != 1) return "EC";
            const char* nist = EC_curve_nid2nist(OBJ_sn2nid(group));
            return std::string("EC ") + (nist ? nist : group);
        }
        case EVP_PKEY_ED25519: return "ED25519";
        case EVP_PKEY_ED448: return "ED448";
        default: return OBJ_nid2sn(EVP_PKEY_get_base_id(key));
    }
}

}  // namespace

std::optional<CertificateChain> loadCertificateChain(const FileRef& file, std::string* error) {
    // The same reading and checks as a CA bundle; the first certificate is the leaf.
    auto certs = loadCaBundle(file, error);
    if (!certs) return std::nullopt;
    CertificateChain chain;
    chain.leaf = std::move(certs->front());
    for (std::size_t i = 1; i < certs->size(); ++i) chain.intermediates.push_back(std::move((*certs)[i]));
    return chain;
}

EvpPkeyPtr loadPrivateKey(const FileRef& file, std::string* error) {
    auto text = readAll(file, error);
    if (!text) return nullptr;
    BioPtr bio = memoryBio(*text);
    bool asked = false;
    ERR_clear_error();
    EvpPkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, &refusePassphrase, &asked) : nullptr);
    std::string reason = takeOpensslError();
    if (key) return key;
    if (asked)
        *error = quoted(file) + " is encrypted (encrypted private keys are not supported)";
    else if (text->find("PRIVATE KEY-----") == std::string::npos)
        *error = quoted(file) + " contains no PEM private key";
    else
        *error = quoted(file) + ": bad PEM private key" + (reason.empty() ? "" : ": " + reason);
    return nullptr;
}

std::optional<std::vector<X509Ptr>> loadCaBundle(const FileRef& file, std::string* error) {
    auto text = readAll(file, error);
    if (!text) return std::nullopt;
    std::string bad;
    auto certs = readCertificates(*text, &bad);
    if (!bad.empty()) {
        *error = quoted(file) + ": bad PEM certificate: " + bad;
        return std::nullopt;
    }
    if (certs.empty()) {
        *error = quoted(file) + " contains no PEM certificate";
        return std::nullopt;
    }
    return certs;
}

CertificateInfo describeCertificate(X509* cert) {
    CertificateInfo info;
    if (!cert) return info;
    if (X509_NAME* subject = X509_get_subject_name(cert)) {
        BioPtr out(BIO_new(BIO_s_mem()));
        if (out && X509_NAME_print_ex(out.get(), subject, 0, XN_FLAG_RFC2253) >= 0) {
            char* data = nullptr;
            long len = BIO_get_mem_data(out.get(), &data);
            if (data && len > 0) info.subject.assign(data, static_cast<std::size_t>(len));
        }
        char cn[256] = {0};
        int n = X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn);
        if (n > 0) info.common_name = lower(std::string(cn, static_cast<std::size_t>(n)));
    }
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (names) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
            if (name->type != GEN_DNS) continue;
            const ASN1_IA5STRING* dns = name->d.dNSName;
            info.dns_names.push_back(lower(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                                       static_cast<std::size_t>(ASN1_STRING_length(dns)))));
        }
        GENERAL_NAMES_free(names);
    }
    info.key_type = keyTypeOf(cert);
    info.not_after = toTimePoint(X509_get0_notAfter(cert));
    info.not_before = toTimePoint(X509_get0_notBefore(cert));
    return info;
}

std::vector<std::string> serverNamesOf(const CertificateInfo& info) {
    if (!info.dns_names.empty()) return info.dns_names;
    if (!info.common_name.empty()) return {info.common_name};
    return {};
}

std::string formatUtc(std::chrono::system_clock::time_point t) {
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
#ifdef _WIN32
    gmtime_s(&tm, &tt);
#else
    gmtime_r(&tt, &tm);
#endif
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace postern::tls
