// One proxied TCP connection: the client side accepted by a listener, the backend side opened by
// this session (pick → non-blocking connect → retries on other backends), and the byte relay in
// both directions with half-close, backpressure (a side is not read while its peer still holds
// unsent bytes), the idle timeout, and one access-log line at the end. Lives on one worker
// thread for its whole life; destroyed through the loop's deferred list.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "net/event_loop.h"
#include "net/socket_address.h"
#include "proxy/worker_context.h"
#include "upstream/pool.h"

namespace postern::proxy {

class TcpSession final : public net::Deferred, public net::TimerHandler {
public:
    TcpSession(WorkerContext& worker, const ListenerContext& listener, net::Fd client_fd,
               const net::SocketAddress& client);
    ~TcpSession() override;

    /** Picks a backend and starts connecting (or closes at once when none can take it). */
    void start();
    /** Closes both sides now (worker shutdown after the drain deadline). */
    void abortForShutdown();

    void onTimer(std::uint32_t tag) override;

    // Worker's intrusive list.
    TcpSession* prev = nullptr;
    TcpSession* next = nullptr;

private:
    enum TimerTag : std::uint32_t { kConnectTimer = 1, kIdleTimer = 2 };
    enum class State : std::uint8_t { Connecting, Relaying, Closed };

    struct Side final : net::IoHandler {
        TcpSession* session = nullptr;
        net::Fd fd = net::kInvalidFd;
        bool is_client = false;
        bool readable = false;     ///< edge seen, not yet drained to EAGAIN
        bool writable = false;
        bool peer_closed = false;  ///< RDHUP/HUP seen: keep reading until EOF
        bool eof = false;          ///< read side finished (FIN received)
        bool shut = false;         ///< we sent FIN to this side
        // Bytes waiting to be written TO this side.
        char* pending = nullptr;
        std::uint32_t pending_off = 0;
        std::uint32_t pending_len = 0;
        void onIo(std::uint32_t events) override { session->onIo(*this, events); }
    };

    void onIo(Side& side, std::uint32_t events);
    void connectNext();
    void onConnected();
    void connectFailed(const char* why, int err);
    void pump();
    /** Moves bytes src → dst; returns true when anything happened. */
    bool transfer(Side& src, Side& dst);
    bool flushPending(Side& dst);
    void stash(Side& dst, const char* data, std::size_t len);
    void sideFailed(Side& side);
    void finish(std::string_view cause);
    std::int64_t msSinceStart() const;

    WorkerContext& worker_;
    const ListenerContext& listener_;
    net::SocketAddress client_addr_;
    Side client_;
    Side backend_;
    net::Timer connect_timer_;
    net::Timer idle_timer_;
    State state_ = State::Connecting;

    std::shared_ptr<const upstream::Snapshot> snapshot_;
    std::shared_ptr<upstream::Backend> backend_ref_;
    std::uint32_t backend_index_ = 0;
    std::vector<const upstream::Backend*> tried_;
    std::uint32_t attempts_ = 0;

    net::Clock::time_point started_;
    net::Clock::time_point last_activity_;
    std::int64_t connect_ms_ = -1;
    std::int64_t first_byte_ms_ = -1;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    std::string_view first_fin_;  ///< "client_fin" or "backend_fin": who ended first
};

}  // namespace postern::proxy
