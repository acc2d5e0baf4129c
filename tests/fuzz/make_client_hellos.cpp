// Writes the seed corpus of client_hello_fuzz: real ClientHellos from an OpenSSL client on memory
// BIOs (no network), one file each, named after what they ask for — TLS 1.2 and 1.3, SNI names
// that match the fuzz listener's certificates exactly, by wildcard or not at all, no SNI, ALPN
// lists that overlap its protocols or not, a hello split across two records, a hello with bytes
// after it. Run by hand when the seeds should change:
//   build-fuzz/bin/make_client_hellos tests/fuzz/corpus/client_hello
// (a ClientHello carries fresh random bytes, so every run writes different files).
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct Hello {
    const char* file;
    const char* sni;  // nullptr: no SNI
    std::vector<std::string> alpn;
    int min_version = TLS1_2_VERSION;
    int max_version = TLS1_3_VERSION;
    const char* ciphers = nullptr;  // TLS <= 1.2 cipher list
    const char* groups = nullptr;   // supported groups (the first gets the TLS 1.3 key share)
    const char* sigalgs = nullptr;
};

std::string alpnWire(const std::vector<std::string>& names) {
    std::string wire;
    for (const auto& n : names) wire += static_cast<char>(n.size()) + n;
    return wire;
}

/** The bytes an OpenSSL client sends first (its ClientHello), or "" when it refuses the setup. */
std::string clientHello(const Hello& h) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_security_level(ctx, 0);
    SSL_CTX_set_min_proto_version(ctx, h.min_version);
    SSL_CTX_set_max_proto_version(ctx, h.max_version);
    bool ok = true;
    if (h.ciphers) ok = ok && SSL_CTX_set_cipher_list(ctx, h.ciphers) == 1;
    if (h.groups) ok = ok && SSL_CTX_set1_groups_list(ctx, h.groups) == 1;
    if (h.sigalgs) ok = ok && SSL_CTX_set1_sigalgs_list(ctx, h.sigalgs) == 1;
    const std::string alpn = alpnWire(h.alpn);
    if (!alpn.empty())
        ok = ok && SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()),
                                           static_cast<unsigned int>(alpn.size())) == 0;
    std::string out;
    SSL* ssl = SSL_new(ctx);
    if (ok && ssl) {
        if (h.sni) SSL_set_tlsext_host_name(ssl, h.sni);
        BIO* rbio = BIO_new(BIO_s_mem());
        BIO* wbio = BIO_new(BIO_s_mem());
        BIO_set_mem_eof_return(rbio, -1);
        SSL_set_bio(ssl, rbio, wbio);
        SSL_set_connect_state(ssl);
        SSL_do_handshake(ssl);  // WANT_READ once the hello is written
        char* data = nullptr;
        const long n = BIO_get_mem_data(wbio, &data);
        if (n > 0) out.assign(data, static_cast<std::size_t>(n));
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return out;
}

/** The same hello split into two TLS records after `first` bytes of handshake data. */
std::string splitRecords(const std::string& hello, std::size_t first) {
    if (hello.size() < 5 + first + 1) return hello;
    const std::string body = hello.substr(5);
    auto record = [&](const std::string& part) {
        std::string r = hello.substr(0, 3);
        r += static_cast<char>(part.size() >> 8);
        r += static_cast<char>(part.size() & 0xff);
        return r + part;
    };
    return record(body.substr(0, first)) + record(body.substr(first));
}

bool write(const std::string& dir, const std::string& name, const std::string& bytes) {
    if (bytes.empty()) {
        std::fprintf(stderr, "%s: the client refused this setup\n", name.c_str());
        return false;
    }
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    std::printf("%s (%zu bytes)\n", name.c_str(), bytes.size());
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    const std::string long_name = std::string(60, 'a') + "." + std::string(60, 'b') + "." +
                                  std::string(60, 'c') + "." + std::string(60, 'd') +
                                  ".example.com";
    const std::vector<Hello> hellos = {
        {"tls13_sni_default", "default.test", {"h2", "http/1.1"}},
        {"tls13_sni_exact_rsa", "api.example.com", {"h2"}},
        {"tls13_sni_second_san", "www.example.com", {"http/1.1"}},
        {"tls13_sni_wildcard", "foo.example.com", {"http/1.1", "h2"}},
        {"tls13_sni_wildcard_two_labels", "a.b.example.com", {}},
        {"tls13_sni_wildcard_apex", "example.com", {}},
        {"tls13_sni_unknown", "unknown.invalid", {"h2"}},
        {"tls13_sni_case_trailing_dot", "API.Example.COM.", {"h2"}},
        {"tls13_sni_ip_literal", "127.0.0.1", {}},
        {"tls13_sni_long", long_name.c_str(), {}},
        {"tls13_no_sni", nullptr, {"postgresql"}},
        {"tls13_no_sni_no_alpn", nullptr, {}},
        {"tls13_alpn_no_overlap", "api.example.com", {"imap", "smtp"}},
        {"tls13_alpn_many",
         "foo.example.com",
         {"spdy/3", "acme-tls/1", "mqtt", "http/1.0", "postgresql"}},
        {"tls13_ed25519_wildcard",
         "x.svc.example.net",
         {"postgresql"},
         TLS1_3_VERSION,
         TLS1_3_VERSION,
         nullptr,
         nullptr,
         "ed25519"},
        {"tls13_ed25519_exact",
         "svc.example.net",
         {},
         TLS1_3_VERSION,
         TLS1_3_VERSION,
         nullptr,
         nullptr,
         "ed25519:ecdsa_secp256r1_sha256"},
        {"tls13_p384_key_share",
         "default.test",
         {},
         TLS1_3_VERSION,
         TLS1_3_VERSION,
         nullptr,
         "P-384:X25519"},
        {"tls13_ffdhe_only",
         "default.test",
         {},
         TLS1_3_VERSION,
         TLS1_3_VERSION,
         nullptr,
         "ffdhe2048"},
        {"tls12_sni_exact_rsa",
         "api.example.com",
         {"h2"},
         TLS1_2_VERSION,
         TLS1_2_VERSION,
         "ECDHE-RSA-AES128-GCM-SHA256"},
        {"tls12_sni_wildcard_ecdsa",
         "foo.example.com",
         {"http/1.1"},
         TLS1_2_VERSION,
         TLS1_2_VERSION,
         "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305"},
        {"tls12_no_sni", nullptr, {}, TLS1_2_VERSION, TLS1_2_VERSION},
        {"tls12_cbc_only",
         "default.test",
         {},
         TLS1_2_VERSION,
         TLS1_2_VERSION,
         "ECDHE-ECDSA-AES128-SHA256"},
        {"tls12_rsa_kx",
         "api.example.com",
         {},
         TLS1_2_VERSION,
         TLS1_2_VERSION,
         "AES128-GCM-SHA256"},
        {"tls10_only", "default.test", {}, TLS1_VERSION, TLS1_VERSION, "DEFAULT:@SECLEVEL=0"},
        {"tls11_to_13",
         "www.example.com",
         {"http/1.1"},
         TLS1_1_VERSION,
         TLS1_3_VERSION,
         "DEFAULT:@SECLEVEL=0"},
    };
    int failed = 0;
    for (const auto& h : hellos)
        if (!write(dir, h.file, clientHello(h))) ++failed;
    const Hello split = {"", "foo.example.com", {"h2"}};
    const std::string hello = clientHello(split);
    if (!write(dir, "tls13_split_records", splitRecords(hello, 40))) ++failed;
    if (!write(dir, "tls13_split_in_extensions", splitRecords(hello, hello.size() - 5 - 30)))
        ++failed;
    if (!write(dir, "tls13_trailing_bytes", hello + std::string("\x17\x03\x03\x00\x05hello", 10)))
        ++failed;
    return failed == 0 ? 0 : 1;
}
