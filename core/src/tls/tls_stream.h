// One TLS connection over a non-blocking socket the caller owns and polls (on POSIX our own
// socket BIO, which tells whether a read drained the socket; on Windows OpenSSL's socket BIO;
// never closing the fd): the caller's event loop drives handshake(), read(), write() and
// shutdown(), and after a WouldBlock looks at want() to know which readiness the call waits for
// (a read may need the socket writable and, in principle, a write readable). Partial writes are
// on and the write buffer may move, so a caller can keep unsent bytes in its own buffer and retry
// with them later. A peer closing without close_notify reads as a clean end of stream (the proxy
// relays TCP semantics). Owned by one session or probe; used on one thread.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net/socket_ops.h"

namespace postern::tls {

class TlsStream {
public:
    enum class Want : std::uint8_t { Nothing, Read, Write };

    /** Takes ownership of `ssl`; bindSocket() next, then set it to accept or connect. */
    explicit TlsStream(SSL* ssl) : ssl_(ssl) {}

    /** Reads and writes `fd` (not owned). False (OpenSSL's error queue cleared) on failure. */
    bool bindSocket(net::Fd fd);
    /** The caller saw the socket become readable: forget that an earlier read drained it. */
    void noteReadable() { drained_ = false; }
    /** Nothing left to read without a new readable edge: the last socket read since the latest
     * noteReadable() came back short (or would block), and OpenSSL holds no buffered bytes. With
     * read-ahead, one recv usually takes every waiting record, so the caller can stop without a
     * read that only returns EAGAIN. Always false where the BIO cannot tell (Windows). */
    bool socketDrained() const { return drained_ && !buffered(); }
    /** OpenSSL holds bytes read from the socket and not yet returned (whole or partial records:
     * SSL_has_pending, not SSL_pending, which counts only a decrypted record's rest). With
     * read-ahead, a handshake step can end with the peer's first records in here and the socket
     * drained, so no readable edge will announce them. */
    bool buffered() const { return SSL_has_pending(ssl_) == 1; }
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    /** One handshake step: Ok (done), WouldBlock (see want()), Reset or Error (see failure()). */
    net::IoStatus handshake();
    /** Application bytes: Ok with bytes > 0, WouldBlock, Eof (close_notify or FIN), Reset, Error. */
    net::IoResult read(char* buf, std::size_t len);
    /** Ok with 1..len bytes taken, WouldBlock, Reset, Error. */
    net::IoResult write(const char* buf, std::size_t len);
    /** Sends close_notify: Ok (sent, or nothing can be sent after a failure), WouldBlock, Error.
     * Reading stays possible afterwards (TLS half-close). */
    net::IoStatus shutdown();

    Want want() const { return want_; }
    bool established() const { return SSL_is_init_finished(ssl_) == 1; }
    /** Why the last Error/Reset happened, e.g. "certificate verify failed: unable to get local
     * issuer certificate". */
    const std::string& failure() const { return failure_; }

    /** The server name the client asked for (server side), "" when none. */
    std::string_view serverName() const;
    /** The negotiated application protocol, "" when none. */
    std::string_view alpn() const;
    /** "TLSv1.2", "TLSv1.3". */
    std::string_view version() const { return SSL_get_version(ssl_); }
    /** "TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"; "" before the handshake. */
    std::string_view cipher() const;
    /** Whether the peer presented a certificate (a client, on a listener with client_ca). */
    bool peerCertificatePresented() const { return SSL_get0_peer_certificate(ssl_) != nullptr; }
    /** The X509_V_* result of verifying the peer's certificate (X509_V_OK = verified). */
    long verifyResult() const { return SSL_get_verify_result(ssl_); }
    /** The common name of the peer's certificate, "" when none (allocates: not for every read). */
    std::string peerCommonName() const;
    SSL* native() const { return ssl_; }

private:
    /** Maps a failed call (`ret` <= 0) to a status; `what` names the operation for failure(). */
    net::IoStatus classify(int ret, const char* what);

    friend struct SocketBio;

    SSL* ssl_;
    net::Fd fd_ = net::kInvalidFd;
    bool drained_ = false;     ///< a socket read since the last noteReadable() came back short
    bool eof_ = false;         ///< the socket read returned end of stream (BIO_CTRL_EOF)
    Want want_ = Want::Nothing;
    bool fatal_ = false;       ///< a fatal error happened: no close_notify may follow
    bool close_sent_ = false;  ///< our close_notify is out
    std::string failure_;
};

}  // namespace postern::tls
