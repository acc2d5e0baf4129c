// What the control channel's thread (posix/control_socket, windows/control_pipe) answers to one
// request line (server/control_protocol.h): "reload" is posted to the main thread's RequestQueue
// and waited for (serialized with SIGHUP's); "status" and "metrics" are read right here through
// RunControl::status_json / metrics_text, which take Gateway::snapshot() — documented for any
// thread: it copies the lists under a mutex and sums per-worker counters, never waits for a worker,
// the control thread or a reload. So a read answers while a long reload runs. Channel thread.
#pragma once

#include <string>
#include <string_view>

#include "request_queue.h"

namespace postern::service {

/** The encoded reply to `line` (without its newline). `channel` names the way in for the log:
 * "control socket", "control pipe". */
std::string answerControlRequest(std::string_view line, RequestQueue& queue,
                                 const RunControl& control, std::string_view channel);

}  // namespace postern::service
