// The one translation unit that compiles toml++ (everything else includes it with
// TOML_HEADER_ONLY=0), so we do not depend on Debian's libtomlplusplus.so and Windows builds the same.
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
