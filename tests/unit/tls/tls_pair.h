// Two TlsStreams talking over a socketpair on the test thread: a server from a ServerTlsContext
// and a client from a ClientTlsContext (or a raw SSL for peers our contexts would not be), driven
// step by step without an event loop. Test thread.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "tls/client_tls_context.h"
#include "tls/openssl_util.h"
#include "tls/server_tls_context.h"
#include "tls/tls_stream.h"

namespace postern::test {

using SslCtxHolder = tls::SslCtxPtr;

struct TlsPair {
    int fds[2] = {-1, -1};
    std::unique_ptr<tls::TlsStream> server;
    std::unique_ptr<tls::TlsStream> client;

    TlsPair() {
        // OpenSSL writes with write(2): a closed peer must not kill the test binary.
        ::signal(SIGPIPE, SIG_IGN);
        ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
    }
    TlsPair(const tls::ServerTlsContext& s, const tls::ClientTlsContext& c, std::string_view host,
            std::string_view sni_override = {}, std::string_view alpn_wire = {})
        : TlsPair() {
        server = s.accept(fds[0]);
        client = c.connect(fds[1], host, sni_override, alpn_wire);
    }
    /** A client from a raw SSL (takes ownership). */
    TlsPair(const tls::ServerTlsContext& s, SSL* raw_client) : TlsPair() {
        server = s.accept(fds[0]);
        SSL_set_fd(raw_client, fds[1]);
        SSL_set_connect_state(raw_client);
        client = std::make_unique<tls::TlsStream>(raw_client);
    }
    ~TlsPair() {
        server.reset();
        client.reset();
        if (fds[0] >= 0) ::close(fds[0]);
        if (fds[1] >= 0) ::close(fds[1]);
    }
    TlsPair(const TlsPair&) = delete;
    TlsPair& operator=(const TlsPair&) = delete;

    /** Steps both handshakes until neither waits (bounded); the final status of each. */
    std::pair<net::IoStatus, net::IoStatus> handshake() {
        net::IoStatus s = net::IoStatus::WouldBlock, c = net::IoStatus::WouldBlock;
        for (int i = 0; i < 50 && (s == net::IoStatus::WouldBlock || c == net::IoStatus::WouldBlock); ++i) {
            if (c == net::IoStatus::WouldBlock) c = client->handshake();
            if (s == net::IoStatus::WouldBlock) s = server->handshake();
        }
        return {s, c};
    }

    /** Writes all of `data` from `from` while reading on `to` until it all arrived (bounded). */
    static std::string transfer(tls::TlsStream& from, tls::TlsStream& to, std::string_view data) {
        std::string got;
        std::size_t sent = 0;
        char buf[16384];
        for (int i = 0; i < 100000 && got.size() < data.size(); ++i) {
            if (sent < data.size()) {
                auto w = from.write(data.data() + sent, data.size() - sent);
                if (w.status == net::IoStatus::Ok) sent += w.bytes;
                else if (w.status != net::IoStatus::WouldBlock) break;
            }
            auto r = to.read(buf, sizeof buf);
            if (r.status == net::IoStatus::Ok) got.append(buf, r.bytes);
            else if (r.status != net::IoStatus::WouldBlock) break;
        }
        return got;
    }

    /** Reads once more until something other than WouldBlock comes (bounded). */
    static net::IoResult readUntilSettled(tls::TlsStream& s, std::string* data = nullptr) {
        char buf[4096];
        net::IoResult r{net::IoStatus::WouldBlock, 0, 0};
        for (int i = 0; i < 200; ++i) {
            r = s.read(buf, sizeof buf);
            if (r.status == net::IoStatus::Ok && data) data->append(buf, r.bytes);
            if (r.status != net::IoStatus::WouldBlock && r.status != net::IoStatus::Ok) return r;
            if (r.status == net::IoStatus::Ok && !data) return r;
        }
        return r;
    }
};

/** The common name of the certificate the peer of `s` presented. */
inline std::string peerCn(const tls::TlsStream& s) { return s.peerCommonName(); }

}  // namespace postern::test
