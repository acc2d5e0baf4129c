#include "server/worker.h"

#include <algorithm>
#include <cerrno>

#include "common/log.h"
#include "proxy/access_control.h"

namespace postern::server {

Worker::Worker(unsigned index, proxy::AccessLog* access_log, std::atomic<std::uint64_t>* global_active,
               std::uint64_t global_max, bool splice)
    : index_(index), global_active_(global_active), global_max_(global_max) {
    context_ = std::make_unique<proxy::WorkerContext>(loop_);
    http_backends_ = std::make_unique<http::BackendPool>(loop_);
    context_->http_backends = http_backends_.get();
    context_->index = index;
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

void Worker::onLoop(std::function<void()> task) {
    if (started_)
        loop_.post(std::move(task));
    else
        task();
}

void Worker::addListener(std::uint64_t group,
                         std::shared_ptr<const proxy::ListenerContext> listener, net::Fd fd) {
    onLoop([this, group, l = std::move(listener), fd]() mutable {
        addListenerNow(group, std::move(l), fd);
    });
}

void Worker::addListenerNow(std::uint64_t group,
                            std::shared_ptr<const proxy::ListenerContext> listener, net::Fd fd) {
    auto a = std::make_unique<Acceptor>();
    a->worker = this;
    a->group = group;
    a->listener = std::move(listener);
    a->fd = fd;
    // While accepts are paused the listeners are out of the loop; the pause's end adds them all.
    if (!accepts_paused_) loop_.addLevelReadable(fd, a.get());
    acceptors_.push_back(std::move(a));
}

void Worker::setListener(std::uint64_t group,
                         std::shared_ptr<const proxy::ListenerContext> listener) {
    onLoop([this, group, l = std::move(listener)] {
        for (auto& a : acceptors_)
            if (a->group == group) a->listener = l;
    });
}

void Worker::removeListener(std::uint64_t group) {
    onLoop([this, group] {
        for (auto it = acceptors_.begin(); it != acceptors_.end();) {
            Acceptor& a = **it;
            if (a.group != group) {
                ++it;
                continue;
            }
            if (a.fd != net::kInvalidFd) {
                if (!accepts_paused_) loop_.remove(a.fd);
                net::closeFd(a.fd);
            }
            it = acceptors_.erase(it);
        }
    });
}

net::Clock::time_point Worker::cutTime(config::Millis timeout) {
    if (timeout == config::kUnlimited) return net::Clock::time_point::max();
    // Uniform in [deadline - 10 % of the window, deadline], to the microsecond.
    const auto window = std::chrono::duration_cast<std::chrono::microseconds>(timeout) / 10;
    std::chrono::microseconds offset{0};
    if (window.count() > 0)
        offset = std::chrono::microseconds(static_cast<std::int64_t>(
            context_->random() % static_cast<std::uint64_t>(window.count() + 1)));
    return loop_.now() + timeout - window + offset;
}

void Worker::drainListener(std::uint64_t listener_id) {
    onLoop([this, listener_id] {
        for (proxy::Session* s = context_->sessions; s;) {
            proxy::Session* next = s->next;  // a cut at once unlinks s
            if (s->listener().id == listener_id) {
                const auto cut = cutTime(s->drainTimeout());
                if (cut != net::Clock::time_point::max())
                    s->drainBy(cut, proxy::CloseCause::Drained);
            }
            s = next;
        }
    });
}

void Worker::drainBackend(std::shared_ptr<const upstream::Backend> backend,
                          config::Millis timeout) {
    onLoop([this, b = std::move(backend), timeout] {
        // Its idle keep-alive connections carry nothing: they go at once.
        http_backends_->closeBackend(b.get());
        if (timeout == config::kUnlimited) return;
        for (proxy::Session* s = context_->sessions; s;) {
            proxy::Session* next = s->next;
            if (s->backend() == b.get()) s->drainBy(cutTime(timeout), proxy::CloseCause::Drained);
            s = next;
        }
    });
}

void Worker::undrainBackend(std::shared_ptr<const upstream::Backend> backend) {
    onLoop([this, b = std::move(backend)] {
        for (proxy::Session* s = context_->sessions; s; s = s->next)
            if (s->backend() == b.get()) s->cancelDrain();
    });
}

void Worker::drainAll() {
    onLoop([this] {
        http_backends_->closeAll();
        for (proxy::Session* s = context_->sessions; s;) {
            proxy::Session* next = s->next;
            const auto cut = cutTime(s->drainTimeout());
            if (cut != net::Clock::time_point::max()) s->drainBy(cut, proxy::CloseCause::Shutdown);
            s = next;
        }
    });
}

void Worker::setAccessLog(proxy::AccessLog* log) {
    onLoop([this, log] { context_->access_log = log; });
}

void Worker::setGlobalMax(std::uint64_t max) {
    onLoop([this, max] { global_max_ = max; });
}

std::future<void> Worker::applied() {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    onLoop([done] { done->set_value(); });  // tasks run in the order they were posted
    return future;
}

void Worker::start() {
    started_ = true;
    thread_ = std::thread([this] { loop_.run(); });
}

void Worker::stopAccepting() {
    onLoop([this] {
        loop_.cancel(accept_timer_);
        for (auto& a : acceptors_) {
            if (a->fd == net::kInvalidFd) continue;
            if (!accepts_paused_) loop_.remove(a->fd);
            net::closeFd(a->fd);
            a->fd = net::kInvalidFd;
        }
        accepts_paused_ = false;
    });
}

void Worker::abortSessions() {
    loop_.post([this] {
        while (context_->sessions) context_->sessions->abortForShutdown();
        http_backends_->closeAll();
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
    listener.stats->worker(index_).refused_max_connections.add();
    closeRefused(listener, fd, peer, proxy::CloseCause::RefusedMaxConnections);
}

void Worker::closeRefused(const proxy::ListenerContext& listener, net::Fd fd,
                          const net::SocketAddress& peer, proxy::CloseCause cause) {
    net::closeFd(fd);
    listener.stats->worker(index_).countClose(cause);
    if (context_->access_log && context_->access_log->enabled()) {
        std::string client = peer.toString();
        proxy::AccessRecord rec;
        rec.listener = listener.config->name;
        rec.client = client;
        if (listener.pool) rec.pool = listener.pool->name();
        rec.cause = proxy::closeCauseName(cause);
        context_->access_log->write(rec);
    }
}

void Worker::acceptBatch(Acceptor& a) {
    // Bounded batch: other connections on this loop get their turn; level-triggered, so the
    // remaining backlog raises the event again.
    for (int i = 0; i < 64 && a.fd != net::kInvalidFd && !accepts_paused_; ++i) {
        if (context_->resources_exhausted) {  // a session could not open its backend socket
            const int e = context_->resources_exhausted;
            context_->resources_exhausted = 0;
            return pauseAccepting(a, e);
        }
        net::SocketAddress peer;
        int err = 0;
        net::Fd fd = net::acceptConnection(a.fd, &peer, &err);
        if (fd == net::kInvalidFd) {
            switch (net::classifyAcceptError(err)) {
                case net::AcceptFailure::NothingPending:
                    return;
                case net::AcceptFailure::ConnectionLost:
                    continue;
                case net::AcceptFailure::OutOfResources:
                case net::AcceptFailure::Unexpected:
                    return pauseAccepting(a, err);
            }
        }
        if (episode_failures_ > 0) endAcceptEpisode();
        auto& stats = *a.listener->stats;
        stats.worker(index_).total.add();
        // allow/deny and per-client limits first (accept_proxy listeners: after the header).
        const proxy::ClientAdmission admission =
            proxy::admitAtAccept(*a.listener, index_, peer, loop_.now());
        if (admission.refused != proxy::AccessRefusal::None) {
            closeRefused(*a.listener, fd, peer, proxy::closeCause(admission.refused));
            continue;
        }
        if (global_active_->fetch_add(1, std::memory_order_relaxed) >= global_max_) {
            global_active_->fetch_sub(1, std::memory_order_relaxed);
            proxy::releaseClient(*a.listener, admission.slot);
            refuse(*a.listener, fd, peer);
            continue;
        }
        if (stats.active.fetch_add(1, std::memory_order_relaxed) >= a.listener->config->max_connections) {
            stats.active.fetch_sub(1, std::memory_order_relaxed);
            global_active_->fetch_sub(1, std::memory_order_relaxed);
            proxy::releaseClient(*a.listener, admission.slot);
            refuse(*a.listener, fd, peer);
            continue;
        }
        // From start() on the session owns itself (see proxy/session.h).
        a.listener->make_session(*context_, a.listener, {fd, peer, admission.slot})
            .release()
            ->start();
    }
}

void Worker::pauseAccepting(const Acceptor& a, int err) {
    if (episode_failures_++ == 0) {
        episode_started_ = loop_.now();
        accept_pause_ = kFirstAcceptPause;
        POSTERN_LOG(Error, "cannot accept: pausing accepts on this worker",
                    "worker=" + std::to_string(index_) +
                        " listener=" + common::logfmtValue(a.listener->config->name) +
                        " error=" + common::logfmtValue(net::errorText(err)) +
                        " pause_ms=" + std::to_string(accept_pause_.count()));
    } else {
        accept_pause_ = std::min(accept_pause_ * 2, kMaxAcceptPause);
    }
    for (auto& other : acceptors_)
        if (other->fd != net::kInvalidFd) loop_.remove(other->fd);
    accepts_paused_ = true;
    loop_.armAfter(accept_timer_, accept_pause_);
}

void Worker::onTimer(std::uint32_t) {
    // Back in the loop: level-triggered, so a waiting backlog is reported at once.
    accepts_paused_ = false;
    for (auto& a : acceptors_)
        if (a->fd != net::kInvalidFd) loop_.addLevelReadable(a->fd, a.get());
}

void Worker::endAcceptEpisode() {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(loop_.now() - episode_started_);
    POSTERN_LOG(Warn, "accepting again",
                "worker=" + std::to_string(index_) +
                    " failed_accepts=" + std::to_string(episode_failures_) +
                    " paused_for_ms=" + std::to_string(ms.count()));
    episode_failures_ = 0;
}

}  // namespace postern::server
