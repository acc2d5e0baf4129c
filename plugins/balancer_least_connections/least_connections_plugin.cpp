// The `least_connections` balancer plugin: weighted least connections (see least_connections.h).
// Built only against the plugin SDK, like any third-party plugin.
#include "least_connections.h"

POSTERN_BALANCER_PLUGIN("least_connections", "1.0.0",
                        postern::plugins::least_connections::LeastConnectionsFactory);
