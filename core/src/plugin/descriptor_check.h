// Validates an exported plugin descriptor before the host calls anything in the library: ABI
// version first (only the two frozen fields are read for a foreign ABI), then size, kind, name,
// version and the function table of the declared kind. Pure function, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "postern/plugin/abi.h"

namespace postern::plugin {

/** nullopt when the descriptor is usable by this host; otherwise why not, e.g.
 * "built for plugin ABI 99 (this postern uses 1)" (the caller prefixes "plugin <file>: "). */
std::optional<std::string> checkDescriptor(const postern_descriptor& descriptor);

/** Whether `name` is a valid plugin name: [a-z0-9_]+, at most 64 characters. */
bool validPluginName(std::string_view name);

}  // namespace postern::plugin
