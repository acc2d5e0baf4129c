#include "request_queue.h"

#include "common/log.h"

namespace postern::service {

bool RequestQueue::post(Request request) {
    {
        std::lock_guard lock(mutex_);
        if (closed_) return false;
        queue_.push_back(std::move(request));
    }
    cv_.notify_one();
    return true;
}

RequestQueue::Request RequestQueue::take() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !queue_.empty(); });
    Request r = std::move(queue_.front());
    queue_.pop_front();
    return r;
}

void RequestQueue::close(const std::string& why) {
    std::deque<Request> pending;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        pending.swap(queue_);
    }
    server::ControlReply failed;
    failed.errors.push_back(why);
    for (auto& r : pending)
        if (r.kind == Kind::Reload && r.reply) r.reply(failed);
}

void RequestQueue::serve(const RunControl& control, const std::function<void()>& before_reload,
                         const std::function<void(const server::ControlReply&)>& after_reload) {
    for (;;) {
        Request r = take();
        switch (r.kind) {
            case Kind::Stop:
                return;
            case Kind::ReopenLogs:
                control.reopen_logs();
                break;
            case Kind::Reload: {
                if (before_reload) before_reload();
                const server::ControlReply reply = control.reload(r.origin);
                if (after_reload) after_reload(reply);
                if (r.reply) r.reply(reply);
                break;
            }
        }
    }
}

}  // namespace postern::service
