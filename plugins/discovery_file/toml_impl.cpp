// The one translation unit of this plugin that compiles toml++ (the others include it with
// TOML_HEADER_ONLY=0). The module's visibility is hidden, so these symbols never meet the core's
// copy of toml++ (nor another plugin's).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
