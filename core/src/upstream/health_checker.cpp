#include "upstream/health_checker.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "common/log.h"
// The PROXY protocol codec is a leaf (it depends on net/ only), shared with the session.
#include "codec/proxy_protocol.h"
#include "tls/client_tls_context.h"
#include "upstream/backend_connector.h"

namespace postern::upstream {

class HealthChecker::Task final : public net::IoHandler,
                                  public net::TimerHandler,
                                  public net::Deferred,
                                  private BackendConnector::Handler {
public:
    enum TimerTag : std::uint32_t { kNextProbe = 1, kTimeout = 2 };

    Task(HealthChecker& owner, std::shared_ptr<Backend> backend)
        : owner_(owner),
          backend_(std::move(backend)),
          next_(this, kNextProbe),
          timeout_(this, kTimeout),
          connector_(owner.loop_, *this) {}

    ~Task() override { abort(); }

    void start() { owner_.loop_.armAfter(next_, std::chrono::milliseconds(0)); }

    void stopForGood() {
        stopped_ = true;
        abort();
        owner_.loop_.cancel(next_);
    }

    void onTimer(std::uint32_t tag) override {
        if (stopped_) return;
        if (tag == kNextProbe) begin();
        else finish(false, "timeout after " + std::to_string(probe().timeout.count()) + "ms");
    }

    void onIo(std::uint32_t events) override {
        if (stopped_ || transport_.fd == net::kInvalidFd) return;
        transport_.noteEvents(events);
        if (connector_.connecting()) {
            // Connect, PROXY header, TLS handshake (and certificate check); once done, the probe
            // plugin's session starts (onConnected) and this event may carry its first answer.
            connector_.onIo(events);
            if (transport_.fd == net::kInvalidFd || connector_.connecting() || !session_) return;
        }
        if (!out_.empty() && !flush()) return;
        // Over TLS, any event may let a read go on (it may have waited for writability).
        if ((events & (net::kReadable | net::kHangup | net::kError)) || transport_.tls) readSome();
    }

private:
    const config::ProbeConfig& probe() const { return *owner_.pool_.config().probe; }

    postern_backend view() const {
        const Backend& b = *backend_;
        return postern_backend{b.id, {b.host.data(), b.host.size()}, {b.ip_text.data(), b.ip_text.size()},
                               b.port, b.weight, b.max_connections, {b.region.data(), b.region.size()}};
    }

    void begin() {
        started_ = owner_.loop_.now();
        owner_.loop_.arm(next_, started_ + probe().interval);
        if (transport_.fd != net::kInvalidFd)
            return;  // the previous check is still running (timeout > interval)
        // The core's connection for probes: the pool's backend TLS settings (CA, verification,
        // client certificate) with SNI and ALPN from the probe plugin's transport(); a PROXY
        // header first when the pool's backends expect one.
        ConnectTarget target;
        target.address = backend_->address;
        if (probe().port) target.address.setPort(probe().port);
        target.host = backend_->host;
        const config::BackendSettings& b = owner_.pool_.config().backend;
        if (probe().sendsProxy(b, backend_->port)) target.preface = proxyHeader(b);
        const postern_probe_transport t = probe().instance->transport();
        if (t.tls) {
            target.tls = b.tls_context.get();
            if (!target.tls)
                return finish(false, "probe plugin '" + probe().plugin +
                                         "' needs TLS but the pool has no TLS settings");
            target.sni = t.sni.data ? std::string_view(t.sni.data, t.sni.size) : std::string_view();
            alpn_ = tls::alpnWireFromList(t.alpn.data ? std::string_view(t.alpn.data, t.alpn.size)
                                                      : std::string_view());
            target.alpn_wire = alpn_;
        }
        out_.clear();
        ConnectFailure failure;
        if (!connector_.start(target, transport_, this, &failure))
            return finish(false, reason(failure));
        owner_.loop_.armAfter(timeout_, probe().timeout);
    }

    /** `PROXY UNKNOWN\r\n` (a v1 or plain pool) or a v2 LOCAL header (a v2 pool), before anything
     * else, TLS included: "a health check, not a relayed client". */
    std::string_view proxyHeader(const config::BackendSettings& b) {
        const std::size_t n = b.proxy_protocol == config::ProxyProtocol::V2
                                  ? codec::writeProxyV2Local(header_, b.proxy_protocol_crc)
                                  : codec::writeProxyV1Unknown(header_);
        return {header_, n};
    }

    /** The failure as the probe's log lines have always said it. */
    static std::string reason(const ConnectFailure& f) {
        switch (f.stage) {
            case ConnectFailure::Stage::Socket:
            case ConnectFailure::Stage::Connect:
                return "connect: " + net::errorText(f.error);
            case ConnectFailure::Stage::Preface:
                return "send PROXY header: " + net::errorText(f.error);
            case ConnectFailure::Stage::TlsSetup:
                return f.detail;
            case ConnectFailure::Stage::Tls:
                return "tls: " + f.detail;
            case ConnectFailure::Stage::Timeout:
                break;  // no deadline given: the task's own
        }
        return "connect timeout";
    }

    void onConnected() override {
        session_ = probe().instance->newSession(view());
        if (!session_) return finish(false, "probe plugin could not start a session");
        handle(session_->onConnected(out_));
    }

    void onConnectFailed(const ConnectFailure& failure) override { finish(false, reason(failure)); }

    /** Applies a verdict; true when the check is over. */
    bool handle(postern_verdict v) {
        switch (v) {
            case POSTERN_VERDICT_NEED_MORE: return false;
            case POSTERN_VERDICT_HEALTHY:
            case POSTERN_VERDICT_DRAIN: {
                const auto r = session_->result();
                Outcome o;
                o.ok = true;
                o.drain = v == POSTERN_VERDICT_DRAIN;
                o.utilization = std::isfinite(r.utilization) && r.utilization >= 0 ? r.utilization : -1.0;
                finish(o);
                return true;
            }
            case POSTERN_VERDICT_UNHEALTHY: {
                auto r = session_->result();
                std::string reason(r.reason.data ? std::string(r.reason.data, r.reason.size) : "");
                finish(false, reason.empty() ? "probe reported unhealthy" : reason);
                return true;
            }
        }
        finish(false, "probe returned an unknown verdict");
        return true;
    }

    bool flush() {
        const auto& tls = transport_.tls;
        while (!out_.empty()) {
            auto r = tls ? tls->write(out_.data(), out_.size())
                         : net::sendSome(transport_.fd, out_.data(), out_.size());
            if (r.status == net::IoStatus::WouldBlock) return true;
            if (r.status != net::IoStatus::Ok) {
                finish(false, "send: " + (tls ? tls->failure() : net::errorText(r.error)));
                return false;
            }
            out_.erase(0, r.bytes);
        }
        return true;
    }

    void readSome() {
        char buf[4096];
        for (int i = 0; i < 64 && transport_.fd != net::kInvalidFd; ++i) {
            const auto& tls = transport_.tls;
            auto r =
                tls ? tls->read(buf, sizeof buf) : net::recvSome(transport_.fd, buf, sizeof buf);
            if (r.status == net::IoStatus::WouldBlock) return;
            if (r.status == net::IoStatus::Reset || r.status == net::IoStatus::Error)
                return finish(false, "recv: " + (tls ? tls->failure() : net::errorText(r.error)));
            bool eof = r.status == net::IoStatus::Eof;
            if (handle(session_->onData(std::string_view(buf, r.bytes), eof, out_))) return;
            if (eof) return finish(false, "connection closed before the probe decided");
            if (!out_.empty() && !flush()) return;
        }
    }

    void abort() {
        connector_.cancel();
        transport_.close(owner_.loop_, tls::Transport::CloseMode::Abrupt);
        transport_.tls.reset();
        owner_.loop_.cancel(timeout_);
        session_.reset();
    }

    void finish(bool ok, const std::string& reason) {
        Outcome o;
        o.ok = ok;
        o.reason = reason;
        finish(o);
    }
    void finish(Outcome outcome) {
        abort();
        outcome.took = owner_.loop_.now() - started_;
        owner_.record(*backend_, outcome);
    }

    HealthChecker& owner_;
    std::shared_ptr<Backend> backend_;
    net::Timer next_;
    net::Timer timeout_;
    tls::Transport transport_;  ///< closed between checks
    BackendConnector connector_;
    bool stopped_ = false;
    std::string out_;
    std::string alpn_;  ///< TLS probes: the plugin's ALPN list in wire format
    char header_[64];   ///< the PROXY header being sent
    std::unique_ptr<plugin::ProbeSession> session_;
    net::Clock::time_point started_{};
};

HealthChecker::HealthChecker(net::EventLoop& loop, Pool& pool) : loop_(loop), pool_(pool) {}

HealthChecker::~HealthChecker() {
    for (auto& [b, task] : tasks_) task->stopForGood();
}

void HealthChecker::sync() {
    std::unordered_map<Backend*, bool> present;
    for (auto& b : pool_.backends()) {
        present[b.get()] = true;
        auto& task = tasks_[b.get()];
        if (!task) {
            task = std::make_unique<Task>(*this, b);
            task->start();
        }
    }
    for (auto it = tasks_.begin(); it != tasks_.end();) {
        if (!present.count(it->first)) {
            it->second->stopForGood();
            // It may be the handler of an event or timer of this very round.
            loop_.destroyLater(it->second.release());
            it = tasks_.erase(it);
        } else {
            ++it;
        }
    }
}

void HealthChecker::notePassiveDown(Backend& b) {
    b.probed_once = true;  // not "first success marks it up"
    b.consecutive_ok = 0;
    b.consecutive_fail = std::max(b.consecutive_fail, pool_.config().probe->unhealthy_threshold);
}

void HealthChecker::record(Backend& b, const Outcome& outcome) {
    const auto& probe = *pool_.config().probe;
    const bool ok = outcome.ok;
    const std::string& reason = outcome.reason;
    b.probe_duration.observe(outcome.took);
    b.setLastProbe({std::chrono::system_clock::now(), ok,
                    std::chrono::duration_cast<std::chrono::nanoseconds>(outcome.took),
                    ok ? std::string() : reason});
    bool was_up = b.up.load();
    bool now_up = was_up;
    std::string fields = "pool=" + common::logfmtValue(pool_.name()) + " backend=" + b.address_text;
    // Utilization and "drain" come with successful checks only; a failed one keeps the last known
    // values (a backend that is down gets no traffic anyway). Every change is applied (and the
    // snapshot republished) before it is logged, so a log line describes what traffic sees.
    const double limit = pool_.config().max_utilization;
    const double utilization_before = b.utilization.load();
    const bool utilization_crossed = ok && pool_.config().balancing_mode == config::BalancingMode::Utilization &&
                                     (outcome.utilization > limit) != (utilization_before > limit);
    const bool drain_changed = ok && outcome.drain != b.probe_drain.load();
    if (ok) {
        b.utilization.store(outcome.utilization);
        if (drain_changed) b.probe_drain.store(outcome.drain);
    }
    if (ok) {
        b.consecutive_fail = 0;
        ++b.consecutive_ok;
        if (!was_up && (!b.probed_once || b.consecutive_ok >= probe.healthy_threshold)) now_up = true;
    } else {
        b.consecutive_ok = 0;
        ++b.consecutive_fail;
        if (was_up && b.consecutive_fail >= probe.unhealthy_threshold) now_up = false;
    }
    bool first = !b.probed_once;
    b.probed_once = true;
    if (now_up != was_up) b.up.store(now_up);
    // Passive health counts connect failures from here on (see passive_health.h).
    if (now_up && !was_up) b.connect_failure_streak.store(0, std::memory_order_relaxed);
    if (now_up != was_up || drain_changed) pool_.republish();
    if (utilization_crossed)
        POSTERN_LOG(Info, outcome.utilization > limit ? "backend over max_utilization" : "backend under max_utilization",
                    fields + " utilization=" + std::to_string(outcome.utilization) +
                        " max_utilization=" + std::to_string(limit));
    if (drain_changed)
        POSTERN_LOG(Info, outcome.drain ? "backend draining" : "backend ready", fields + " source=probe");
    if (now_up != was_up) {
        if (now_up) POSTERN_LOG(Info, "backend up", fields);
        else POSTERN_LOG(Warn, "backend down", fields + " reason=" + common::logfmtValue(reason));
    } else if (first && !ok) {
        POSTERN_LOG(Warn, "backend down", fields + " reason=" + common::logfmtValue(reason));
    } else if (!ok) {
        POSTERN_LOG(Debug, "probe failed", fields + " reason=" + common::logfmtValue(reason));
    }
}

}  // namespace postern::upstream
