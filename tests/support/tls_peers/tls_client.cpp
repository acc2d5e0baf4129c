#include "tls_peers/tls_client.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <climits>
#include <stdexcept>
#include <utility>

namespace postern::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string lastError() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

int remainingMs(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

/** Classification of a failed SSL call for the caller's loop. */
enum class Step { Retry, Eof, Reset, Error };

Step classify(SSL* ssl, int ret) {
    const int err = SSL_get_error(ssl, ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Step::Retry;
    if (err == SSL_ERROR_ZERO_RETURN) return Step::Eof;
    if (err == SSL_ERROR_SYSCALL) {
        ERR_clear_error();
        if (errno == ECONNRESET || errno == EPIPE) return Step::Reset;
        return errno == 0 ? Step::Eof : Step::Error;
    }
    ERR_clear_error();
    return Step::Error;
}

}  // namespace

void ignoreSigpipe() {
    // OpenSSL writes to sockets with write(2): a peer that is gone must not kill the test.
    static const bool done = [] {
        ::signal(SIGPIPE, SIG_IGN);
        return true;
    }();
    (void)done;
}

std::shared_ptr<SSL_CTX> makeTlsClientContext(const TlsClientOptions& o) {
    ignoreSigpipe();
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx) throw std::runtime_error("SSL_CTX_new: " + lastError());
    SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    if (o.min_version) SSL_CTX_set_min_proto_version(ctx.get(), o.min_version);
    if (o.max_version) SSL_CTX_set_max_proto_version(ctx.get(), o.max_version);
    if (!o.ca.empty()) {
        if (SSL_CTX_load_verify_locations(ctx.get(), o.ca.c_str(), nullptr) != 1)
            throw std::runtime_error("cannot load CA " + o.ca.string() + ": " + lastError());
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    }
    if (!o.cert.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx.get(), o.key.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("cannot load client certificate " + o.cert.string() + ": " + lastError());
    }
    if (!o.alpn.empty()) {
        std::string wire;
        for (const auto& p : o.alpn) {
            wire += static_cast<char>(p.size());
            wire += p;
        }
        SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size()));
    }
    return ctx;
}

TlsClient::~TlsClient() {
    if (ssl_) SSL_free(ssl_);
}

TlsClient::TlsClient(TlsClient&& other) noexcept
    : tcp_(std::move(other.tcp_)), ssl_(std::exchange(other.ssl_, nullptr)), error_(std::move(other.error_)) {}

TlsClient& TlsClient::operator=(TlsClient&& other) noexcept {
    if (this != &other) {
        if (ssl_) SSL_free(ssl_);
        tcp_ = std::move(other.tcp_);
        ssl_ = std::exchange(other.ssl_, nullptr);
        error_ = std::move(other.error_);
    }
    return *this;
}

bool TlsClient::waitFor(int err, Clock::time_point deadline) const {
    pollfd p{tcp_.fd(), static_cast<short>(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0};
    for (int i = 0; i < 100000; ++i) {
        const int rc = ::poll(&p, 1, remainingMs(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) return true;  // let the SSL call report the error
    }
    return false;
}

TlsClient TlsClient::connect(std::string_view ip, std::uint16_t port, const std::shared_ptr<SSL_CTX>& ctx,
                             std::string_view sni, Millis timeout, std::string_view verify_name,
                             SSL_SESSION* resume) {
    TlsClient c;
    const auto deadline = Clock::now() + timeout;
    c.tcp_ = BlockingClient::connect(ip, port, timeout);
    if (!c.tcp_.connected()) {
        c.error_ = "connect: errno " + std::to_string(c.tcp_.error());
        return c;
    }
    c.ssl_ = SSL_new(ctx.get());
    SSL_set_fd(c.ssl_, c.tcp_.fd());
    SSL_set_connect_state(c.ssl_);
    const std::string name(sni);
    if (!name.empty()) SSL_set_tlsext_host_name(c.ssl_, name.c_str());
    const std::string check(verify_name.empty() ? sni : verify_name);
    if (!check.empty()) {
        X509_VERIFY_PARAM* param = SSL_get0_param(c.ssl_);
        if (X509_VERIFY_PARAM_set1_ip_asc(param, check.c_str()) != 1) {
            ERR_clear_error();
            X509_VERIFY_PARAM_set1_host(param, check.c_str(), check.size());
        }
    }
    if (resume) SSL_set_session(c.ssl_, resume);
    for (int i = 0; i < 100000; ++i) {
        ERR_clear_error();
        const int ret = SSL_do_handshake(c.ssl_);
        if (ret == 1) return c;
        const int err = SSL_get_error(c.ssl_, ret);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (!c.waitFor(err, deadline)) {
                c.error_ = "handshake timeout";
                return c;
            }
            continue;
        }
        const long verify = SSL_get_verify_result(c.ssl_);
        c.error_ = verify != X509_V_OK ? std::string("certificate verify failed: ") +
                                             X509_verify_cert_error_string(verify)
                                       : "handshake failed: " + lastError();
        ERR_clear_error();
        return c;
    }
    c.error_ = "handshake did not finish";
    return c;
}

std::string TlsClient::peerCommonName() const {
    if (!ssl_) return {};
    X509* peer = SSL_get0_peer_certificate(ssl_);
    if (!peer) return {};
    char cn[256] = {0};
    const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
    return n > 0 ? std::string(cn, static_cast<std::size_t>(n)) : std::string();
}

std::string TlsClient::version() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

std::string TlsClient::alpn() const {
    if (!ssl_) return {};
    const unsigned char* p = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl_, &p, &len);
    return p ? std::string(reinterpret_cast<const char*>(p), len) : std::string();
}

bool TlsClient::resumed() const { return ssl_ && SSL_session_reused(ssl_) == 1; }

SSL_SESSION* TlsClient::takeSession(Millis timeout) {
    if (!ssl_) return nullptr;
    // TLS 1.3 tickets arrive after the handshake: a zero-byte read lets OpenSSL process them.
    const auto deadline = Clock::now() + timeout;
    for (int i = 0; i < 1000 && Clock::now() < deadline; ++i) {
        SSL_SESSION* s = SSL_get1_session(ssl_);
        if (s && SSL_SESSION_is_resumable(s)) return s;
        if (s) SSL_SESSION_free(s);
        char byte;
        const int ret = SSL_peek(ssl_, &byte, 1);
        if (ret <= 0 && classify(ssl_, ret) != Step::Retry) break;
        if (ret <= 0) waitFor(SSL_ERROR_WANT_READ, std::min(deadline, Clock::now() + Millis(50)));
    }
    return nullptr;
}

IoStatus TlsClient::sendAll(std::string_view data, Millis timeout) {
    if (!ssl_) return IoStatus::Error;
    const auto deadline = Clock::now() + timeout;
    std::size_t sent = 0;
    for (int i = 0; i < 10000000 && sent < data.size(); ++i) {
        const int n = SSL_write(ssl_, data.data() + sent,
                                static_cast<int>(std::min<std::size_t>(data.size() - sent, INT_MAX)));
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        const int err = SSL_get_error(ssl_, n);
        switch (classify(ssl_, n)) {
            case Step::Retry:
                if (!waitFor(err, deadline)) return IoStatus::Timeout;
                continue;
            case Step::Reset: return IoStatus::Reset;
            case Step::Eof: return IoStatus::Eof;
            case Step::Error: return IoStatus::Error;
        }
    }
    return sent == data.size() ? IoStatus::Ok : IoStatus::Timeout;
}

RecvResult TlsClient::recvExactly(std::size_t n, Millis timeout) {
    RecvResult r;
    if (!ssl_) {
        r.status = IoStatus::Error;
        return r;
    }
    const auto deadline = Clock::now() + timeout;
    char buf[16384];
    for (int i = 0; i < 10000000 && r.data.size() < n; ++i) {
        const int want = static_cast<int>(std::min(sizeof buf, n - r.data.size()));
        const int got = SSL_read(ssl_, buf, want);
        if (got > 0) {
            r.data.append(buf, static_cast<std::size_t>(got));
            continue;
        }
        const int err = SSL_get_error(ssl_, got);
        switch (classify(ssl_, got)) {
            case Step::Retry:
                if (!waitFor(err, deadline)) {
                    r.status = IoStatus::Timeout;
                    return r;
                }
                continue;
            case Step::Eof: r.status = IoStatus::Eof; return r;
            case Step::Reset: r.status = IoStatus::Reset; return r;
            case Step::Error: r.status = IoStatus::Error; return r;
        }
    }
    return r;
}

RecvResult TlsClient::recvAll(Millis timeout) {
    auto r = recvExactly(static_cast<std::size_t>(-1) / 2, timeout);
    return r;
}

RecvResult TlsClient::exchange(std::string_view out, std::size_t expect_in, Millis timeout, bool close_after) {
    RecvResult r;
    if (!ssl_) {
        r.status = IoStatus::Error;
        return r;
    }
    const auto deadline = Clock::now() + timeout;
    std::size_t sent = 0;
    bool closed = false;
    char buf[16384];
    for (int i = 0; i < 100000000; ++i) {
        bool progress = false;
        if (sent < out.size()) {
            const int n = SSL_write(ssl_, out.data() + sent,
                                    static_cast<int>(std::min<std::size_t>(out.size() - sent, 64 * 1024)));
            if (n > 0) {
                sent += static_cast<std::size_t>(n);
                progress = true;
            } else if (classify(ssl_, n) != Step::Retry) {
                r.status = IoStatus::Reset;
                return r;
            }
        } else if (close_after && !closed) {
            if (closeWrite(Millis(remainingMs(deadline))) != IoStatus::Ok) {
                r.status = IoStatus::Error;
                return r;
            }
            closed = true;
        }
        if (r.data.size() < expect_in) {
            const int got = SSL_read(ssl_, buf, sizeof buf);
            if (got > 0) {
                r.data.append(buf, static_cast<std::size_t>(got));
                progress = true;
            } else {
                switch (classify(ssl_, got)) {
                    case Step::Retry: break;
                    case Step::Eof: r.status = IoStatus::Eof; return r;
                    case Step::Reset: r.status = IoStatus::Reset; return r;
                    case Step::Error: r.status = IoStatus::Error; return r;
                }
            }
        }
        if (r.data.size() >= expect_in && sent == out.size() && (!close_after || closed)) return r;
        if (progress) continue;
        if (Clock::now() >= deadline) {
            r.status = IoStatus::Timeout;
            return r;
        }
        pollfd p{tcp_.fd(), static_cast<short>(POLLIN | (sent < out.size() ? POLLOUT : 0)), 0};
        ::poll(&p, 1, std::min(remainingMs(deadline), 100));
    }
    r.status = IoStatus::Timeout;
    return r;
}

IoStatus TlsClient::closeWrite(Millis timeout) {
    if (!ssl_) return IoStatus::Error;
    const auto deadline = Clock::now() + timeout;
    for (int i = 0; i < 100000; ++i) {
        const int ret = SSL_shutdown(ssl_);
        if (ret >= 0) break;
        const int err = SSL_get_error(ssl_, ret);
        if (classify(ssl_, ret) != Step::Retry) return IoStatus::Error;
        if (err == SSL_ERROR_WANT_READ) break;  // the alert is out; it waits for the peer's
        if (!waitFor(err, deadline)) return IoStatus::Timeout;
    }
    ::shutdown(tcp_.fd(), SHUT_WR);
    return IoStatus::Ok;
}

}  // namespace postern::test
