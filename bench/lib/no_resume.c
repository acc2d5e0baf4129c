/* LD_PRELOAD shim for wrk in the TLS scenarios (see bench/README.md, "TLS").
 *
 * wrk keeps one SSL object per connection slot and calls SSL_clear() between connections, which
 * keeps the last session: its next SSL_connect() offers that session and the server resumes it
 * (checked with nginx's $ssl_session_reused: 332 of 336 handshakes resumed). A handshake benchmark
 * needs full handshakes only, so this shim drops the session before every new handshake.
 *
 * It also counts what happened and writes it to the file named by POSTERN_BENCH_TLS_REPORT when
 * wrk exits, one JSON object, so the driver can check that no handshake was resumed and that every
 * target negotiated the same parameters:
 *   {"full":N,"resumed":N,"version":"TLSv1.3","cipher":"...","group":"X25519","key":"EC-256"}
 *
 * Built by bench/lib/bench.py at run time: cc -shared -fPIC -O2 no_resume.c -ldl -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long full_count, resumed_count;
static char first_desc[256];

typedef int (*connect_fn)(SSL *);

static void describe(SSL *ssl) {
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    int nid = SSL_get_negotiated_group(ssl);
    const char *group = "none";
    char key[64] = "none";
    X509 *peer = SSL_get0_peer_certificate(ssl);
    if (nid > 0) {
        const char *name = SSL_group_to_name(ssl, nid);
        group = name ? name : OBJ_nid2sn(nid);
    }
    if (peer) {
        EVP_PKEY *pkey = X509_get0_pubkey(peer);
        if (pkey) {
            int id = EVP_PKEY_get_base_id(pkey);
            snprintf(key, sizeof key, "%s-%d",
                     id == EVP_PKEY_EC ? "EC" : id == EVP_PKEY_RSA ? "RSA" : OBJ_nid2sn(id),
                     EVP_PKEY_get_bits(pkey));
        }
    }
    snprintf(first_desc, sizeof first_desc,
             "\"version\":\"%s\",\"cipher\":\"%s\",\"group\":\"%s\",\"key\":\"%s\"",
             SSL_get_version(ssl), cipher ? SSL_CIPHER_get_name(cipher) : "none", group, key);
}

int SSL_connect(SSL *ssl) {
    static connect_fn real;
    if (!real) real = (connect_fn)dlsym(RTLD_NEXT, "SSL_connect");
    /* Only before the ClientHello: later calls continue a non-blocking handshake. */
    if (SSL_in_before(ssl)) SSL_set_session(ssl, NULL);
    int rc = real(ssl);
    if (rc == 1) {
        if (SSL_session_reused(ssl))
            __atomic_fetch_add(&resumed_count, 1, __ATOMIC_RELAXED);
        else
            __atomic_fetch_add(&full_count, 1, __ATOMIC_RELAXED);
        if (!first_desc[0]) describe(ssl);
    }
    return rc;
}

__attribute__((destructor)) static void write_report(void) {
    const char *path = getenv("POSTERN_BENCH_TLS_REPORT");
    if (!path || !*path) return;
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "{\"full\":%lu,\"resumed\":%lu%s%s}\n", full_count, resumed_count,
            first_desc[0] ? "," : "", first_desc);
    fclose(f);
}
