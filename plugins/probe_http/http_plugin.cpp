// The `http` probe plugin: sends `GET <path>` with a Host header and `Connection: close`, and
// judges the response head: healthy when the status is in `expect_status` (default "200-399");
// an `X-Utilization` header ("0.72" or "72%") feeds utilization balancing (see http_probe.h).
#include "http_probe.h"

POSTERN_PROBE_PLUGIN("http", "1.0.0", postern::plugins::http_probe::HttpProbeOver<false>);
