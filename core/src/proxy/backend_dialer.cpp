#include "proxy/backend_dialer.h"

#include "common/log.h"
#include "proxy/worker_context.h"
#include "tls/client_tls_context.h"

namespace postern::proxy {

using upstream::ConnectFailure;

BackendDialer::BackendDialer(WorkerContext& worker, const ListenerContext& listener, Owner& owner,
                             tls::Transport& transport, net::IoHandler* io)
    : worker_(worker),
      listener_(listener),
      owner_(owner),
      transport_(transport),
      io_(io),
      connector_(worker.loop, *this) {}

void BackendDialer::start(upstream::Pool& pool, std::uint64_t affinity) {
    pool_ = &pool;
    affinity_ = affinity;
    attempts_ = 0;
    tried_.clear();
    snapshot_ = pool.snapshot();
    if (snapshot_->config->backend.proxy_protocol != config::ProxyProtocol::Off)
        owner_.writePreface(snapshot_->config->backend, preface_);
    else
        preface_.clear();
    connectNext();
}

void BackendDialer::connectNext() {
    const config::BackendSettings& settings = snapshot_->config->backend;
    for (;;) {
        upstream::PickFailure why = upstream::PickFailure::None;
        auto backend =
            pool_->pick(*snapshot_, affinity_, worker_.random(), tried_, &backend_index_, &why);
        if (!backend) {
            if (attempts_ > 0) {
                listener_.stats->worker(worker_.index).connect_failed.add();
                return owner_.onDialFailed(CloseCause::ConnectFailed);
            }
            if (why == upstream::PickFailure::Capacity) {
                listener_.stats->worker(worker_.index).refused_capacity.add();
                return owner_.onDialFailed(CloseCause::NoCapacity);
            }
            listener_.stats->worker(worker_.index).refused_no_backend.add();
            return owner_.onDialFailed(CloseCause::NoBackend);
        }
        ++attempts_;
        backend_ = std::move(backend);
        tried_.push_back(backend_.get());
        upstream::ConnectTarget target;
        target.address = backend_->address;
        target.host = backend_->host;
        target.preface = preface_;
        target.tls = settings.protocol == config::BackendProtocol::Tls ? settings.tls_context.get()
                                                                       : nullptr;
        target.timeout = settings.connect_timeout;
        ConnectFailure failure;
        attempt_started_ = worker_.loop.now();
        if (connector_.start(target, transport_, io_, &failure)) return;
        if (failure.out_of_resources) return outOfResources(failure.error);
        if (!attemptFailed(failure)) return;
    }
}

void BackendDialer::onConnected() {
    backend_->counters.at(worker_.index).connections_total.add();
    pool_->connectTime(worker_.index).observe(worker_.loop.now() - attempt_started_);
    pool_->noteConnectSuccess(*backend_);
    owner_.onDialed();
}

void BackendDialer::onConnectFailed(const ConnectFailure& failure) {
    if (attemptFailed(failure)) connectNext();
}

bool BackendDialer::attemptFailed(const ConnectFailure& failure) {
    upstream::Backend& b = *backend_;
    b.counters.at(worker_.index).connect_failures.add();
    std::string error;
    switch (failure.stage) {
        case ConnectFailure::Stage::Socket:
        case ConnectFailure::Stage::Connect:
            error = "connect";
            break;
        case ConnectFailure::Stage::Preface:
            error = "sending the preface";
            break;
        case ConnectFailure::Stage::TlsSetup:
            error = "tls";
            break;
        case ConnectFailure::Stage::Tls:
            error = "tls handshake";
            break;
        case ConnectFailure::Stage::Timeout:
            error = "connect timeout";
            break;
    }
    if (failure.error) error += ": " + net::errorText(failure.error);
    if (!failure.detail.empty()) error += ": " + failure.detail;
    const std::string fields = "listener=" + common::logfmtValue(listener_.config->name) +
                               " pool=" + common::logfmtValue(pool_->name()) +
                               " backend=" + b.address_text +
                               " error=" + common::logfmtValue(error);
    // A TLS failure towards a backend is a configuration or security problem worth a warning, but
    // one per worker per second at most: every client connection would repeat it.
    if (!failure.detail.empty() && worker_.loop.now() >= worker_.next_tls_warning) {
        worker_.next_tls_warning = worker_.loop.now() + std::chrono::seconds(1);
        POSTERN_LOG(Warn, "backend TLS handshake failed", fields);
    } else {
        POSTERN_LOG(Debug, "backend connect failed", fields);
    }
    pool_->release(*snapshot_, backend_index_, b);
    pool_->noteConnectFailure(backend_);
    backend_.reset();
    if (attempts_ > snapshot_->config->backend.retries) {
        listener_.stats->worker(worker_.index).connect_failed.add();
        owner_.onDialFailed(CloseCause::ConnectFailed);
        return false;
    }
    return true;
}

void BackendDialer::outOfResources(int err) {
    // Our own limit, not the backend's fault: no failure counted against it, no retry elsewhere
    // (the next socket would fail the same way). The worker pauses accepting, so the clients
    // behind this one wait in the backlog instead of being closed one by one.
    POSTERN_LOG(Debug, "cannot open a backend socket",
                "listener=" + common::logfmtValue(listener_.config->name) +
                    " error=" + common::logfmtValue(net::errorText(err)));
    pool_->release(*snapshot_, backend_index_, *backend_);
    backend_.reset();
    worker_.resources_exhausted = err;
    listener_.stats->worker(worker_.index).connect_failed.add();
    owner_.onDialFailed(CloseCause::NoResources);
}

void BackendDialer::release() {
    if (!backend_) return;
    pool_->release(*snapshot_, backend_index_, *backend_);
    backend_.reset();
}

config::Millis BackendDialer::drainTimeout(const upstream::Pool& fallback) const {
    // The pool's settings as this dial found them; before any dial, the pool's current ones.
    if (snapshot_) return snapshot_->config->drain_timeout;
    return fallback.snapshot()->config->drain_timeout;
}

}  // namespace postern::proxy
