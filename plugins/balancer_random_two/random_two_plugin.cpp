// The `random_two` balancer plugin: power of two choices on open connections, weighted (see
// random_two.h). Built only against the plugin SDK, like any third-party plugin.
#include "random_two.h"

POSTERN_BALANCER_PLUGIN("random_two", "1.0.0", postern::plugins::random_two::RandomTwoFactory);
