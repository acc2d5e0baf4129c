// A worker: one thread, one event loop, its own listening sockets (SO_REUSEPORT on Linux, so the
// kernel spreads connections across workers) and every session accepted on them for their whole
// life. No locks on the data path. Public methods other than the constructor, addListener() and
// start() may be called from any thread; they post to the loop.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "proxy/tcp_session.h"
#include "proxy/worker_context.h"

namespace postern::server {

class Worker {
public:
    Worker(unsigned index, proxy::AccessLog* access_log, std::atomic<std::uint64_t>* global_active,
           std::uint64_t global_max, bool splice);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /** Before start(): takes ownership of a listening fd serving `listener`. */
    void addListener(const proxy::ListenerContext* listener, net::Fd fd);
    void start();

    /** Closes this worker's listening sockets (new connections are refused by the OS). */
    void stopAccepting();
    /** Closes every remaining session with cause=shutdown. */
    void abortSessions();
    /** Ends the thread (after abortSessions) and joins it. */
    void stopAndJoin();

private:
    struct Acceptor final : net::IoHandler {
        Worker* worker = nullptr;
        const proxy::ListenerContext* listener = nullptr;
        net::Fd fd = net::kInvalidFd;
        void onIo(std::uint32_t events) override;
    };
    void acceptBatch(Acceptor& acceptor);
    void refuse(const proxy::ListenerContext& listener, net::Fd fd, const net::SocketAddress& peer);

    unsigned index_;
    net::EventLoop loop_;
    std::unique_ptr<proxy::WorkerContext> context_;
    std::vector<std::unique_ptr<Acceptor>> acceptors_;
    std::atomic<std::uint64_t>* global_active_;
    std::uint64_t global_max_;
    std::thread thread_;
};

}  // namespace postern::server
