// The `https` probe plugin: the `http` probe over TLS. The core makes the TLS connection with the
// pool's `[pool.backend]` tls_* settings (CA, verification, client certificate) and this probe's
// `sni`, offering ALPN http/1.1; a handshake or certificate failure fails the check.
#include "http_probe.h"

POSTERN_PROBE_PLUGIN("https", "1.0.0", postern::plugins::http_probe::HttpProbeOver<true>);
