// The control channel's line protocol: what `postern reload` sends to the running instance over
// its control socket (a Unix domain socket; a named pipe on Windows) and what it reads back.
//
//   request   reload\n
//   reply     applied generation=N\n  |  rejected generation=N\n  |  failed\n
//             warning TEXT\n ...       keys that need a restart, and the like (any status)
//             error TEXT\n ...         file:line:col: message when rejected; the reason when failed
//             end\n
//
// One request per connection. TEXT is one line (a newline in it is sent as a space). "end" marks
// a complete reply: a reply cut short is not mistaken for one. Pure; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postern::server {

inline constexpr std::string_view kControlReloadRequest = "reload";
/** Longest request line a server reads; longer is an error. */
inline constexpr std::size_t kControlMaxRequest = 256;
/** Longest reply a client reads (errors of a large config included). */
inline constexpr std::size_t kControlMaxReply = 4 * 1024 * 1024;

struct ControlReply {
    enum class Status { Applied, Rejected, Failed };
    Status status = Status::Failed;
    std::uint64_t generation = 0;  ///< serving after the request (Applied, Rejected)
    std::vector<std::string> warnings;
    std::vector<std::string> errors;
};

std::string encodeControlReply(const ControlReply& reply);

/** A complete reply (through "end"), or nullopt with *error saying what was wrong with `text`. */
std::optional<ControlReply> decodeControlReply(std::string_view text, std::string* error);

/** The exit code of `postern reload` for a reply: 0 applied, 2 rejected, 1 failed. */
int controlExitCode(const ControlReply& reply);

}  // namespace postern::server
