#include "upstream/backend_connector.h"

#include "tls/client_tls_context.h"

namespace postern::upstream {

BackendConnector::BackendConnector(net::EventLoop& loop, Handler& handler)
    : loop_(loop), handler_(handler), deadline_(this, 0) {}

BackendConnector::~BackendConnector() {
    // The owner cancel()s an attempt before its transport goes; only the timer is ours.
    loop_.cancel(deadline_);
}

bool BackendConnector::start(const ConnectTarget& target, tls::Transport& transport,
                             net::IoHandler* io, ConnectFailure* failure) {
    failure->error = 0;
    failure->detail.clear();
    failure->tls = false;
    failure->out_of_resources = false;
    int err = 0;
    transport.fd = net::connectStart(target.address, &err);
    if (transport.fd == net::kInvalidFd) {
        failure->stage = ConnectFailure::Stage::Socket;
        failure->error = err;
        failure->out_of_resources =
            net::classifyAcceptError(err) == net::AcceptFailure::OutOfResources;
        return false;
    }
    if (target.tls) {
        // Made now, so that nothing but the preface has to be kept until the connect is done;
        // the handshake starts once the preface is out.
        transport.tls =
            target.tls->connect(transport.fd, target.host, target.sni, target.alpn_wire);
        if (!transport.tls) {
            net::closeFd(transport.fd);
            transport.fd = net::kInvalidFd;
            failure->stage = ConnectFailure::Stage::TlsSetup;
            failure->detail = "cannot allocate a TLS connection";
            return false;
        }
    }
    net::setNoDelay(transport.fd);
    loop_.add(transport.fd, io);
    transport_ = &transport;
    preface_ = target.preface;
    preface_sent_ = 0;
    phase_ = Phase::Connect;
    if (target.timeout.count() > 0) loop_.armAfter(deadline_, target.timeout);
    return true;
}

void BackendConnector::onIo(std::uint32_t events) {
    if (!transport_) return;
    switch (phase_) {
        case Phase::Connect:
            if (!(events & (net::kWritable | net::kError | net::kHangup))) return;
            // Writable without an error or hang-up means connected: SO_ERROR is read only when
            // the connect failed (one getsockopt less per connection).
            if (events & (net::kError | net::kHangup))
                return fail(ConnectFailure::Stage::Connect, net::socketError(transport_->fd));
            return continueAfterConnect();
        case Phase::Preface:
            if (events & (net::kError | net::kHangup))
                return fail(ConnectFailure::Stage::Preface, net::socketError(transport_->fd));
            if (transport_->writable) continueAfterConnect();
            return;
        case Phase::Handshake:
            if (transport_->handshakeMayProceed()) handshakeStep();
            return;
    }
}

void BackendConnector::continueAfterConnect() {
    tls::Transport& t = *transport_;
    phase_ = Phase::Preface;
    // The preface goes out raw, before any TLS byte. A fresh connection's send buffer takes a few
    // hundred bytes at once; a short write still just waits for the next writable edge.
    while (preface_sent_ < preface_.size()) {
        auto r =
            net::sendSome(t.fd, preface_.data() + preface_sent_, preface_.size() - preface_sent_);
        if (r.status == net::IoStatus::WouldBlock) {
            t.writable = false;
            return;
        }
        if (r.status != net::IoStatus::Ok) return fail(ConnectFailure::Stage::Preface, r.error);
        preface_sent_ += static_cast<std::uint32_t>(r.bytes);
    }
    if (!t.tls) return succeed();
    phase_ = Phase::Handshake;
    handshakeStep();  // the socket is writable: the ClientHello leaves now
}

void BackendConnector::handshakeStep() {
    switch (transport_->handshake()) {
        case net::IoStatus::Ok:
            return succeed();
        case net::IoStatus::WouldBlock:
            return;
        default:
            return fail(ConnectFailure::Stage::Tls, 0, transport_->tls->failure());
    }
}

void BackendConnector::succeed() {
    loop_.cancel(deadline_);
    transport_ = nullptr;
    handler_.onConnected();
}

void BackendConnector::fail(ConnectFailure::Stage stage, int error, std::string detail) {
    ConnectFailure failure;
    failure.stage = stage;
    failure.error = error;
    failure.detail = std::move(detail);
    failure.tls = phase_ == Phase::Handshake;
    cancel();
    handler_.onConnectFailed(failure);
}

void BackendConnector::cancel() {
    if (!transport_) return;
    loop_.cancel(deadline_);
    transport_->close(loop_, tls::Transport::CloseMode::Abrupt);
    transport_->tls.reset();
    transport_ = nullptr;
}

void BackendConnector::onTimer(std::uint32_t) {
    if (!transport_) return;
    const bool tls = phase_ == Phase::Handshake;
    fail(ConnectFailure::Stage::Timeout, 0, tls ? "no TLS handshake in time" : "");
}

}  // namespace postern::upstream
