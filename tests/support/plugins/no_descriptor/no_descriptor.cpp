// Test library: a shared library that exports something, but no postern_plugin_descriptor.
#include "postern/plugin/abi.h"

extern "C" POSTERN_PLUGIN_EXPORT int postern_not_a_plugin() { return 42; }
