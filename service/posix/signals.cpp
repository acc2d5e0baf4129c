#include "posix/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <initializer_list>

namespace postern::service {

namespace {

sigset_t handledSet(bool with_pipe) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&set, s);
    if (with_pipe) sigaddset(&set, SIGPIPE);
    return set;
}

}  // namespace

void blockSignals() {
    sigset_t set = handledSet(true);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
}

int waitForSignal() {
    sigset_t set = handledSet(false);
    for (;;) {
        int sig = 0;
        int rc = sigwait(&set, &sig);
        if (rc == 0) return sig;
        if (rc != EINTR) return -1;  // cannot wait for signals any more
    }
}

}  // namespace postern::service
