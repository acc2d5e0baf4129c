// `postern version -v`: what this binary was built with and what it runs with, one "key: value"
// per line (for bug reports). Main thread.
#pragma once

#include <string>

namespace postern::service {

/** "postern <version>\n" then the build details, each line ending in '\n'. */
std::string buildDetails();

}  // namespace postern::service
