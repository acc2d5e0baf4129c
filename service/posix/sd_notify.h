// Readiness notifications to the service manager (systemd Type=notify), without libsystemd: one
// AF_UNIX datagram per state change to $NOTIFY_SOCKET — a path, or '@' for the abstract
// namespace — exactly the protocol sd_notify(3) documents as stable for reimplementation. That
// keeps the binary free of a libsystemd dependency for ~60 lines.
#pragma once

#include <string>
#include <string_view>

namespace postern::service {

class SdNotifier {
public:
    /** Reads and unsets $NOTIFY_SOCKET, and connects to it. Call in main() before any thread
     * starts (unsetenv) and before privileges are dropped (the socket may be root-only). Without
     * $NOTIFY_SOCKET the notifier is inert; an unusable one is reported in *error. */
    static SdNotifier fromEnvironment(std::string* error);

    SdNotifier() = default;
    SdNotifier(SdNotifier&& other) noexcept;
    SdNotifier& operator=(SdNotifier&& other) noexcept;
    SdNotifier(const SdNotifier&) = delete;
    SdNotifier& operator=(const SdNotifier&) = delete;
    ~SdNotifier();

    bool active() const { return fd_ >= 0; }
    /** Sends `state` ("KEY=VALUE" lines). True when sent or inert; false with *error otherwise. */
    bool notify(std::string_view state, std::string* error = nullptr) const;

    bool ready(std::string_view status, std::string* error = nullptr) const;
    /** RELOADING=1 with MONOTONIC_USEC (systemd ≥ 253 needs it for Type=notify-reload). */
    bool reloading(std::string* error = nullptr) const;
    bool stopping(std::string* error = nullptr) const;

private:
    int fd_ = -1;
};

}  // namespace postern::service
