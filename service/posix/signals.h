// Signals, taken synchronously: TERM/INT/QUIT/HUP are blocked in every thread and collected by
// sigwait() on the main thread; PIPE is blocked too, so a write to a closed socket never kills the
// process (the data path also sends with MSG_NOSIGNAL).
#pragma once

namespace postern::service {

/** Blocks the signals in the calling thread. Call first thing in main(), before any thread
 * exists: threads inherit the mask, so no thread can take a signal asynchronously. */
void blockSignals();

/** Waits for the next TERM, INT, QUIT or HUP and returns its number. */
int waitForSignal();

}  // namespace postern::service
