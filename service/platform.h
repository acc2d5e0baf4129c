// What `postern run` needs from the operating system, behind one small interface: the default
// config path, what to do once listeners are bound (privilege drop, service-manager readiness),
// how to wait for a stop request, and where a foreground error goes. Implemented by
// posix/posix_platform.cpp (signals, sd_notify, setuid) and windows/service.cpp (service control,
// Event Log). Main thread only.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

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

    /** Listeners are bound and workers run. False (with *error) aborts the start: exit 1. */
    virtual bool started(const config::Config& config, std::string* error) = 0;
    /** Blocks until a stop is requested (SIGTERM/SIGINT, service stop, Ctrl-C). A reload request
     * met meanwhile (SIGHUP) runs `reload` on the waiting thread and waiting goes on. */
    virtual void waitForStop(const std::function<void()>& reload) = 0;
    /** Shutdown begins (listeners close, connections drain). */
    virtual void stopping() = 0;

    /** A line the user must see (config errors, fatal errors): stderr, or the Event Log when
     * running as a Windows service. */
    virtual void error(std::string_view line);
};

}  // namespace postern::service
