#include "admin/admin_server.h"

#include <utility>

#ifdef __linux__
#include <pthread.h>
#endif

#include "common/log.h"
#include "http/parser.h"

namespace postern::admin {

namespace {

constexpr std::string_view kJson = "application/json";
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::size_t kReadChunk = 4096;

http::Limits parserLimits(const AdminLimits& limits) {
    http::Limits l;
    l.max_request_line = limits.max_head_bytes;
    l.max_head_bytes = limits.max_head_bytes;
    l.max_fields = 64;
    return l;
}

}  // namespace

/** One admin client. Owned by the server's map; destroyed by the loop after the round it closed
 * in (destroyLater), so a handler of the same round never sees it freed. */
class AdminServer::Connection final : public net::IoHandler,
                                      public net::TimerHandler,
                                      public net::Deferred {
public:
    Connection(AdminServer& server, net::Fd fd, std::uint64_t id)
        : server_(server), fd_(fd), id_(id), parser_(parserLimits(server.limits_)) {}
    ~Connection() override = default;

    net::Fd fd() const { return fd_; }
    std::uint64_t id() const { return id_; }
    bool closed() const { return closed_; }
    void markClosed() { closed_ = true; }
    net::Timer& timer() { return timer_; }

    /** After accept: wait for the first request. */
    void begin() { pump(); }

    void onIo(std::uint32_t events) override {
        if (closed_) return;
        if (events & (net::kReadable | net::kHangup | net::kPeerClosed | net::kError)) read();
        if (closed_) return;
        pump();
    }

    void onTimer(std::uint32_t) override {
        if (closed_ || waiting_) return;
        // The client does not take its answer.
        if (sent_ < out_.size()) return server_.closeConnection(*this);
        if (!in_.empty()) {
            // A head (or body) not finished in time: 408, then the connection ends.
            in_.clear();
            head_only_ = false;
            answer(408, kJson, errorJson("the request was not complete within the time allowed"),
                   true);
            return pump();
        }
        server_.closeConnection(*this);  // idle
    }

    /** Queues a whole answer; the connection closes once it is sent when `close`. */
    void answer(int status, std::string_view type, std::string_view body, bool close,
                std::string_view extra_fields = {}) {
        close_after_ = close_after_ || close;
        out_ = response(status, type, body, close_after_, head_only_, extra_fields);
        sent_ = 0;
        waiting_ = false;
    }

    /** An answer computed elsewhere arrived. */
    void finishWaiting(int status, std::string_view body) {
        answer(status, kJson, body, false);
        pump();
    }

    /** Drives the connection as far as it can go without blocking. */
    void pump() {
        for (;;) {
            if (closed_) return;
            if (sent_ < out_.size()) {
                if (!flush()) return;
                if (sent_ < out_.size()) {
                    armIn(server_.limits_.write_timeout);
                    return;
                }
            }
            if (!out_.empty()) {
                out_.clear();
                sent_ = 0;
                if (close_after_) {
                    // Our side is done: FIN after the answer, then gone.
                    net::shutdownWrite(fd_);
                    return server_.closeConnection(*this);
                }
                head_only_ = false;
            }
            if (waiting_) {
                server_.loop_.cancel(timer_);
                return;
            }
            if (in_.empty()) {
                if (peer_eof_) return server_.closeConnection(*this);
                if (!read_blocked_) {
                    read();
                    if (!in_.empty() || closed_ || peer_eof_) continue;
                }
                request_started_ = false;
                armIn(server_.limits_.idle_timeout);
                return;
            }
            if (!request_started_) {
                request_started_ = true;
                request_deadline_ = server_.loop_.now() + server_.limits_.head_timeout;
            }
            if (!step()) {
                // More bytes needed.
                if (peer_eof_) return server_.closeConnection(*this);
                if (!read_blocked_) {
                    const std::size_t before = in_.size();
                    read();
                    if (closed_) return;
                    if (in_.size() != before || peer_eof_) continue;
                }
                if (!timer_.armed() || timer_.deadline() != request_deadline_)
                    server_.loop_.arm(timer_, request_deadline_);
                return;
            }
        }
    }

private:
    /** Parses the request at the front of in_; false when it needs more bytes. Otherwise it
     * answered (or is waiting for an answer) and removed the request's bytes. */
    bool step() {
        http::RequestHead head;
        parser_.reset();
        const http::ParseResult r = parser_.parse(in_, head);
        if (r.status == http::ParseStatus::Error) {
            head_only_ = false;
            answer(r.error_status, kJson, errorJson(r.error), true);
            in_.clear();
            return true;
        }
        if (r.status == http::ParseStatus::Incomplete) return false;
        std::size_t length = r.consumed;
        const std::size_t max_body = server_.limits_.max_body_bytes;
        switch (head.body) {
            case http::BodyKind::None:
            case http::BodyKind::UntilClose:
                break;
            case http::BodyKind::Length:
                if (head.content_length > max_body) {
                    answer(413, kJson, errorJson("request bodies are limited to 4 KiB"), true);
                    in_.clear();
                    return true;
                }
                if (in_.size() - r.consumed < head.content_length) return false;
                length += static_cast<std::size_t>(head.content_length);
                break;
            case http::BodyKind::Chunked: {
                http::ChunkedDecoder decoder;
                const auto fed = decoder.feed(std::string_view(in_).substr(r.consumed));
                if (fed.error) {
                    answer(400, kJson, errorJson(fed.why), true);
                    in_.clear();
                    return true;
                }
                // Framing included, so a body of tiny chunks is bounded too.
                if (decoder.payloadBytes() > max_body || fed.consumed > 2 * max_body) {
                    answer(413, kJson, errorJson("request bodies are limited to 4 KiB"), true);
                    in_.clear();
                    return true;
                }
                if (!fed.done) return false;
                length += fed.consumed;
                break;
            }
        }
        head_only_ = head.method == "HEAD";
        close_after_ = !head.keep_alive;
        const Route route = admin::route(head.method, head.path, !server_.dashboard_.empty());
        std::optional<std::string_view> authorization;
        int authorization_fields = 0;
        for (const auto& h : head.headers) {
            if (http::equalsIgnoreCase(h.name, "authorization")) {
                authorization = h.value;
                ++authorization_fields;
            }
        }
        if (authorization_fields > 1) {
            answer(400, kJson, errorJson("more than one Authorization field"), true);
        } else {
            switch (server_.access_.check(route, authorization)) {
                case Access::Verdict::Allowed:
                    server_.dispatch(*this, route);
                    break;
                case Access::Verdict::Missing:
                    answer(401, kJson, errorJson("this needs Authorization: Bearer <token>"), false,
                           "WWW-Authenticate: Bearer realm=\"postern admin\"\r\n");
                    break;
                case Access::Verdict::Wrong:
                    answer(403, kJson, errorJson("wrong token"), false);
                    break;
            }
        }
        in_.erase(0, length);
        request_started_ = false;
        return true;
    }

    /** Reads what the socket has, up to the buffer's bound. */
    void read() {
        const std::size_t cap = server_.limits_.max_head_bytes + 2 * server_.limits_.max_body_bytes;
        read_blocked_ = false;
        while (in_.size() < cap) {
            char buf[kReadChunk];
            const std::size_t want = std::min(sizeof buf, cap - in_.size());
            const net::IoResult r = net::recvSome(fd_, buf, want);
            switch (r.status) {
                case net::IoStatus::Ok:
                    in_.append(buf, r.bytes);
                    continue;
                case net::IoStatus::WouldBlock:
                    read_blocked_ = true;
                    return;
                case net::IoStatus::Eof:
                    peer_eof_ = true;
                    read_blocked_ = true;
                    return;
                case net::IoStatus::Reset:
                case net::IoStatus::Error:
                    server_.closeConnection(*this);
                    return;
            }
        }
    }

    /** Sends what it can; false when the connection closed. */
    bool flush() {
        while (sent_ < out_.size()) {
            const net::IoResult r = net::sendSome(fd_, out_.data() + sent_, out_.size() - sent_);
            if (r.status == net::IoStatus::Ok) {
                sent_ += r.bytes;
                continue;
            }
            if (r.status == net::IoStatus::WouldBlock) return true;
            server_.closeConnection(*this);
            return false;
        }
        return true;
    }

    void armIn(std::chrono::milliseconds d) { server_.loop_.armAfter(timer_, d); }

    AdminServer& server_;
    net::Fd fd_;
    std::uint64_t id_;
    http::RequestParser parser_;
    net::Timer timer_{this, 0};
    std::string in_;
    std::string out_;
    std::size_t sent_ = 0;
    net::Clock::time_point request_deadline_{};
    bool request_started_ = false;
    bool read_blocked_ = false;  ///< the last read met WouldBlock (or EOF): wait for an edge
    bool peer_eof_ = false;
    bool waiting_ = false;  ///< an action is being done elsewhere
    bool close_after_ = false;
    bool head_only_ = false;
    bool closed_ = false;

    friend class AdminServer;
};

AdminServer::AdminServer(AdminModel& model, std::string_view dashboard, AdminLimits limits)
    : model_(model),
      dashboard_(dashboard),
      limits_(limits),
      mailbox_(std::make_shared<Mailbox>()) {}

AdminServer::~AdminServer() {
    stop();
    if (listen_fd_ != net::kInvalidFd) net::closeFd(listen_fd_);
}

bool AdminServer::bind(const net::SocketAddress& address, std::string* error) {
    net::Fd fd = net::listenSocket(address, false, 64, error);
    if (fd == net::kInvalidFd) return false;
    net::SocketAddress bound = net::localAddress(fd);
    {
        std::lock_guard<std::mutex> lock(address_mutex_);
        address_ = bound;
    }
    if (!running_) {
        if (listen_fd_ != net::kInvalidFd) net::closeFd(listen_fd_);
        listen_fd_ = fd;
        return true;
    }
    loop_.post([this, fd] {
        if (accept_paused_) {
            loop_.cancel(accept_timer_);
            accept_paused_ = false;
        }
        if (listen_fd_ != net::kInvalidFd) {
            loop_.remove(listen_fd_);
            loop_.removeBeforeClose(listen_fd_);
            net::closeFd(listen_fd_);
        }
        listen_fd_ = fd;
        loop_.addLevelReadable(fd, this);
    });
    return true;
}

net::SocketAddress AdminServer::address() const {
    std::lock_guard<std::mutex> lock(address_mutex_);
    return address_;
}

void AdminServer::setAccess(Access access) {
    if (!running_) {
        access_ = access;
        return;
    }
    loop_.post([this, access] { access_ = access; });
}

void AdminServer::start() {
    if (running_) return;
    running_ = true;
    {
        std::lock_guard<std::mutex> lock(mailbox_->mutex);
        mailbox_->loop = &loop_;
        mailbox_->server = this;
    }
    if (listen_fd_ != net::kInvalidFd) loop_.addLevelReadable(listen_fd_, this);
    thread_ = std::thread([this] {
#ifdef __linux__
        pthread_setname_np(pthread_self(), "admin");
#endif
        loop_.run();
    });
}

void AdminServer::stop() {
    if (!running_) return;
    {
        std::lock_guard<std::mutex> lock(mailbox_->mutex);
        mailbox_->loop = nullptr;
        mailbox_->server = nullptr;
    }
    loop_.stop();
    if (thread_.joinable()) thread_.join();
    running_ = false;
    // The loop no longer runs: close everything here.
    for (auto& [id, c] : connections_) {
        loop_.cancel(c->timer());
        loop_.remove(c->fd());
        loop_.removeBeforeClose(c->fd());
        net::closeFd(c->fd());
    }
    connections_.clear();
    loop_.cancel(accept_timer_);
    accept_paused_ = false;
    if (listen_fd_ != net::kInvalidFd) {
        loop_.remove(listen_fd_);
        loop_.removeBeforeClose(listen_fd_);
        net::closeFd(listen_fd_);
        listen_fd_ = net::kInvalidFd;
    }
}

void AdminServer::onIo(std::uint32_t) {
    for (;;) {
        net::SocketAddress peer;
        int err = 0;
        net::Fd fd = net::acceptConnection(listen_fd_, &peer, &err);
        if (fd == net::kInvalidFd) {
            switch (net::classifyAcceptError(err)) {
                case net::AcceptFailure::NothingPending:
                    return;
                case net::AcceptFailure::ConnectionLost:
                    continue;
                case net::AcceptFailure::OutOfResources:
                case net::AcceptFailure::Unexpected:
                    // The level-triggered listener would wake us again at once: pause.
                    POSTERN_LOG(Warn, "admin endpoint: accept failed; pausing accepts for 100 ms",
                                "error=" + common::logfmtValue(net::errorText(err)));
                    loop_.remove(listen_fd_);
                    accept_paused_ = true;
                    loop_.armAfter(accept_timer_, std::chrono::milliseconds(100));
                    return;
            }
        }
        if (connections_.size() >= limits_.max_connections) {
            POSTERN_LOG(
                Debug, "admin connection refused: too many open",
                "client=" + peer.toString() + " limit=" + std::to_string(limits_.max_connections));
            net::closeFd(fd);
            continue;
        }
        if (!net::kAcceptInheritsNoDelay) net::setNoDelay(fd);
        const std::uint64_t id = next_id_++;
        auto conn = std::make_unique<Connection>(*this, fd, id);
        Connection& c = *conn;
        if (!loop_.add(fd, &c)) {
            net::closeFd(fd);
            continue;
        }
        connections_.emplace(id, std::move(conn));
        c.begin();
    }
}

void AdminServer::onTimer(std::uint32_t) {
    if (!accept_paused_) return;
    accept_paused_ = false;
    if (listen_fd_ != net::kInvalidFd) loop_.addLevelReadable(listen_fd_, this);
}

void AdminServer::closeConnection(Connection& c) {
    if (c.closed()) return;
    c.markClosed();
    loop_.cancel(c.timer());
    loop_.removeBeforeClose(c.fd());
    net::closeFd(c.fd());
    auto it = connections_.find(c.id());
    if (it == connections_.end()) return;
    loop_.destroyLater(it->second.release());
    connections_.erase(it);
}

void AdminServer::dispatch(Connection& c, const Route& route) {
    switch (route.kind) {
        case Route::Kind::Metrics:
            c.answer(200, kMetricsType, model_.metricsText(), false);
            return;
        case Route::Kind::Status:
            c.answer(200, kJson, model_.statusJson(), false);
            return;
        case Route::Kind::Dashboard:
            c.answer(200, kHtml, dashboard_, false);
            return;
        case Route::Kind::NotFound:
            c.answer(404, kJson, errorJson("no such path"), false);
            return;
        case Route::Kind::MethodNotAllowed:
            c.answer(405, kJson, errorJson("method not allowed here"), false,
                     "Allow: " + std::string(route.allow) + "\r\n");
            return;
        case Route::Kind::BadRequest:
            c.answer(400, kJson, errorJson(route.why), false);
            return;
        case Route::Kind::Drain:
        case Route::Kind::Enable:
        case Route::Kind::Reload:
            break;
    }
    c.waiting_ = true;
    c.head_only_ = false;
    const std::uint64_t id = c.id();
    auto back = [mailbox = mailbox_, id](int status, std::string json) {
        std::lock_guard<std::mutex> lock(mailbox->mutex);
        if (!mailbox->loop) return;
        AdminServer* server = mailbox->server;
        mailbox->loop->post([server, id, status, json = std::move(json)]() mutable {
            server->finish(id, status, std::move(json));
        });
    };
    if (route.kind == Route::Kind::Reload) {
        model_.reload([back](const server::ControlReply& reply) {
            ReloadAnswer a = reloadAnswer(reply);
            back(a.status, std::move(a.json));
        });
        return;
    }
    const auto action = route.kind == Route::Kind::Drain ? AdminModel::BackendAction::Drain
                                                         : AdminModel::BackendAction::Enable;
    model_.backendAction(route.pool, route.backend, action,
                         [back](ActionResult r) { back(r.status, std::move(r.json)); });
}

void AdminServer::finish(std::uint64_t id, int status, std::string json) {
    auto it = connections_.find(id);
    if (it == connections_.end() || it->second->closed()) return;
    it->second->finishWaiting(status, json);
}

}  // namespace postern::admin
