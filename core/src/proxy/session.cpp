#include "proxy/session.h"

#include "proxy/worker_context.h"

namespace postern::proxy {

Session::Session(WorkerContext& worker, std::shared_ptr<const ListenerContext> listener)
    : worker_(worker), listener_(std::move(listener)) {
    next = worker_.sessions;
    if (next) next->prev = this;
    worker_.sessions = this;
    ++worker_.session_count;
}

void Session::retire() {
    if (prev)
        prev->next = next;
    else
        worker_.sessions = next;
    if (next) next->prev = prev;
    prev = next = nullptr;
    --worker_.session_count;
    worker_.loop.destroyLater(this);
}

}  // namespace postern::proxy
