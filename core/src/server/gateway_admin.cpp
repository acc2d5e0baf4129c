// The Gateway as the admin endpoint's model (admin::AdminModel): backend drain / enable by hand,
// POST /reload through the service's queue, and the admin server's own life (start, reload,
// shutdown). metricsText() and statusJson() live with the metrics.
#include <future>

#include "admin/admin_request.h"
#include "admin/dashboard.h"
#include "common/log.h"
#include "server/gateway.h"

namespace postern::server {

namespace {

std::string actionJson(const std::string& pool, const std::string& backend, std::string_view action,
                       std::string_view result) {
    return "{\"pool\":" + admin::jsonString(pool) + ",\"backend\":" + admin::jsonString(backend) +
           ",\"action\":\"" + std::string(action) + "\",\"result\":\"" + std::string(result) +
           "\"}";
}


}  // namespace

void Gateway::setReloadRequester(ReloadRequester requester) {
    std::lock_guard<std::mutex> lock(admin_mutex_);
    reload_requester_ = std::move(requester);
}

std::optional<net::SocketAddress> Gateway::adminAddress() const {
    std::lock_guard<std::mutex> lock(admin_mutex_);
    if (!admin_) return std::nullopt;
    return admin_->address();
}

void Gateway::reload(std::function<void(const server::ControlReply&)> done) {
    ReloadRequester requester;
    {
        std::lock_guard<std::mutex> lock(admin_mutex_);
        requester = reload_requester_;
    }
    if (requester && requester(done)) return;
    ControlReply failed;
    failed.status = ControlReply::Status::Failed;
    failed.errors.push_back(requester ? "postern is stopping; nothing was reloaded"
                                      : "this instance cannot reload from the admin endpoint");
    done(failed);
}

void Gateway::backendAction(std::string_view pool, std::string_view backend, BackendAction action,
                            std::function<void(admin::ActionResult)> done) {
    control_loop_.post(
        [this, pool = std::string(pool), backend = std::string(backend), action,
         done = std::move(done)] { done(backendActionOnControl(pool, backend, action)); });
}

admin::ActionResult Gateway::backendActionOnControl(const std::string& pool_name,
                                                    const std::string& address,
                                                    BackendAction action) {
    const bool drain = action == BackendAction::Drain;
    const std::string_view verb = drain ? "drain" : "enable";
    std::shared_ptr<upstream::Pool> pool = poolNamed(pool_name);
    if (!pool) return {404, admin::errorJson("no pool named '" + pool_name + "'")};
    std::shared_ptr<upstream::Backend> backend;
    for (const auto& b : pool->backends())
        if (b->address_text == address) backend = b;
    if (!backend)
        return {404, admin::errorJson("pool '" + pool_name + "' has no backend '" + address +
                                      "' (backends are named ip:port as /status shows them)")};
    const std::string fields =
        "pool=" + common::logfmtValue(pool_name) + " backend=" + backend->address_text;
    if (drain) {
        if (backend->admin_drained.load())
            return {200, actionJson(pool_name, address, verb, "already draining")};
        backend->admin_drained.store(true);
        pool->republish();  // no new connections from now on
        const config::Millis timeout = pool->config().drain_timeout;
        backendRetired(backend, timeout);  // open ones are cut at the pool's drain deadline
        POSTERN_LOG(Info, "backend drained by admin",
                    fields + " active=" + std::to_string(backend->active.load()) +
                        " drain_timeout=" +
                        (timeout == config::kUnlimited ? std::string("unlimited")
                                                       : std::to_string(timeout.count()) + "ms"));
        return {200, actionJson(pool_name, address, verb, "drained")};
    }
    if (!backend->admin_drained.load())
        return {200, actionJson(pool_name, address, verb, "already enabled")};
    backend->admin_drained.store(false);
    pool->republish();
    backendReturned(backend);  // its open connections are no longer cut
    POSTERN_LOG(Info, "backend enabled by admin",
                fields + " up=" + (backend->up.load() ? "true" : "false"));
    return {200, actionJson(pool_name, address, verb, "enabled")};
}

bool Gateway::bindAdmin(admin::AdminServer& server, const config::AdminConfig& config,
                        std::string* error) {
    std::string why;
    auto address = net::SocketAddress::resolve(config.bind.host, config.bind.port, &why);
    if (address && server.bind(*address, &why)) return true;
    *error = "cannot bind the admin endpoint to " +
             (address ? address->toString() : config.bind.text) + ": " + why;
    return false;
}

bool Gateway::prepareAdmin(const config::AdminConfig& next, std::string* error) {
    if (!next.enabled) return true;
    const config::AdminConfig& now = config_->admin;
    if (admin_) {
        if (now.enabled && now.bind.host == next.bind.host && now.bind.port == next.bind.port)
            return true;
        // The new socket is bound here; the running server swaps to it on its loop.
        return bindAdmin(*admin_, next, error);
    }
    admin_pending_ = std::make_unique<admin::AdminServer>(*this, admin::dashboardHtml());
    if (!bindAdmin(*admin_pending_, next, error)) {
        admin_pending_.reset();
        return false;
    }
    return true;
}

void Gateway::applyAdmin(const config::AdminConfig& next) {
    if (!next.enabled) {
        std::unique_ptr<admin::AdminServer> gone;
        {
            std::lock_guard<std::mutex> lock(admin_mutex_);
            gone = std::move(admin_);
        }
        if (gone) {
            gone->stop();
            POSTERN_LOG(Info, "admin endpoint closed", "");
        }
        return;
    }
    const admin::Access access(next.token, next.protect_reads);
    const bool moved = admin_pending_ || !config_ || !config_->admin.enabled ||
                       config_->admin.bind.host != next.bind.host ||
                       config_->admin.bind.port != next.bind.port;
    if (admin_pending_) {
        admin_pending_->setAccess(access);
        admin_pending_->start();
        std::lock_guard<std::mutex> lock(admin_mutex_);
        admin_ = std::move(admin_pending_);
    } else {
        admin_->setAccess(access);
    }
    if (moved)
        POSTERN_LOG(Info, "admin endpoint listening",
                    "address=" + admin_->address().toString() +
                        " token=" + (next.token.empty() ? "none" : "set") +
                        " protect_reads=" + (next.protect_reads ? "true" : "false"));
}

}  // namespace postern::server
