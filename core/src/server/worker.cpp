#include "server/worker.h"

#include <cerrno>

#include "common/log.h"

namespace postern::server {

Worker::Worker(unsigned index, proxy::AccessLog* access_log, std::atomic<std::uint64_t>* global_active,
               std::uint64_t global_max, bool splice)
    : index_(index), global_active_(global_active), global_max_(global_max) {
    context_ = std::make_unique<proxy::WorkerContext>(loop_);
    context_->access_log = access_log;
    context_->global_active = global_active;
    context_->splice = net::kHasSplice && splice;
    context_->rng ^= (static_cast<std::uint64_t>(index) + 1) * 0xD1B54A32D192ED03ull;
}

Worker::~Worker() {
    if (thread_.joinable()) stopAndJoin();
    for (auto& a : acceptors_)
        if (a->fd != net::kInvalidFd) net::closeFd(a->fd);
}

void Worker::addListener(const proxy::ListenerContext* listener, net::Fd fd) {
    auto a = std::make_unique<Acceptor>();
    a->worker = this;
    a->listener = listener;
    a->fd = fd;
    loop_.addLevelReadable(fd, a.get());
    acceptors_.push_back(std::move(a));
}

void Worker::start() {
    thread_ = std::thread([this] { loop_.run(); });
}

void Worker::stopAccepting() {
    loop_.post([this] {
        for (auto& a : acceptors_) {
            if (a->fd == net::kInvalidFd) continue;
            loop_.remove(a->fd);
            net::closeFd(a->fd);
            a->fd = net::kInvalidFd;
        }
    });
}

void Worker::abortSessions() {
    loop_.post([this] {
        while (context_->sessions) context_->sessions->abortForShutdown();
    });
}

void Worker::stopAndJoin() {
    if (!thread_.joinable()) return;
    abortSessions();
    loop_.stop();
    thread_.join();
}

void Worker::Acceptor::onIo(std::uint32_t) { worker->acceptBatch(*this); }

void Worker::refuse(const proxy::ListenerContext& listener, net::Fd fd, const net::SocketAddress& peer) {
    listener.stats->refused_max_connections.fetch_add(1, std::memory_order_relaxed);
    net::closeFd(fd);
    if (context_->access_log && context_->access_log->enabled()) {
        std::string client = peer.toString();
        proxy::AccessRecord rec;
        rec.listener = listener.config->name;
        rec.client = client;
        rec.pool = listener.pool->name();
        rec.cause = "refused_max_connections";
        context_->access_log->write(rec);
    }
}

void Worker::acceptBatch(Acceptor& a) {
    // Bounded batch: other connections on this loop get their turn; level-triggered, so the
    // remaining backlog raises the event again.
    for (int i = 0; i < 64 && a.fd != net::kInvalidFd; ++i) {
        net::SocketAddress peer;
        int err = 0;
        net::Fd fd = net::acceptConnection(a.fd, &peer, &err);
        if (fd == net::kInvalidFd) {
            if (err == EMFILE || err == ENFILE)
                POSTERN_LOG(Error, "cannot accept: out of file descriptors",
                            "listener=" + common::logfmtValue(a.listener->config->name));
            return;
        }
        auto& stats = *a.listener->stats;
        stats.total.fetch_add(1, std::memory_order_relaxed);
        if (global_active_->fetch_add(1, std::memory_order_relaxed) >= global_max_) {
            global_active_->fetch_sub(1, std::memory_order_relaxed);
            refuse(*a.listener, fd, peer);
            continue;
        }
        if (stats.active.fetch_add(1, std::memory_order_relaxed) >= a.listener->config->max_connections) {
            stats.active.fetch_sub(1, std::memory_order_relaxed);
            global_active_->fetch_sub(1, std::memory_order_relaxed);
            refuse(*a.listener, fd, peer);
            continue;
        }
        auto* session = new proxy::TcpSession(*context_, *a.listener, fd, peer);
        session->start();
    }
}

}  // namespace postern::server
