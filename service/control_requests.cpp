#include "control_requests.h"

#include <future>
#include <memory>

#include "common/log.h"
#include "server/control_protocol.h"

namespace postern::service {

namespace {

server::ControlReply reload(RequestQueue& queue, std::string_view channel) {
    POSTERN_LOG(Info, "reload requested over the " + std::string(channel), "");
    server::ControlReply reply;
    auto promise = std::make_shared<std::promise<server::ControlReply>>();
    auto future = promise->get_future();
    RequestQueue::Request r;
    r.kind = RequestQueue::Kind::Reload;
    r.origin = "postern reload";
    r.reply = [promise](const server::ControlReply& answer) { promise->set_value(answer); };
    if (queue.post(std::move(r)))
        reply = future.get();  // answered by the main thread, or by close() when stopping
    else
        reply.errors.push_back("postern is stopping; nothing was reloaded");
    return reply;
}

server::ControlReply read(std::string_view what, const std::function<std::string()>& source,
                          std::string_view channel) {
    POSTERN_LOG(Debug, std::string(what) + " requested over the " + std::string(channel), "");
    server::ControlReply reply;
    if (!source) {
        reply.errors.push_back("this instance has no " + std::string(what) + " to show");
        return reply;
    }
    std::string body = source();
    if (body.size() > server::kControlMaxBody) {
        reply.errors.push_back("the " + std::string(what) + " document is " +
                               std::to_string(body.size()) +
                               " bytes, more than the control channel carries (" +
                               std::to_string(server::kControlMaxBody) +
                               "); read it from the admin endpoint ([admin] bind)");
        return reply;
    }
    reply.status = server::ControlReply::Status::Data;
    reply.body = std::move(body);
    return reply;
}

}  // namespace

std::string answerControlRequest(std::string_view line, RequestQueue& queue,
                                 const RunControl& control, std::string_view channel) {
    server::ControlReply reply;
    if (line == server::kControlReloadRequest) {
        reply = reload(queue, channel);
    } else if (line == server::kControlStatusRequest) {
        reply = read("status", control.status_json, channel);
    } else if (line == server::kControlMetricsRequest) {
        reply = read("metrics", control.metrics_text, channel);
    } else {
        reply.errors.push_back(
            "unknown request '" + std::string(line) +
            "' (this postern understands: " + std::string(server::kControlReloadRequest) + ", " +
            std::string(server::kControlStatusRequest) + ", " +
            std::string(server::kControlMetricsRequest) + ")");
    }
    return server::encodeControlReply(reply);
}

}  // namespace postern::service
