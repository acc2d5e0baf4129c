#include "posix/posix_platform.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "config/model.h"
#include "posix/privileges.h"
#include "posix/signals.h"

namespace postern::service {

namespace {

// sd-daemon(3) priority prefixes: journald strips "<N>" and files the line at that priority.
void journalSink(common::LogLevel level, std::string_view line) {
    std::string out(common::journalPrefix(level));
    out.append(line);
    (void)!::write(2, out.data(), out.size());
}

/** True when stderr is the journal stream systemd connected ($JOURNAL_STREAM = "dev:inode"). */
bool stderrIsJournal() {
    const char* env = std::getenv("JOURNAL_STREAM");
    if (!env) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (::fstat(2, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}

}  // namespace

PosixPlatform::PosixPlatform() {
    std::string error;
    notifier_ = SdNotifier::fromEnvironment(&error);
    if (!error.empty())
        POSTERN_LOG(Warn, "no readiness notifications", "error=" + common::logfmtValue(error));
    if (stderrIsJournal()) common::Log::setSink(&journalSink);
}

PosixPlatform::~PosixPlatform() {
    stopped();
    control_socket_.reset();
}

std::filesystem::path PosixPlatform::defaultConfigPath() const {
    return "/etc/postern/postern.toml";
}

bool PosixPlatform::started(const config::Config& config, std::string* error) {
    // The control socket first: its file is chowned to [gateway] user, which needs root.
    const auto& g = config.gateway;
    if (!g.control_socket.empty()) {
        std::string why;
        auto failure = ControlSocketServer::OpenFailure::Other;
        control_socket_ = ControlSocketServer::open(g.control_socket, g.user, &why, &failure);
        if (!control_socket_) {
            // Only the default may be missing (postern run by hand, without /run/postern): an
            // instance that cannot take a path it was given, or finds another one on it, fails.
            if (g.control_socket_set || failure != ControlSocketServer::OpenFailure::Unavailable) {
                *error = why;
                return false;
            }
            POSTERN_LOG(Warn,
                        "no control socket: `postern reload` cannot reach this instance (SIGHUP "
                        "still reloads; set [gateway] control_socket to a path postern may create)",
                        "error=" + common::logfmtValue(why));
        }
    }
    const std::string& user = g.user;
    if (!user.empty()) {
        if (!dropPrivileges(user, error)) return false;
        POSTERN_LOG(Info, "running as user",
                    "user=" + common::logfmtValue(user) + " uid=" + std::to_string(::getuid()) +
                        " gid=" + std::to_string(::getgid()));
    }
    ready_status_ = "listening; " + std::to_string(config.listeners.size()) + " listener(s), " +
                    std::to_string(config.gateway.workers) + " worker(s)";
    std::string notify_error;
    if (!notifier_.ready(ready_status_, &notify_error))
        POSTERN_LOG(Warn, "readiness notification failed",
                    "error=" + common::logfmtValue(notify_error));
    return true;
}

void PosixPlatform::waitForStop(const RunControl& control) {
    // Every thread has the signals blocked (main() did it before any thread): this one takes them
    // with sigwait, also while the main thread drains in Gateway::shutdown().
    signal_thread_ = std::thread([this, &control] { signalLoop(control); });
    if (control_socket_) control_socket_->start(queue_, control);
    queue_.serve(
        control,
        [this] {
            std::string e;
            if (!notifier_.reloading(&e))
                POSTERN_LOG(Warn, "reloading notification failed",
                            "error=" + common::logfmtValue(e));
        },
        [this](const server::ControlReply& reply) {
            // READY=1 after success and failure alike: the service is up either way; the STATUS
            // line and `postern reload`'s exit code say which.
            std::string status =
                reply.status == server::ControlReply::Status::Applied
                    ? "reloaded: configuration generation " + std::to_string(reply.generation)
                    : "reload rejected (" + std::to_string(reply.errors.size()) +
                          " error(s)); still serving generation " +
                          std::to_string(reply.generation);
            std::string e;
            if (!notifier_.ready(status, &e))
                POSTERN_LOG(Warn, "readiness notification failed",
                            "error=" + common::logfmtValue(e));
        });
}

void PosixPlatform::signalLoop(const RunControl& control) {
    bool stop_posted = false;
    for (;;) {
        const int sig = waitForSignal();
        if (signal_thread_quit_.load()) return;  // stopped() woke us (SIGUSR2 to this thread)
        if (sig < 0) {
            // Never seen (sigwait fails only for an invalid set): stop cleanly rather than run on
            // deaf to SIGTERM.
            POSTERN_LOG(Error, "cannot wait for signals any more: stopping", "");
            if (!stop_posted) queue_.post({RequestQueue::Kind::Stop, "sigwait failed", {}});
            return;
        }
        const std::string name = std::string("signal=SIG") + ::sigabbrev_np(sig);
        switch (sig) {
            case SIGHUP:
                if (stop_posted) {
                    POSTERN_LOG(Warn, "reload ignored: postern is stopping", name);
                    break;
                }
                POSTERN_LOG(Info, "SIGHUP received: reloading the configuration", "");
                queue_.post({RequestQueue::Kind::Reload, "SIGHUP", {}});
                break;
            case SIGUSR1:
                POSTERN_LOG(Info, "SIGUSR1 received: reopening the log files", "");
                // While running, on the main thread (serialized with reloads); while draining the
                // main thread is in shutdown() and nothing else changes the log: here.
                if (stop_posted || !queue_.post({RequestQueue::Kind::ReopenLogs, "SIGUSR1", {}}))
                    control.reopen_logs();
                break;
            case SIGUSR2:
                POSTERN_LOG(Info, "SIGUSR2 received: ignored (postern gives it no meaning)", "");
                break;
            case SIGQUIT:
                POSTERN_LOG(Info, "SIGQUIT received: stopping at once (open connections closed)",
                            "");
                control.abort_drain();
                if (!stop_posted) queue_.post({RequestQueue::Kind::Stop, "SIGQUIT", {}});
                stop_posted = true;
                break;
            default:  // SIGTERM, SIGINT
                if (stop_posted) {
                    POSTERN_LOG(Info,
                                "second stop signal: stopping at once (open connections closed)",
                                name);
                    control.abort_drain();
                    break;
                }
                POSTERN_LOG(Info, "signal received", name);
                queue_.post({RequestQueue::Kind::Stop, name, {}});
                stop_posted = true;
                break;
        }
    }
}

void PosixPlatform::stopping() {
    queue_.close("postern is stopping; nothing was reloaded");
    if (control_socket_) control_socket_->stop();
    std::string error;
    if (!notifier_.stopping(&error))
        POSTERN_LOG(Warn, "stopping notification failed", "error=" + common::logfmtValue(error));
}

void PosixPlatform::stopped() {
    if (!signal_thread_.joinable()) return;
    signal_thread_quit_.store(true);
    ::pthread_kill(signal_thread_.native_handle(), SIGUSR2);
    signal_thread_.join();
}

std::optional<std::string> PosixPlatform::controlRequest(const std::string& socket,
                                                         std::string_view request,
                                                         std::string* error, bool* no_instance) {
    return controlSocketRequest(socket, request, error, no_instance);
}

}  // namespace postern::service
