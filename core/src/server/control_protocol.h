// The control channel's line protocol: what `postern reload | status | metrics` send to the
// running instance over its control socket (a Unix domain socket; a named pipe on Windows) and
// what they read back.
//
//   request   reload\n  |  status\n  |  metrics\n
//   reply     applied generation=N\n  |  rejected generation=N\n  |  failed\n  (reload)
//             data bytes=N\n BODY \n                   (status, metrics: BODY is exactly N bytes)
//             warning TEXT\n ...       keys that need a restart, and the like (any status)
//             error TEXT\n ...         file:line:col: message when rejected; the reason when failed
//             end\n
//
// One request per connection. TEXT is one line (a newline in it is sent as a space). BODY is any
// bytes (the /status JSON, the /metrics text, with lines of their own): the decoder takes exactly
// N bytes and then expects the newline after them, so a line "end" inside BODY ends nothing. "end"
// marks a complete reply: a reply cut short is not mistaken for one. An unknown request is answered
// "failed" with an error naming the requests this build understands (an older postern answers
// "status" that way too). The reload exchange is unchanged since the first release. Pure; any
// thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::server {

inline constexpr std::string_view kControlReloadRequest = "reload";
inline constexpr std::string_view kControlStatusRequest = "status";    ///< the /status JSON
inline constexpr std::string_view kControlMetricsRequest = "metrics";  ///< the /metrics text
/** Longest request line a server reads; longer is an error. */
inline constexpr std::size_t kControlMaxRequest = 256;
/** Largest BODY a server sends and a client accepts. The metrics of 1,000 probed backends are
 * about 1.9 MB: room for ten times that, and still a bound on what a client buffers. */
inline constexpr std::size_t kControlMaxBody = 24 * 1024 * 1024;
/** Longest reply a client reads (errors of a large config included; a BODY and its lines). */
inline constexpr std::size_t kControlMaxReply = kControlMaxBody + 4 * 1024 * 1024;

struct ControlReply {
    enum class Status { Applied, Rejected, Failed, Data };
    Status status = Status::Failed;
    std::uint64_t generation = 0;  ///< serving after the request (Applied, Rejected)
    std::string body;              ///< Data: the document asked for
    std::vector<std::string> warnings;
    std::vector<std::string> errors;
};

std::string encodeControlReply(const ControlReply& reply);

/** A complete reply (through "end"), or nullopt with *error saying what was wrong with `text`. */
std::optional<ControlReply> decodeControlReply(std::string_view text, std::string* error);

/** The exit code of `postern reload` for a reply: 0 applied (or data), 2 rejected, 1 failed. */
int controlExitCode(const ControlReply& reply);

}  // namespace postern::server
