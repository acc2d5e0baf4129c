#include "tls/transport.h"

namespace postern::tls {

void Transport::noteTlsWait() {
    if (tls->want() == TlsStream::Want::Write)
        writable = false;
    else
        readable = false;
}

net::IoResult Transport::readTls(char* buf, std::size_t len) {
    auto r = tls->read(buf, len);
    read_wants_write =
        r.status == net::IoStatus::WouldBlock && tls->want() == TlsStream::Want::Write;
    if (r.status == net::IoStatus::WouldBlock) noteTlsWait();
    return r;
}

net::IoResult Transport::writeTls(const char* data, std::size_t len) {
    // SSL_write takes one record (16 KiB) per call in partial-write mode.
    std::size_t total = 0;
    for (int records = 0; records < 64 && total < len; ++records) {
        auto r = tls->write(data + total, len - total);
        if (r.status == net::IoStatus::Ok) {
            total += r.bytes;
            continue;
        }
        if (r.status != net::IoStatus::WouldBlock) return r;
        write_wants_read = tls->want() == TlsStream::Want::Read;
        noteTlsWait();
        break;
    }
    if (total == len) write_wants_read = false;
    return {total > 0 ? net::IoStatus::Ok : net::IoStatus::WouldBlock, total, 0};
}

bool Transport::closeWrite() {
    if (tls) {
        // close_notify, then the TCP FIN; reading stays possible (TLS half-close).
        if (tls->shutdown() == net::IoStatus::WouldBlock) {
            noteTlsWait();
            return false;
        }
    }
    net::shutdownWrite(fd);
    shut = true;
    return true;
}

net::IoStatus Transport::handshake() {
    const net::IoStatus status = tls->handshake();
    if (status == net::IoStatus::Ok) {
        // The read that took the peer's Finished may have taken its first records too
        // (read-ahead), and this step may not have run on a readable edge: the socket is
        // drained, so only OpenSSL knows they are there.
        if (tls->buffered()) readable = true;
    } else if (status == net::IoStatus::WouldBlock) {
        noteTlsWait();
    }
    return status;
}

bool Transport::bytesInFlight() const {
    if (tls && tls->buffered()) return true;
    if (fd == net::kInvalidFd) return false;
    const auto q = net::queuedBytes(fd);
    return q.unread > 0 || q.unacked > 0;
}

void Transport::close(net::EventLoop& loop, CloseMode mode) {
    if (fd != net::kInvalidFd) {
        if (tls && mode == CloseMode::Clean && !shut) tls->shutdown();
        loop.removeBeforeClose(fd);
        if (mode == CloseMode::Reset)
            net::closeWithReset(fd);
        else
            net::closeFd(fd);
        fd = net::kInvalidFd;
    }
    readable = writable = peer_closed = eof = shut = false;
    read_wants_write = write_wants_read = false;
}

}  // namespace postern::tls
