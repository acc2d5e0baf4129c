#include "posix/control_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "common/log.h"
#include "control_requests.h"
#include "server/control_protocol.h"

namespace postern::service {

namespace {

std::string errnoText(int e) { return std::strerror(e); }

bool unavailableErrno(int e) { return e == ENOENT || e == EACCES || e == EPERM || e == EROFS; }

/** sockaddr_un for `path` (the config checked its length). */
sockaddr_un unixAddress(const std::string& path, bool* ok) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    *ok = !path.empty() && path.size() < sizeof addr.sun_path;
    if (*ok) std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    return addr;
}

void setTimeouts(int fd, int recv_seconds, int send_seconds) {
    timeval rcv{recv_seconds, 0};
    timeval snd{send_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
}

bool sendAll(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

/** Whether something accepts connections on the socket file `path` right now. */
bool someoneAnswers(const std::string& path) {
    bool ok = false;
    const sockaddr_un addr = unixAddress(path, &ok);
    if (!ok) return false;
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool answers = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return answers;
}

}  // namespace

std::unique_ptr<ControlSocketServer> ControlSocketServer::open(const std::string& path,
                                                               const std::string& owner_user,
                                                               std::string* error,
                                                               OpenFailure* failure) {
    std::unique_ptr<ControlSocketServer> s(new ControlSocketServer());
    s->path_ = path;
    auto fail = [&](OpenFailure f, const std::string& why) -> std::unique_ptr<ControlSocketServer> {
        if (error) *error = "control socket " + path + ": " + why;
        if (failure) *failure = f;
        return nullptr;
    };

    // 1. The lock decides which instance owns the path (a connect test alone is racy: two
    //    instances starting together could both find the old file stale and unlink each other's).
    const std::string lock_path = path + ".lock";
    s->lock_fd_ = ::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd_ < 0) {
        const int e = errno;
        return fail(unavailableErrno(e) ? OpenFailure::Unavailable : OpenFailure::Other,
                    "cannot open " + lock_path + ": " + errnoText(e));
    }
    if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        if (e == EWOULDBLOCK)
            return fail(OpenFailure::InUse,
                        "another postern is running with this control socket (it holds " +
                            lock_path +
                            "); stop it, or give this one another [gateway] control_socket");
        return fail(OpenFailure::Other, "cannot lock " + lock_path + ": " + errnoText(e));
    }

    // 2. What a crashed instance left: a socket nobody answers on is removed; anything else
    //    stays and the start fails.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fail(OpenFailure::Other,
                        "the file exists and is not a socket; remove it or set another "
                        "[gateway] control_socket");
        if (someoneAnswers(path))
            return fail(OpenFailure::InUse,
                        "a process answers on it (not a postern holding the lock); stop it, or "
                        "give this postern another [gateway] control_socket");
        if (::unlink(path.c_str()) != 0) {
            const int e = errno;
            return fail(unavailableErrno(e) ? OpenFailure::Unavailable : OpenFailure::Other,
                        "cannot remove the stale socket file: " + errnoText(e));
        }
        POSTERN_LOG(Info, "removed a stale control socket file (no process answered on it)",
                    "path=" + common::logfmtValue(path));
    }

    // 3. Bind with mode 0660 from the start (the umask applies to a socket's file; only the main
    //    thread creates files at this point).
    bool ok = false;
    const sockaddr_un addr = unixAddress(path, &ok);
    if (!ok) return fail(OpenFailure::Other, "the path is too long for a Unix socket");
    s->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->listen_fd_ < 0) return fail(OpenFailure::Other, "socket: " + errnoText(errno));
    const mode_t old_umask = ::umask(0117);
    const int bound = ::bind(s->listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    const int bind_errno = errno;
    ::umask(old_umask);
    if (bound != 0)
        return fail(unavailableErrno(bind_errno) ? OpenFailure::Unavailable : OpenFailure::Other,
                    "bind: " + errnoText(bind_errno));
    if (!owner_user.empty() && ::geteuid() == 0) {
        std::vector<char> buf(16384);
        passwd pw{};
        passwd* found = nullptr;
        if (::getpwnam_r(owner_user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found) {
            ::unlink(path.c_str());
            return fail(OpenFailure::Other, "no user '" + owner_user + "' to give it to");
        }
        if (::chown(path.c_str(), pw.pw_uid, pw.pw_gid) != 0) {
            const int e = errno;
            ::unlink(path.c_str());
            return fail(OpenFailure::Other, "chown to " + owner_user + ": " + errnoText(e));
        }
    }
    if (::listen(s->listen_fd_, 16) != 0) {
        const int e = errno;
        ::unlink(path.c_str());
        return fail(OpenFailure::Other, "listen: " + errnoText(e));
    }
    if (::pipe2(s->wake_, O_CLOEXEC) != 0) {
        const int e = errno;
        ::unlink(path.c_str());
        return fail(OpenFailure::Other, "pipe: " + errnoText(e));
    }
    s->bound_ = true;
    return s;
}

ControlSocketServer::~ControlSocketServer() {
    stop();
    for (int fd : {listen_fd_, wake_[0], wake_[1], lock_fd_})
        if (fd >= 0) ::close(fd);
}

void ControlSocketServer::start(RequestQueue& queue, const RunControl& control) {
    thread_ = std::thread([this, &queue, &control] { run(queue, control); });
    POSTERN_LOG(Info, "control socket ready (postern reload)",
                "path=" + common::logfmtValue(path_));
}

void ControlSocketServer::stop() {
    if (thread_.joinable()) {
        const char byte = 1;
        (void)!::write(wake_[1], &byte, 1);
        thread_.join();
    }
    if (listen_fd_ >= 0) {
        ::close(listen_fd_);
        listen_fd_ = -1;
    }
    if (bound_) {
        bound_ = false;
        // With privileges dropped the folder may not be ours: the next start removes the file.
        if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
            POSTERN_LOG(Debug, "control socket file left for the next start to remove",
                        "path=" + common::logfmtValue(path_) +
                            " error=" + common::logfmtValue(errnoText(errno)));
    }
}

void ControlSocketServer::run(RequestQueue& queue, const RunControl& control) {
    for (;;) {
        pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        const int n = ::poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            POSTERN_LOG(Error,
                        "control socket: poll failed; postern reload cannot reach this "
                        "instance any more (SIGHUP still reloads)",
                        "error=" + common::logfmtValue(errnoText(errno)));
            return;
        }
        if (fds[1].revents) return;
        if (!(fds[0].revents & POLLIN)) continue;
        const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) continue;  // the client went away, or EMFILE: try again on the next one
        serveClient(client, queue, control);
        ::close(client);
    }
}

void ControlSocketServer::serveClient(int fd, RequestQueue& queue, const RunControl& control) {
    setTimeouts(fd, 5, 5);
    std::string line;
    char c = 0;
    for (;;) {
        const ssize_t n = ::recv(fd, &c, 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // closed, or silent for 5 s
        if (c == '\n') break;
        if (line.size() >= server::kControlMaxRequest) return;
        line += c;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();

    // A large body (metrics of many backends) may take the client a while to read: 30 s.
    setTimeouts(fd, 5, 30);
    sendAll(fd, answerControlRequest(line, queue, control, "control socket"));
}

std::optional<std::string> controlSocketRequest(const std::string& path, std::string_view request,
                                                std::string* error, bool* no_instance) {
    *no_instance = false;
    bool ok = false;
    const sockaddr_un addr = unixAddress(path, &ok);
    if (!ok) {
        *error = "'" + path + "' is not a usable Unix socket path";
        return std::nullopt;
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error = "socket: " + errnoText(errno);
        return std::nullopt;
    }
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        const int e = errno;
        ::close(fd);
        *no_instance = e == ENOENT || e == ECONNREFUSED || e == ENOTDIR;
        *error = "cannot connect to " + path + ": " + errnoText(e);
        if (e == EACCES || e == EPERM)
            *error += " (run it as root, or as the service's user or a member of its group)";
        return std::nullopt;
    }
    // A reload re-reads certificates and may bind listeners: give it time; a dead peer still
    // ends the wait (EOF).
    setTimeouts(fd, 300, 10);
    std::string reply;
    if (!sendAll(fd, request)) {
        *error = "cannot send the request to " + path + ": " + errnoText(errno);
        ::close(fd);
        return std::nullopt;
    }
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            *error = "no complete reply from " + path + ": " + errnoText(errno);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        reply.append(buf, static_cast<std::size_t>(n));
        if (reply.size() > server::kControlMaxReply) {
            *error = "the reply from " + path + " is too large";
            ::close(fd);
            return std::nullopt;
        }
    }
    ::close(fd);
    return reply;
}

}  // namespace postern::service
