#include "posix/posix_platform.h"

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
    const char* prefix = "<6>";
    switch (level) {
        case common::LogLevel::Trace:
        case common::LogLevel::Debug:
            prefix = "<7>";
            break;
        case common::LogLevel::Info:
            prefix = "<6>";
            break;
        case common::LogLevel::Warn:
            prefix = "<4>";
            break;
        case common::LogLevel::Error:
            prefix = "<3>";
            break;
    }
    std::string out = prefix;
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

std::filesystem::path PosixPlatform::defaultConfigPath() const {
    return "/etc/postern/postern.toml";
}

bool PosixPlatform::started(const config::Config& config, std::string* error) {
    const std::string& user = config.gateway.user;
    if (!user.empty()) {
        if (!dropPrivileges(user, error)) return false;
        POSTERN_LOG(Info, "running as user",
                    "user=" + common::logfmtValue(user) + " uid=" + std::to_string(::getuid()) +
                        " gid=" + std::to_string(::getgid()));
    }
    std::string status = "listening; " + std::to_string(config.listeners.size()) +
                         " listener(s), " + std::to_string(config.gateway.workers) + " worker(s)";
    std::string notify_error;
    if (!notifier_.ready(status, &notify_error))
        POSTERN_LOG(Warn, "readiness notification failed",
                    "error=" + common::logfmtValue(notify_error));
    return true;
}

void PosixPlatform::waitForStop(const std::function<void()>& reload) {
    for (;;) {
        int sig = waitForSignal();
        if (sig == SIGHUP) {
            POSTERN_LOG(Info, "SIGHUP received: reloading the configuration", "");
            reload();
            continue;
        }
        POSTERN_LOG(Info, "signal received", std::string("signal=") + ::strsignal(sig));
        return;
    }
}

void PosixPlatform::stopping() {
    std::string error;
    if (!notifier_.stopping(&error))
        POSTERN_LOG(Warn, "stopping notification failed", "error=" + common::logfmtValue(error));
}

}  // namespace postern::service
