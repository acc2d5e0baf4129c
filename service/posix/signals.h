// Signals, taken synchronously: TERM/INT/QUIT/HUP/USR1/USR2 are blocked in every thread and
// collected by sigwait() on the signal thread (posix_platform.cpp), which keeps taking them while
// the main thread drains; PIPE is blocked too, so a write to a closed socket never kills the
// process (the data path also sends with MSG_NOSIGNAL).
#pragma once

namespace postern::service {

/** Blocks the signals in the calling thread. Call first thing in main(), before any thread
 * exists: threads inherit the mask, so no thread can take a signal asynchronously. */
void blockSignals();

/** Waits for the next TERM, INT, QUIT, HUP, USR1 or USR2 and returns its number; -1 when signals
 * cannot be waited for (sigwait failed). */
int waitForSignal();

}  // namespace postern::service
