// What `postern run` needs from the operating system, behind one small interface: the default
// config path, what to do once listeners are bound (privilege drop, service-manager readiness),
// how to wait for a stop request (and serve reloads meanwhile), and where a foreground error goes.
// Implemented by
// posix/posix_platform.cpp (signals, sd_notify, setuid) and windows/service.cpp (service control,
// Event Log). Main thread only.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "request_queue.h"

namespace postern::config {
struct Config;
}

namespace postern::service {

class Platform {
public:
    virtual ~Platform() = default;

    /** The config `run` uses without -c when that file exists (else the built-in demo). */
    virtual std::filesystem::path defaultConfigPath() const = 0;
    /** Extra usage lines for this platform (may be empty). */
    virtual std::string_view usageExtra() const { return {}; }

    /** Listeners are bound and workers run: open the control socket ([gateway] control_socket),
     * drop privileges, tell the service manager. False (with *error) aborts the start: exit 1. */
    virtual bool started(const config::Config& config, std::string* error) = 0;
    /** Blocks until a stop is requested (SIGTERM/SIGINT, service stop, Ctrl-C). Reload requests
     * met meanwhile (SIGHUP, `postern reload`, PARAMCHANGE) run control.reload on the waiting
     * thread, one at a time, and waiting goes on. `control` stays valid until stopped(). */
    virtual void waitForStop(const RunControl& control) = 0;
    /** Where requests for the main thread go (the admin endpoint's POST /reload posts there,
     * like SIGHUP and `postern reload`). Valid from started() until stopped(). */
    virtual RequestQueue& requests() = 0;
    /** Shutdown begins (listeners close, connections drain); the control socket closes. */
    virtual void stopping() = 0;
    /** The gateway is shut down: end the platform's own threads (they may still have called
     * control.abort_drain or reopen_logs during the drain). */
    virtual void stopped() {}

    /** `postern reload`: sends `request` to the instance serving `socket` and returns the whole
     * reply; nullopt with *error, and *no_instance set when nothing serves there. */
    virtual std::optional<std::string> controlRequest(const std::string& socket,
                                                      std::string_view request, std::string* error,
                                                      bool* no_instance) = 0;

    /** `postern reload --service NAME` (Windows): the service's PARAMCHANGE control through the
     * service control manager, which does not wait for the result (it goes to the Event Log).
     * Returns the exit code. */
    virtual int reloadService(const std::string& name) {
        error("postern: reload --service " + name +
              " is for Windows services (here: postern reload, or SIGHUP)");
        return 2;
    }

    /** A line the user must see (config errors, fatal errors): stderr, or the Event Log when
     * running as a Windows service. */
    virtual void error(std::string_view line);
};

}  // namespace postern::service
