// Requests for the main thread of `postern run`: stop, reload, reopen the logs. Whoever asks —
// the signal thread (SIGTERM, SIGHUP, SIGUSR1), the control socket's thread (`postern reload`),
// the Windows service control handler (STOP, PARAMCHANGE) — posts here; the main thread takes
// them one at a time, so reloads from every source are serialized and run on the thread that
// started the gateway. Any thread posts; one thread takes.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>

#include "server/control_protocol.h"

namespace postern::service {

/** What the running gateway offers the platform while it waits for a stop. */
struct RunControl {
    /** Re-reads the config and applies it (or not); logs the outcome. Main thread. `origin`
     * names who asked ("SIGHUP", "control socket", ...). */
    std::function<server::ControlReply(const std::string& origin)> reload;
    /** Opens the access log file again (SIGUSR1, after a rotation). Any thread. */
    std::function<void()> reopen_logs;
    /** A shutdown in progress stops waiting for connections and closes them now. Any thread. */
    std::function<void()> abort_drain;
    /** The /status JSON and the /metrics text, as the admin endpoint answers them (`postern
     * status | metrics` over the control channel). Any thread: Gateway::snapshot(). */
    std::function<std::string()> status_json;
    std::function<std::string()> metrics_text;
};

class RequestQueue {
public:
    enum class Kind { Stop, Reload, ReopenLogs };
    using Reply = std::function<void(const server::ControlReply&)>;
    struct Request {
        Kind kind = Kind::Stop;
        std::string origin;
        Reply reply;  ///< Reload only, may be empty; called on the main thread
    };

    /** False once close() ran: the request is dropped (its reply is not called). */
    bool post(Request request);
    /** Blocks until a request is there. */
    Request take();
    /** No more requests: pending reloads are answered `failed` with `why`. */
    void close(const std::string& why);

    /** The main loop: takes requests and runs them through `control` until a Stop. Around each
     * reload, `before_reload()` and `after_reload(reply)` (sd_notify, say); either may be empty. */
    void serve(const RunControl& control, const std::function<void()>& before_reload,
               const std::function<void(const server::ControlReply&)>& after_reload);

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<Request> queue_;
    bool closed_ = false;
};

}  // namespace postern::service
