// Platform for Linux (and other POSIX systems): signals through sigwait, readiness through
// sd_notify, [gateway] user through setuid, and journal priorities on stderr under systemd.
#pragma once

#include "platform.h"
#include "posix/sd_notify.h"

namespace postern::service {

class PosixPlatform final : public Platform {
public:
    /** Call in main() before any thread: takes $NOTIFY_SOCKET and $JOURNAL_STREAM. */
    PosixPlatform();

    std::filesystem::path defaultConfigPath() const override;
    bool started(const config::Config& config, std::string* error) override;
    void waitForStop(const std::function<void()>& reload) override;
    void stopping() override;

private:
    SdNotifier notifier_;
};

}  // namespace postern::service
