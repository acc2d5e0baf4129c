#include "tls_peers/tls_echo_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tls_peers/tls_client.h"

namespace postern::test {

namespace {

std::string lastError() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

/** Blocks until the fd is ready for what `err` asks, the server stops, or 10 s pass. */
bool waitReady(int fd, int err, int wake_fd) {
    pollfd p[2] = {{fd, static_cast<short>(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN), 0}, {wake_fd, POLLIN, 0}};
    for (int i = 0; i < 1000; ++i) {
        const int rc = ::poll(p, 2, 10000);
        if (rc > 0) return (p[1].revents & POLLIN) == 0;
        if (rc == 0) return false;
        if (errno != EINTR) return false;
    }
    return false;
}

}  // namespace

TlsEchoServer::TlsEchoServer(TlsEchoOptions options, std::string ip) : options_(std::move(options)), ip_(std::move(ip)) {
    ignoreSigpipe();
    ctx_.reset(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
    if (!ctx_) throw std::runtime_error("SSL_CTX_new: " + lastError());
    SSL_CTX_set_options(ctx_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_use_certificate_chain_file(ctx_.get(), options_.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_.get(), options_.key.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("TlsEchoServer: cannot load " + options_.cert.string() + ": " + lastError());
    if (!options_.client_ca.empty()) {
        if (SSL_CTX_load_verify_locations(ctx_.get(), options_.client_ca.c_str(), nullptr) != 1)
            throw std::runtime_error("TlsEchoServer: cannot load " + options_.client_ca.string() + ": " + lastError());
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    if (::inet_pton(AF_INET, ip_.c_str(), &addr.sin_addr) != 1) throw std::runtime_error("TlsEchoServer: bad ip " + ip_);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 256) != 0) {
        const int e = errno;
        if (listen_fd_ >= 0) ::close(listen_fd_);
        throw std::runtime_error(std::string("TlsEchoServer: cannot listen: ") + std::strerror(e));
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("TlsEchoServer: pipe");
    accept_thread_ = std::thread([this] { acceptLoop(); });
}

TlsEchoServer::~TlsEchoServer() {
    stopping_ = true;
    (void)!::write(wake_[1], "x", 1);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::list<std::unique_ptr<Connection>> connections;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        connections.swap(connections_);
    }
    for (auto& c : connections) {
        if (c->thread.joinable()) c->thread.join();
    }
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
}

std::string TlsEchoServer::lastSni() const {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mutex_));
    return last_sni_;
}

std::string TlsEchoServer::lastClientCommonName() const {
    std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mutex_));
    return last_client_cn_;
}

bool TlsEchoServer::waitForHandshakes(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return handshake_cv_.wait_for(lock, timeout, [&] { return handshakes_.load() >= n; });
}

void TlsEchoServer::acceptLoop() {
    for (int i = 0; i < 1000000 && !stopping_; ++i) {
        pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        if (::poll(p, 2, -1) < 0 && errno != EINTR) return;
        if (p[1].revents & POLLIN) return;
        if (!(p[0].revents & POLLIN)) continue;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) continue;
        ++accepted_;
        std::lock_guard<std::mutex> lock(mutex_);
        // Reap finished connections so a long test does not accumulate threads.
        for (auto it = connections_.begin(); it != connections_.end();) {
            if ((*it)->done) {
                (*it)->thread.join();
                it = connections_.erase(it);
            } else {
                ++it;
            }
        }
        auto c = std::make_unique<Connection>();
        c->fd = fd;
        Connection* raw = c.get();
        connections_.push_back(std::move(c));
        raw->thread = std::thread([this, raw] { serve(*raw); });
    }
}

void TlsEchoServer::serve(Connection& c) {
    SSL* ssl = SSL_new(ctx_.get());
    SSL_set_fd(ssl, c.fd);
    SSL_set_accept_state(ssl);
    bool ok = false;
    for (int i = 0; i < 100000 && !stopping_; ++i) {
        const int ret = SSL_do_handshake(ssl);
        if (ret == 1) {
            ok = true;
            break;
        }
        const int err = SSL_get_error(ssl, ret);
        if ((err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) || !waitReady(c.fd, err, wake_[0])) break;
    }
    ERR_clear_error();
    if (!ok) {
        ++failed_;
    } else {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            ++handshakes_;
            const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
            last_sni_ = sni ? sni : "";
            last_client_cn_.clear();
            if (X509* peer = SSL_get0_peer_certificate(ssl)) {
                char cn[256] = {0};
                if (X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn) > 0)
                    last_client_cn_ = cn;
            }
        }
        handshake_cv_.notify_all();
        std::string out = options_.id.empty() ? std::string() : options_.id + "\n";
        char buf[16384];
        bool eof = false;
        for (int i = 0; i < 10000000 && !stopping_; ++i) {
            int err = SSL_ERROR_WANT_READ;
            if (!out.empty()) {
                const int n = SSL_write(ssl, out.data(), static_cast<int>(out.size()));
                if (n > 0) {
                    out.erase(0, static_cast<std::size_t>(n));
                    continue;
                }
                err = SSL_get_error(ssl, n);
                if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) break;
            } else if (eof) {
                SSL_shutdown(ssl);
                break;
            } else {
                const int n = SSL_read(ssl, buf, sizeof buf);
                if (n > 0) {
                    out.append(buf, static_cast<std::size_t>(n));
                    continue;
                }
                err = SSL_get_error(ssl, n);
                if (err == SSL_ERROR_ZERO_RETURN) {
                    eof = true;
                    continue;
                }
                if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) break;
            }
            if (!waitReady(c.fd, err, wake_[0])) break;
        }
        ERR_clear_error();
    }
    SSL_free(ssl);
    ::close(c.fd);
    c.fd = -1;
    c.done = true;
}

}  // namespace postern::test
