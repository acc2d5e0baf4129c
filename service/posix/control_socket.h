// The control socket of a running postern (Unix domain, SOCK_STREAM): `postern reload | status |
// metrics` connect, send one request line and read the reply (server/control_protocol.h). A thread
// of its own accepts one client at a time: a reload is posted to the main thread (RequestQueue),
// which runs it serialized with SIGHUP's; status and metrics are read on this thread
// (control_requests.h).
//
// Ownership of the path: an exclusive flock on "<path>.lock", held for the life of the process,
// decides which instance owns the socket path. Holding it, a socket file left there by a crashed
// instance is removed (after a connect test: nobody may be answering on it); not getting it means
// another postern runs with the same path, and the start fails. The socket is mode 0660, owned by
// the [gateway] user when one is set: root and the service's user and group can reload.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "request_queue.h"

namespace postern::service {

class ControlSocketServer {
public:
    enum class OpenFailure {
        Unavailable,  ///< the folder is missing or not ours to write: no control socket here
        InUse,        ///< another instance owns the path
        Other,
    };

    /** Locks, cleans up and binds `path` (mode 0660, chowned to `owner_user` when not empty).
     * Main thread, before privileges are dropped. nullptr with *error and *failure. */
    static std::unique_ptr<ControlSocketServer> open(const std::string& path,
                                                     const std::string& owner_user,
                                                     std::string* error, OpenFailure* failure);
    ~ControlSocketServer();
    ControlSocketServer(const ControlSocketServer&) = delete;
    ControlSocketServer& operator=(const ControlSocketServer&) = delete;

    const std::string& path() const { return path_; }

    /** Starts serving: reloads go to `queue`, reads to `control` (both outlive stop()). */
    void start(RequestQueue& queue, const RunControl& control);
    /** Stops accepting, joins the thread, removes the socket file (when allowed). A request
     * being served is answered first (close the queue before: it answers pending reloads). */
    void stop();

private:
    ControlSocketServer() = default;
    void run(RequestQueue& queue, const RunControl& control);
    void serveClient(int fd, RequestQueue& queue, const RunControl& control);

    std::string path_;
    int listen_fd_ = -1;
    int lock_fd_ = -1;
    bool bound_ = false;      ///< the socket file is ours to remove
    int wake_[2] = {-1, -1};  ///< stop() writes to wake_[1]
    std::thread thread_;
};

/** `postern reload`'s side: connects to `path`, sends `request` ("reload\n") and reads the reply
 * until the server closes. nullopt with *error; *no_instance when nothing listens there. */
std::optional<std::string> controlSocketRequest(const std::string& path, std::string_view request,
                                                std::string* error, bool* no_instance);

}  // namespace postern::service
