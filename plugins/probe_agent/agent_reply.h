// The `agent` probe's reading of an agent's reply line, HAProxy agent-check style: words
// separated by spaces, tabs or commas, case-insensitive —
//   up | ready                      healthy
//   down | fail | stopped | maint   unhealthy
//   drain                           healthy, but no new connections
//   <number>%                       utilization (e.g. "72%" = 0.72), for utilization balancing
// and an optional "#" after which the rest of the line is a free-text description (the reason a
// "down" is logged with). "down" outranks "drain", which outranks "up"; a line with only a
// percentage is healthy. Any other word makes the check fail, so a typo in an agent is seen.
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "postern/plugin/sdk.h"

namespace postern::plugins::agent_probe {

/** Longest reply line read; a longer one fails the check. */
inline constexpr std::size_t kMaxLine = 1024;

struct AgentReply {
    postern::sdk::Verdict verdict = postern::sdk::Verdict::Unhealthy;
    double utilization = -1.0;  ///< negative: the line carried no percentage
    std::string reason;         ///< why Unhealthy (or the agent's own description)
};

/** Judges one line (without its line end). */
AgentReply parseAgentReply(std::string_view line);

}  // namespace postern::plugins::agent_probe
