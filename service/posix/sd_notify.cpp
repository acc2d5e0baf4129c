#include "posix/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

namespace postern::service {

SdNotifier SdNotifier::fromEnvironment(std::string* error) {
    SdNotifier n;
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (!env || !*env) return n;
    std::string path = env;
    ::unsetenv("NOTIFY_SOCKET");  // not inherited by anything we might start

    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof addr.sun_path) {
        if (error)
            *error = "NOTIFY_SOCKET='" + path + "' is not a unix socket path postern can use";
        return n;
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace: no trailing NUL
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                      (path[0] == '/' ? 1 : 0));

    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
        if (error)
            *error = "cannot connect to NOTIFY_SOCKET '" + path + "': " + std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return n;
    }
    n.fd_ = fd;
    return n;
}

SdNotifier::SdNotifier(SdNotifier&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

SdNotifier& SdNotifier::operator=(SdNotifier&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

SdNotifier::~SdNotifier() {
    if (fd_ >= 0) ::close(fd_);
}

bool SdNotifier::notify(std::string_view state, std::string* error) const {
    if (fd_ < 0) return true;
    ssize_t n;
    do {
        n = ::send(fd_, state.data(), state.size(), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(state.size())) return true;
    if (error)
        *error = std::string("cannot notify the service manager: ") +
                 (n < 0 ? std::strerror(errno) : "short write");
    return false;
}

bool SdNotifier::ready(std::string_view status, std::string* error) const {
    return notify("READY=1\nSTATUS=" + std::string(status), error);
}

bool SdNotifier::reloading(std::string* error) const {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ull +
                static_cast<unsigned long long>(ts.tv_nsec) / 1000;
    return notify(
        "RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec),
        error);
}

bool SdNotifier::stopping(std::string* error) const {
    return notify("STOPPING=1\nSTATUS=stopping: draining connections", error);
}

}  // namespace postern::service
