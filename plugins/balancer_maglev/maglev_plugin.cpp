// The `maglev` balancer plugin: consistent hashing on the client IP (see maglev.h). Built only
// against the plugin SDK, like any third-party plugin.
#include "maglev.h"

POSTERN_BALANCER_PLUGIN("maglev", "1.0.0", postern::plugins::maglev::MaglevFactory);
