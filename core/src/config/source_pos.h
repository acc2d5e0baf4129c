// A position in a TOML file (line and column, from 1; 0 = unknown). Its own header so that code
// outside the core's config model can use it (the toml++ guard is also compiled into the `file`
// discovery plugin, which sees nothing else of the core). Any thread.
#pragma once

#include <cstdint>

namespace postern::config {

struct SourcePos {
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

}  // namespace postern::config
