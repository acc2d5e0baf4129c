// The control channel on Windows: a named pipe (\\.\pipe\postern by default, [gateway]
// control_socket) speaking the same line protocol as the Unix socket (server/control_protocol.h).
// `postern reload | status | metrics` connect, send one request line, read the reply; a thread of
// the running instance serves one client at a time: a reload is posted to the main thread
// (RequestQueue), status and metrics are read on this thread (control_requests.h).
//
// One instance owns the name: the pipe is created with FILE_FLAG_FIRST_PIPE_INSTANCE, so a second
// postern with the same name fails to start. Access: the pipe's default security (full control
// for LocalSystem, Administrators and the creator; read-only for others), so only an elevated
// prompt or the service's account can ask for a reload — as with `sc control postern paramchange`.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "request_queue.h"

namespace postern::service {

class ControlPipeServer {
public:
    /** Creates the pipe; nullptr with *error (*in_use when another process owns the name). */
    static std::unique_ptr<ControlPipeServer> open(const std::string& name, std::string* error,
                                                   bool* in_use);
    ~ControlPipeServer();
    ControlPipeServer(const ControlPipeServer&) = delete;
    ControlPipeServer& operator=(const ControlPipeServer&) = delete;

    /** Reloads go to `queue`, reads to `control` (both outlive stop()). */
    void start(RequestQueue& queue, const RunControl& control);
    /** Stops serving and joins the thread (close the queue first: it answers pending reloads). */
    void stop();

private:
    ControlPipeServer() = default;
    void run(RequestQueue& queue, const RunControl& control);
    void serveClient(RequestQueue& queue, const RunControl& control);

    std::string name_;
    void* pipe_ = nullptr;        ///< HANDLE
    void* stop_event_ = nullptr;  ///< HANDLE, manual reset
    void* io_event_ = nullptr;    ///< HANDLE, for the overlapped operations
    std::thread thread_;
};

/** `postern reload`'s side: nullopt with *error; *no_instance when no pipe of that name exists. */
std::optional<std::string> controlPipeRequest(const std::string& name, std::string_view request,
                                              std::string* error, bool* no_instance);

}  // namespace postern::service
