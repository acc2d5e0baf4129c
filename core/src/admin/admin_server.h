// The admin endpoint's HTTP/1.1 server (SPEC §6; routes and token rules in admin_request.h): one
// thread ("admin") with its own net::EventLoop, so a slow or hostile admin client never touches a
// worker, and a scrape never waits for one. The gateway owns it (server/gateway.h): bind() before
// start(), stop() at shutdown; bind() again while it runs moves it to another address.
//
// Requests are read with the project's own parser (http/parser.h). Keep-alive; one request at a
// time per connection (pipelined ones wait in a bounded buffer). Limits (AdminLimits): at most 64
// connections (more are closed as they are accepted), a head of at most 8 KiB that must be
// complete within 10 s of its first byte, a body of at most 4 KiB (read and ignored), an idle
// connection closed after 60 s, an answer the client does not read within 30 s cut. A request the
// parser refuses is answered with its status (400, 414, 431, 501, 505) and the connection closed:
// nothing else happens. Actions (drain, enable, reload) are answered when the gateway has done
// them (AdminModel's `done`, posted back to this loop); meanwhile the loop serves others.
//
// Threads: bind(), setAccess(), start(), stop() and address() from any one controlling thread
// (the gateway's, serialized by it); everything else on the admin thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "admin/admin_model.h"
#include "admin/admin_request.h"
#include "net/event_loop.h"
#include "net/socket_address.h"

namespace postern::admin {

struct AdminLimits {
    std::size_t max_connections = 64;
    std::size_t max_head_bytes = 8 * 1024;
    std::chrono::milliseconds head_timeout{10000};  ///< from a request's first byte to its end
    std::size_t max_body_bytes = 4 * 1024;
    std::chrono::milliseconds idle_timeout{60000};   ///< between requests
    std::chrono::milliseconds write_timeout{30000};  ///< for the client to take an answer
};

class AdminServer final : private net::IoHandler, private net::TimerHandler {
public:
    /** `model` must outlive the server. `dashboard`: the page GET / serves (a constant that
     * outlives the server; empty: no dashboard, 404). */
    AdminServer(AdminModel& model, std::string_view dashboard, AdminLimits limits = {});
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    /** Binds a listening socket on `address` (port 0: any free port). Before start(): the
     * address it will serve. While it runs: the new socket replaces the old one on the loop (the
     * old one closes; its connections are served to their end). False with *error (the cause;
     * the caller names the address) when the address cannot be bound: nothing changed. */
    bool bind(const net::SocketAddress& address, std::string* error);
    /** The address bound (port 0 resolved). */
    net::SocketAddress address() const;

    /** The token rules for the next request (any connection). */
    void setAccess(Access access);

    /** Starts the admin thread. */
    void start();
    /** Ends the admin thread and closes every connection; answers still owed are dropped. */
    void stop();

private:
    class Connection;
    /** Where answers computed elsewhere (control thread, main thread) come back: the loop while
     * it runs, nothing after stop(). */
    struct Mailbox {
        std::mutex mutex;
        net::EventLoop* loop = nullptr;
        AdminServer* server = nullptr;
    };

    void onIo(std::uint32_t events) override;  // the listening socket
    /** Accepting again after a pause (out of descriptors or memory: retrying at once would
     * spin the admin thread). */
    void onTimer(std::uint32_t tag) override;
    void closeConnection(Connection& c);
    /** Runs `route` for `c` (access already checked): an answer now, or later through the
     * mailbox. */
    void dispatch(Connection& c, const Route& route);
    /** An answer that came through the mailbox, for connection `id` if it is still open. */
    void finish(std::uint64_t id, int status, std::string json);

    AdminModel& model_;
    const std::string_view dashboard_;
    const AdminLimits limits_;
    net::EventLoop loop_;
    std::thread thread_;
    std::shared_ptr<Mailbox> mailbox_;
    mutable std::mutex address_mutex_;
    net::SocketAddress address_;
    net::Fd listen_fd_ = net::kInvalidFd;  ///< loop thread once started
    Access access_;                        ///< loop thread once started
    net::Timer accept_timer_{this, 0};
    bool accept_paused_ = false;
    std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
    std::uint64_t next_id_ = 1;
    bool running_ = false;
};

}  // namespace postern::admin
