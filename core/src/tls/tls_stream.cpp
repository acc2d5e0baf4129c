#include "tls/tls_stream.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <climits>

#include "tls/openssl_util.h"
#ifdef _WIN32
#include "net/wsapoll_edges.h"
#endif

namespace postern::tls {

// The thread's error queue is kept empty by every failure path here (classify() drains it), so
// SSL_get_error() is reliable without an ERR_clear_error() before each call on the data path.

TlsStream::~TlsStream() { SSL_free(ssl_); }

net::IoStatus TlsStream::classify(int ret, const char* what) {
    const int saved_errno = errno;
    // Handshake failures read best without a prefix ("no shared cipher"); I/O ones say which call.
    const std::string prefix = *what ? std::string(what) + ": " : std::string();
    const int err = SSL_get_error(ssl_, ret);
    switch (err) {
        case SSL_ERROR_WANT_READ:
            want_ = Want::Read;
#ifdef _WIN32
            // OpenSSL's socket BIO bypasses net::recvSome: re-arm WSAPoll's emulated edge here.
            net::detail::noteWouldBlock(static_cast<net::Fd>(SSL_get_fd(ssl_)), net::detail::kReadEdge);
#endif
            return net::IoStatus::WouldBlock;
        case SSL_ERROR_WANT_WRITE:
            want_ = Want::Write;
#ifdef _WIN32
            net::detail::noteWouldBlock(static_cast<net::Fd>(SSL_get_fd(ssl_)), net::detail::kWriteEdge);
#endif
            return net::IoStatus::WouldBlock;
        case SSL_ERROR_ZERO_RETURN:
            want_ = Want::Nothing;
            ERR_clear_error();
            return net::IoStatus::Eof;
        case SSL_ERROR_SYSCALL: {
            want_ = Want::Nothing;
            fatal_ = true;
            std::string reason = takeOpensslError();
            if (saved_errno == ECONNRESET || saved_errno == EPIPE || saved_errno == ECONNABORTED ||
                saved_errno == ETIMEDOUT) {
                failure_ = prefix + net::errorText(saved_errno);
                return net::IoStatus::Reset;
            }
            if (saved_errno == 0 && reason.empty()) {
                failure_ = prefix + "connection closed by the peer";
                return net::IoStatus::Eof;
            }
            failure_ = prefix + (reason.empty() ? net::errorText(saved_errno) : reason);
            return net::IoStatus::Error;
        }
        default: {
            want_ = Want::Nothing;
            fatal_ = true;
            const long verify = SSL_get_verify_result(ssl_);
            std::string reason = takeOpensslError();
            if (verify != X509_V_OK) {
                failure_ = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
            } else {
                failure_ = prefix + (reason.empty() ? "TLS protocol error" : reason);
            }
            return net::IoStatus::Error;
        }
    }
}

net::IoStatus TlsStream::handshake() {
    const int ret = SSL_do_handshake(ssl_);
    if (ret == 1) {
        want_ = Want::Nothing;
        return net::IoStatus::Ok;
    }
    net::IoStatus status = classify(ret, "");
    if (status == net::IoStatus::Eof) {
        // A close in the middle of a handshake is a failed handshake, not an end of stream.
        failure_ = "connection closed during the handshake";
        fatal_ = true;
        return net::IoStatus::Error;
    }
    return status;
}

net::IoResult TlsStream::read(char* buf, std::size_t len) {
    const int n = SSL_read(ssl_, buf, static_cast<int>(len > INT_MAX ? INT_MAX : len));
    if (n > 0) return {net::IoStatus::Ok, static_cast<std::size_t>(n), 0};
    return {classify(n, "read"), 0, 0};
}

net::IoResult TlsStream::write(const char* buf, std::size_t len) {
    const int n = SSL_write(ssl_, buf, static_cast<int>(len > INT_MAX ? INT_MAX : len));
    if (n > 0) return {net::IoStatus::Ok, static_cast<std::size_t>(n), 0};
    net::IoStatus status = classify(n, "write");
    if (status == net::IoStatus::Eof) status = net::IoStatus::Reset;
    return {status, 0, 0};
}

net::IoStatus TlsStream::shutdown() {
    if (fatal_ || close_sent_ || !established()) return net::IoStatus::Ok;
    // Called again only while the alert is still queued (WouldBlock): SSL_shutdown then just
    // flushes it. Once it is out, never call it again: it would start reading (and discarding)
    // the peer's remaining data while waiting for the peer's close_notify.
    const int ret = SSL_shutdown(ssl_);
    if (ret >= 0) {
        close_sent_ = true;
        return net::IoStatus::Ok;
    }
    net::IoStatus status = classify(ret, "shutdown");
    if (status == net::IoStatus::WouldBlock && want_ == Want::Write) return status;
    close_sent_ = true;
    return status == net::IoStatus::WouldBlock || status == net::IoStatus::Eof ? net::IoStatus::Ok : status;
}

std::string_view TlsStream::serverName() const {
    const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
    return name ? std::string_view(name) : std::string_view();
}

std::string_view TlsStream::cipher() const {
    const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
    const char* name = c ? SSL_CIPHER_get_name(c) : nullptr;
    return name ? std::string_view(name) : std::string_view();
}

std::string TlsStream::peerCommonName() const {
    X509* peer = SSL_get0_peer_certificate(ssl_);
    if (!peer) return {};
    char cn[256] = {0};
    const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    ERR_clear_error();
    return n > 0 ? std::string(cn, static_cast<std::size_t>(n)) : std::string();
}

std::string_view TlsStream::alpn() const {
    const unsigned char* proto = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &proto, &len);
    return proto ? std::string_view(reinterpret_cast<const char*>(proto), len) : std::string_view();
}

}  // namespace postern::tls
