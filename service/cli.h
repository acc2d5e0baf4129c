// The command line: run | check | reload | status | metrics | plugins | version (SPEC §5). Exit
// codes: 0 ok, 1 runtime failure, 2 bad config or usage.
#pragma once

#include <string>
#include <vector>

#include "platform.h"

namespace postern::service {

/** `args` without the program name. */
int runCli(const std::vector<std::string>& args, Platform& platform);

/** `postern run` with an explicit file (have_path) or the platform default / built-in demo. */
int runGateway(const std::string& config_path, bool have_path, Platform& platform);

}  // namespace postern::service
