/* Test plugin written in plain C (C11), built against abi.h alone: proves the boundary is a C ABI.
 * A probe that sends "PING\r\n" and is healthy when the reply starts with "PONG". */
#include <stdlib.h>
#include <string.h>

#include "postern/plugin/abi.h"

typedef struct session {
    int dummy;
} session;

static void* probe_create(const postern_config* config, const postern_host* host) {
    (void)config;
    (void)host;
    static int instance;
    return &instance;
}
static void probe_destroy(void* probe) { (void)probe; }
static void probe_transport(void* probe, postern_probe_transport* out) {
    (void)probe;
    out->tls = 0;
}
static void* session_new(void* probe, const postern_backend* backend) {
    (void)probe;
    (void)backend;
    return calloc(1, sizeof(session));
}
static void session_destroy(void* s) { free(s); }
static postern_verdict on_connected(void* s, const postern_output* out) {
    (void)s;
    postern_str ping = {"PING\r\n", 6};
    out->write(out->ctx, ping);
    return POSTERN_VERDICT_NEED_MORE;
}
static postern_verdict on_data(void* s, const char* data, size_t size, int eof, const postern_output* out) {
    (void)s;
    (void)out;
    if (size >= 4 && memcmp(data, "PONG", 4) == 0) return POSTERN_VERDICT_HEALTHY;
    if (eof || size >= 4) return POSTERN_VERDICT_UNHEALTHY;
    return POSTERN_VERDICT_NEED_MORE;
}

static const postern_probe_ops ops = {probe_create, probe_destroy, probe_transport, session_new,
                                      session_destroy, on_connected, on_data, NULL};

POSTERN_PLUGIN_EXPORT const struct postern_plugin_descriptor postern_plugin_descriptor = {
    POSTERN_PLUGIN_ABI_VERSION, sizeof(postern_descriptor), POSTERN_KIND_PROBE, "plain_c", "1.0.0",
    "c", NULL, NULL, &ops};
