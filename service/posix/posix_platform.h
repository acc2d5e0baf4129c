// Platform for Linux (and other POSIX systems): signals through sigwait on a thread of their own,
// the control socket for `postern reload`, readiness through sd_notify, [gateway] user through
// setuid, and journal priorities on stderr under systemd.
//
// Signals (SPEC §5): TERM/INT drain and stop, a second one during the drain stops at once; QUIT
// stops at once; HUP reloads; USR1 reopens the access log file; USR2 is logged and ignored.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "platform.h"
#include "posix/control_socket.h"
#include "posix/sd_notify.h"
#include "request_queue.h"

namespace postern::service {

class PosixPlatform final : public Platform {
public:
    /** Call in main() before any thread: takes $NOTIFY_SOCKET and $JOURNAL_STREAM. */
    PosixPlatform();
    ~PosixPlatform() override;

    std::filesystem::path defaultConfigPath() const override;
    bool started(const config::Config& config, std::string* error) override;
    void waitForStop(const RunControl& control) override;
    RequestQueue& requests() override { return queue_; }
    void stopping() override;
    void stopped() override;
    std::optional<std::string> controlRequest(const std::string& socket, std::string_view request,
                                              std::string* error, bool* no_instance) override;

private:
    void signalLoop(const RunControl& control);

    SdNotifier notifier_;
    std::string ready_status_;  ///< the STATUS= of READY=1 at start
    RequestQueue queue_;
    std::unique_ptr<ControlSocketServer> control_socket_;
    std::thread signal_thread_;
    std::atomic<bool> signal_thread_quit_{false};
};

}  // namespace postern::service
