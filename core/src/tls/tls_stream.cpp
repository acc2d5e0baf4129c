#include "tls/tls_stream.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <climits>
#include <cstring>
#ifndef _WIN32
#include <sys/socket.h>
#endif

#include "tls/openssl_util.h"
#ifdef _WIN32
#include "net/wsapoll_edges.h"
#endif

namespace postern::tls {

// The thread's error queue is kept empty by every failure path here (classify() drains it), so
// SSL_get_error() is reliable without an ERR_clear_error() before each call on the data path.

TlsStream::~TlsStream() { SSL_free(ssl_); }

#ifndef _WIN32
// A socket BIO of our own, the size of OpenSSL's but for two things the event loop needs: it
// records whether a read drained the socket (a short read, or EAGAIN), and it sends with
// MSG_NOSIGNAL. With read-ahead on (context_setup), one recv takes every record waiting, and a
// short one ends the read loop without the extra recv that would only say EAGAIN: a TLS
// keep-alive request costs one read instead of three (header, body, EAGAIN).
struct SocketBio {
    static int read(BIO* b, char* out, int len) {
        auto* s = static_cast<TlsStream*>(BIO_get_data(b));
        BIO_clear_retry_flags(b);
        // EINTR is retried here: reported as "retry", it would end in WANT_READ, and the caller
        // would wait for an edge that bytes already in the socket never raise.
        ssize_t n;
        do n = ::recv(s->fd_, out, static_cast<std::size_t>(len), 0);
        while (n < 0 && errno == EINTR);
        if (n > 0) {
            s->drained_ = n < len;
            return static_cast<int>(n);
        }
        s->drained_ = true;
        if (n == 0) {
            s->eof_ = true;
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
        return -1;  // errno stays for SSL_ERROR_SYSCALL (classify)
    }

    static int write(BIO* b, const char* in, int len) {
        auto* s = static_cast<TlsStream*>(BIO_get_data(b));
        BIO_clear_retry_flags(b);
        ssize_t n;
        do n = ::send(s->fd_, in, static_cast<std::size_t>(len), MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        if (n >= 0) return static_cast<int>(n);
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
        return -1;
    }

    static int puts(BIO* b, const char* str) { return write(b, str, static_cast<int>(std::strlen(str))); }

    static long ctrl(BIO* b, int cmd, long, void* ptr) {
        auto* s = static_cast<TlsStream*>(BIO_get_data(b));
        switch (cmd) {
            case BIO_CTRL_FLUSH: return 1;
            case BIO_CTRL_EOF: return s->eof_ ? 1 : 0;
            case BIO_C_GET_FD:
                if (ptr) *static_cast<int*>(ptr) = s->fd_;
                return s->fd_;
            default: return 0;
        }
    }

    static const BIO_METHOD* method() {
        static BIO_METHOD* const m = [] {
            BIO_METHOD* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                            "postern socket");
            if (meth) {
                BIO_meth_set_read(meth, &SocketBio::read);
                BIO_meth_set_write(meth, &SocketBio::write);
                BIO_meth_set_puts(meth, &SocketBio::puts);
                BIO_meth_set_ctrl(meth, &SocketBio::ctrl);
            }
            return meth;  // lives for the process, like OpenSSL's own methods
        }();
        return m;
    }
};

bool TlsStream::bindSocket(net::Fd fd) {
    fd_ = fd;
    const BIO_METHOD* m = SocketBio::method();
    BIO* bio = m ? BIO_new(m) : nullptr;
    if (!bio) {
        ERR_clear_error();
        return false;
    }
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_, bio, bio);  // one reference, owned by ssl_ for both directions
    return true;
}
#else
bool TlsStream::bindSocket(net::Fd fd) {
    fd_ = fd;
    if (SSL_set_fd(ssl_, static_cast<int>(fd)) != 1) {
        ERR_clear_error();
        return false;
    }
    return true;
}
#endif

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
