// A test client socket with blocking semantics and a timeout on every call (internally
// non-blocking + poll, so no call can hang a test). Move-only; owns its fd; one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harness/socket_address.h"

namespace postern::test {

using Millis = std::chrono::milliseconds;

enum class IoStatus {
    Ok,       ///< did what was asked
    Eof,      ///< the peer closed its sending side (orderly FIN)
    Reset,    ///< ECONNRESET / EPIPE
    Timeout,  ///< the deadline passed first
    Error,    ///< any other errno (see error())
};

const char* toString(IoStatus s);

struct RecvResult {
    std::string data;
    IoStatus status = IoStatus::Ok;
    /** Peer closed (EOF or reset): what "postern closed the connection" looks like to a client. */
    bool closed() const { return status == IoStatus::Eof || status == IoStatus::Reset; }
};

class BlockingClient {
public:
    BlockingClient() = default;
    ~BlockingClient();
    BlockingClient(BlockingClient&& other) noexcept;
    BlockingClient& operator=(BlockingClient&& other) noexcept;
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;

    /** Connects to ip:port (numeric IPv4/IPv6). With `source_ip` the socket is bound to it first
     * (e.g. "127.0.0.2"). Check connected(); on failure error() holds the errno (ETIMEDOUT when
     * the timeout passed). */
    static BlockingClient connect(std::string_view ip, std::uint16_t port, Millis timeout,
                                  std::string_view source_ip = {});
    static BlockingClient connect(const SocketAddress& to, Millis timeout,
                                  std::string_view source_ip = {});

    bool connected() const { return fd_ >= 0; }
    int error() const { return error_; }
    int fd() const { return fd_; }
    std::optional<SocketAddress> localAddress() const;

    IoStatus sendAll(std::string_view data, Millis timeout);
    /** Returns when n bytes arrived (Ok), or earlier on EOF/reset/timeout with what arrived. */
    RecvResult recvExactly(std::size_t n, Millis timeout);
    /** Whatever arrives first (at most 64 KiB), or EOF/reset/timeout. */
    RecvResult recvSome(Millis timeout);
    /** Everything until EOF (status Eof) or reset; Timeout if the peer has not closed in time. */
    RecvResult recvAll(Millis timeout);
    /** Sends `out` while reading concurrently (so neither side's buffers fill up and deadlock)
     * until `expect_in` bytes arrived; optionally shutdown(SHUT_WR) once everything is sent.
     * `data` holds what was received. */
    RecvResult exchange(std::string_view out, std::size_t expect_in, Millis timeout,
                        bool shutdown_write_after = false);
    void shutdownWrite();
    void close();

private:
    explicit BlockingClient(int fd) : fd_(fd) {}

    int fd_ = -1;
    int error_ = 0;
};

}  // namespace postern::test
