#include "upstream/passive_health.h"

#include <algorithm>

#include "common/log.h"
#include "upstream/health_checker.h"

namespace postern::upstream {

PassiveHealth::PassiveHealth(net::EventLoop& loop, Pool& pool, HealthChecker* health,
                             std::chrono::milliseconds ejection_time)
    : loop_(loop), pool_(pool), health_(health), ejection_time_(ejection_time), timer_(this, 0) {}

PassiveHealth::~PassiveHealth() { loop_.cancel(timer_); }

void PassiveHealth::report(std::shared_ptr<Backend> backend) {
    // The control loop is stopped (and never runs posted tasks again) before this object goes.
    loop_.post([this, b = std::move(backend)] { markDown(b); });
}

bool PassiveHealth::inPool(const Backend& b) {
    const auto& all = pool_.backends();
    return std::any_of(all.begin(), all.end(), [&](const auto& x) { return x.get() == &b; });
}

void PassiveHealth::markDown(const std::shared_ptr<Backend>& backend) {
    Backend& b = *backend;
    // Failures that were in flight when it went down may reach the threshold again: start over.
    b.connect_failure_streak.store(0, std::memory_order_relaxed);
    if (!b.up.load() || b.draining.load() || !inPool(b)) {
        b.passive_down.store(false);
        return;
    }
    const std::string fields =
        "pool=" + common::logfmtValue(pool_.name()) + " backend=" + b.address_text;
    const std::string reason =
        "passive: " + std::to_string(pool_.config().backend.passive_failures) +
        " consecutive connect failures";
    if (!health_) {
        const auto& all = pool_.backends();
        const bool another_up = std::any_of(all.begin(), all.end(), [&](const auto& x) {
            return x.get() != &b && x->takesNewConnections();
        });
        if (!another_up) {
            b.passive_down.store(false);
            // Asked again after every `passive_failures` failures while it stays dead: say it
            // once in a while, not once per streak.
            if (loop_.now() < next_kept_log_) return;
            next_kept_log_ = loop_.now() + kKeptLogInterval;
            POSTERN_LOG(Warn,
                        "backend not ejected: it is the last one up in a pool without a probe",
                        fields + " reason=" + common::logfmtValue(reason));
            return;
        }
    }
    b.up.store(false);
    b.passive_down.store(false);  // `up` says it from here on
    if (health_) health_->notePassiveDown(b);
    pool_.republish();
    if (health_) {
        POSTERN_LOG(Warn, "backend down",
                    fields + " reason=" + common::logfmtValue(reason) + " source=passive");
        return;
    }
    ejected_.push_back(Ejected{backend, loop_.now() + ejection_time_});
    armNext();
    POSTERN_LOG(Warn, "backend down",
                fields + " reason=" + common::logfmtValue(reason) +
                    " source=passive ejection_ms=" + std::to_string(ejection_time_.count()));
}

void PassiveHealth::onTimer(std::uint32_t) {
    const auto now = loop_.now();
    bool changed = false;
    std::vector<std::string> readmitted;
    for (auto it = ejected_.begin(); it != ejected_.end();) {
        if (it->until > now) {
            ++it;
            continue;
        }
        Backend& b = *it->backend;
        if (!b.up.load() && !b.draining.load() && inPool(b)) {
            b.connect_failure_streak.store(0, std::memory_order_relaxed);
            b.up.store(true);
            changed = true;
            readmitted.push_back(b.address_text);
        }
        it = ejected_.erase(it);
    }
    if (changed) pool_.republish();
    for (const auto& address : readmitted)
        POSTERN_LOG(Info, "backend up",
                    "pool=" + common::logfmtValue(pool_.name()) + " backend=" + address +
                        " source=passive reason=\"ejection time over\"");
    armNext();
}

void PassiveHealth::armNext() {
    if (ejected_.empty()) return loop_.cancel(timer_);
    auto next = ejected_.front().until;
    for (const auto& e : ejected_) next = std::min(next, e.until);
    loop_.arm(timer_, next);
}

}  // namespace postern::upstream
