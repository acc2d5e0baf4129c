// postern/plugin/host.h — services the host offers every plugin instance (logging).
// Part of the header-only plugin SDK: standard library and abi.h only.
#pragma once

#include <string_view>

#include "postern/plugin/abi.h"
#include "postern/plugin/str.h"

namespace postern::sdk {

enum class LogLevel : int {
    Trace = POSTERN_LOG_TRACE,
    Debug = POSTERN_LOG_DEBUG,
    Info = POSTERN_LOG_INFO,
    Warn = POSTERN_LOG_WARN,
    Error = POSTERN_LOG_ERROR,
};

/** The host's services, as handed to `create`. A cheap copyable handle: a plugin may keep a copy
 * in the object it creates, because the underlying postern_host is valid for the life of that
 * instance. Every method may be called from any thread, concurrently. */
class Host {
public:
    /** A host that drops everything (used when the core passes none). */
    Host() noexcept = default;
    /** Wraps the host's table; `host` may be NULL. */
    explicit Host(const postern_host* host) noexcept : host_(host) {}

    /** Writes one log line through the host's log, tagged with the plugin's name. Any thread.
     * The message is copied before the call returns. */
    void log(LogLevel level, std::string_view message) const noexcept {
        if (host_ != nullptr && host_->log != nullptr)
            host_->log(host_->ctx, static_cast<postern_log_level>(level), str(message));
    }
    /** log(LogLevel::Trace, message). Any thread. */
    void trace(std::string_view message) const noexcept { log(LogLevel::Trace, message); }
    /** log(LogLevel::Debug, message). Any thread. */
    void debug(std::string_view message) const noexcept { log(LogLevel::Debug, message); }
    /** log(LogLevel::Info, message). Any thread. */
    void info(std::string_view message) const noexcept { log(LogLevel::Info, message); }
    /** log(LogLevel::Warn, message). Any thread. */
    void warn(std::string_view message) const noexcept { log(LogLevel::Warn, message); }
    /** log(LogLevel::Error, message). Any thread. */
    void error(std::string_view message) const noexcept { log(LogLevel::Error, message); }

    /** The underlying ABI table (may be NULL). Any thread. */
    const postern_host* raw() const noexcept { return host_; }

private:
    const postern_host* host_ = nullptr;
};

}  // namespace postern::sdk
