/*
 * postern/plugin/abi.h — the Postern plugin ABI, version 2 (plain C).
 *
 * This is the only thing that crosses the boundary between the postern host and a plugin library.
 * Everything here is C: fixed-width integers, pointers, plain structs and function pointers, so a
 * plugin built with another compiler, C++ standard library or language works. No C++ object,
 * exception, std::string or allocator crosses it. The header-only C++ layer in
 * postern/plugin/sdk.h wraps it so a plugin author writes an ordinary C++ class.
 *
 * Rules of the boundary:
 *  - A plugin exports exactly one symbol, `postern_plugin_descriptor` (see POSTERN_PLUGIN_EXPORT).
 *  - The first two fields of the descriptor (abi_version, descriptor_size) are frozen forever; the
 *    host reads them before anything else and refuses a library built for another ABI version.
 *  - Objects a plugin creates are destroyed only through that plugin's destroy function.
 *  - Strings handed in either direction are (pointer, length) pairs valid only for the duration of
 *    the call; whoever keeps one copies it.
 *  - No function may unwind (throw, longjmp) across the boundary.
 *  - The host keeps every library loaded for the life of the process.
 */
#ifndef POSTERN_PLUGIN_ABI_H
#define POSTERN_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

/* Version history: 1 = the first release; 2 = postern_target gained `priority` (DNS SRV
 * priority groups), discovery runs on a thread of its own per pool, and postern_config gained
 * `as_path` (file paths relative to the main config file's directory). */
#define POSTERN_PLUGIN_ABI_VERSION 2u

#if defined(_WIN32) || defined(__CYGWIN__)
#define POSTERN_PLUGIN_EXPORT __declspec(dllexport)
#else
#define POSTERN_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define POSTERN_NOEXCEPT noexcept
extern "C" {
#else
#define POSTERN_NOEXCEPT
#endif

/** The exported symbol's name. */
#define POSTERN_PLUGIN_DESCRIPTOR_SYMBOL "postern_plugin_descriptor"

typedef enum postern_kind {
    POSTERN_KIND_BALANCER = 1,
    POSTERN_KIND_DISCOVERY = 2,
    POSTERN_KIND_PROBE = 3
} postern_kind;

/** A borrowed string: not NUL-terminated, valid only during the call that hands it over. */
typedef struct postern_str {
    const char* data;
    size_t size;
} postern_str;

typedef enum postern_log_level {
    POSTERN_LOG_TRACE = 0,
    POSTERN_LOG_DEBUG = 1,
    POSTERN_LOG_INFO = 2,
    POSTERN_LOG_WARN = 3,
    POSTERN_LOG_ERROR = 4
} postern_log_level;

/** Services the host offers every plugin. Valid for the life of the plugin instance. */
typedef struct postern_host {
    void* ctx;
    /** Writes one log line, tagged with the plugin's name. Any thread. */
    void (*log)(void* ctx, postern_log_level level, postern_str message) POSTERN_NOEXCEPT;
} postern_host;

/* ------------------------------------------------------------------------------------------
 * Configuration: a read-only view of the plugin's own TOML table, with positioned errors.
 * Nodes are opaque handles owned by the host, valid only during the create call.
 * Every key the plugin does not look up with `get` is reported by the host as an unknown key.
 * ------------------------------------------------------------------------------------------ */
typedef enum postern_node_type {
    POSTERN_NODE_NONE = 0,
    POSTERN_NODE_STRING = 1,
    POSTERN_NODE_INTEGER = 2,
    POSTERN_NODE_FLOAT = 3,
    POSTERN_NODE_BOOLEAN = 4,
    POSTERN_NODE_ARRAY = 5,
    POSTERN_NODE_TABLE = 6,
    POSTERN_NODE_OTHER = 7 /* dates and times */
} postern_node_type;

typedef struct postern_node postern_node; /* opaque */

typedef struct postern_config {
    void* ctx;
    /** The plugin's table. */
    const postern_node* root;
    postern_node_type (*type)(void* ctx, const postern_node* node) POSTERN_NOEXCEPT;
    /** Looks a key up in a table node (and marks it as known); NULL when absent. */
    const postern_node* (*get)(void* ctx, const postern_node* table, postern_str key) POSTERN_NOEXCEPT;
    /** Number of elements of an array node (0 for any other node). */
    size_t (*size)(void* ctx, const postern_node* array) POSTERN_NOEXCEPT;
    /** Element i of an array node; NULL when out of range. */
    const postern_node* (*at)(void* ctx, const postern_node* array, size_t index) POSTERN_NOEXCEPT;
    /** Scalar readers: return 1 and fill *out when the node has exactly that type, else 0.
     * No coercion: an integer is not a float, a string is not a number. */
    int (*as_string)(void* ctx, const postern_node* node, postern_str* out) POSTERN_NOEXCEPT;
    int (*as_integer)(void* ctx, const postern_node* node, int64_t* out) POSTERN_NOEXCEPT;
    int (*as_float)(void* ctx, const postern_node* node, double* out) POSTERN_NOEXCEPT;
    int (*as_boolean)(void* ctx, const postern_node* node, int* out) POSTERN_NOEXCEPT;
    /** A duration ("250ms", "30s", "4m", "1h", or an integer number of seconds), in milliseconds.
     * Returns 0 and reports a positioned error itself when the node is not a valid duration. */
    int (*as_duration_ms)(void* ctx, const postern_node* node, int64_t* out_ms) POSTERN_NOEXCEPT;
    /** Reports a configuration error at the node's file:line:column (the table's, when NULL).
     * Any reported error makes the whole configuration invalid. */
    void (*error)(void* ctx, const postern_node* node, postern_str message) POSTERN_NOEXCEPT;
    /** ABI 2: a string node read as a file path. A relative path is resolved against the directory
     * of the main configuration file (the rule of every path in the config); an absolute one is
     * only normalised. Returns 1 and fills *out (valid during the create call) when the node is a
     * string, else 0. */
    int (*as_path)(void* ctx, const postern_node* node, postern_str* out) POSTERN_NOEXCEPT;
} postern_config;

/* ------------------------------------------------------------------------------------------
 * Backends as plugins see them: one immutable snapshot, indices 0..count-1.
 * ------------------------------------------------------------------------------------------ */
typedef struct postern_backend {
    uint64_t id;             /* stable hash of "host:port": identical on every instance */
    postern_str host;        /* as configured/discovered (IP literal or name) */
    postern_str address;     /* resolved IP literal the core connects to */
    uint16_t port;
    uint32_t weight;         /* >= 1 */
    uint32_t max_connections; /* 0 = unlimited */
    postern_str region;      /* may be empty */
} postern_backend;

/* ------------------------------------------------------------------------------------------
 * Balancer. A factory per pool (created from config); for each backend snapshot the core builds a
 * selector (control thread) and publishes it; workers call pick() concurrently.
 * ------------------------------------------------------------------------------------------ */
typedef struct postern_pick_context {
    uint64_t client_hash; /* hash of the client IP (stable across instances) */
    uint32_t attempt;     /* 0 on the first pick of a connection */
    uint32_t reserved;
    uint64_t random;      /* from the calling worker's PRNG */
} postern_pick_context;

/** Live state the core maintains per backend, readable by selectors on any thread. */
typedef struct postern_backend_load {
    void* ctx;
    /** Current number of open connections to backend `index` of the snapshot. */
    uint32_t (*active)(void* ctx, uint32_t index) POSTERN_NOEXCEPT;
} postern_backend_load;

typedef struct postern_balancer_ops {
    /** Validates the config and creates a factory; NULL after reporting errors through `config`. */
    void* (*create)(const postern_config* config, const postern_host* host) POSTERN_NOEXCEPT;
    void (*destroy)(void* factory) POSTERN_NOEXCEPT;
    /** Builds a selector for one snapshot. `backends` is valid until destroy_selector.
     * Returns NULL only on allocation failure. */
    void* (*build)(void* factory, const postern_backend* backends, uint32_t count,
                   const postern_backend_load* load) POSTERN_NOEXCEPT;
    void (*destroy_selector)(void* selector) POSTERN_NOEXCEPT;
    /** Writes up to `capacity` candidate indices, best first; returns how many. Called concurrently
     * from every worker: must not block, lock or allocate. The core skips candidates that are down,
     * full, draining or out of region, and walks the list on retries. */
    uint32_t (*pick)(void* selector, const postern_pick_context* ctx, uint32_t* out,
                     uint32_t capacity) POSTERN_NOEXCEPT;
    /** Optional (may be NULL): a connection to backend `index` opened / closed. Any thread. */
    void (*on_open)(void* selector, uint32_t index) POSTERN_NOEXCEPT;
    void (*on_close)(void* selector, uint32_t index) POSTERN_NOEXCEPT;
} postern_balancer_ops;

/* ------------------------------------------------------------------------------------------
 * Discovery: level-triggered. Each round reports the whole current target set (or a failure,
 * after which the core keeps the last good set). The core owns the schedule and resolution.
 * ------------------------------------------------------------------------------------------ */
typedef struct postern_target {
    postern_str host;         /* IP literal or a DNS name the core resolves */
    uint16_t port;            /* 0 = the pool's default backend port */
    uint32_t weight;          /* 0 is treated as 1 */
    uint32_t max_connections; /* 0 = unlimited */
    postern_str region;       /* may be empty */
    uint32_t priority;        /* 0 = best; a group of a higher value gets new connections only
                                 when no backend of a better group can take them (DNS SRV) */
} postern_target;

typedef struct postern_discovery_sink {
    void* ctx;
    void (*add)(void* ctx, const postern_target* target) POSTERN_NOEXCEPT;
    void (*fail)(void* ctx, postern_str reason) POSTERN_NOEXCEPT;
} postern_discovery_sink;

typedef struct postern_discovery_ops {
    void* (*create)(const postern_config* config, const postern_host* host) POSTERN_NOEXCEPT;
    void (*destroy)(void* instance) POSTERN_NOEXCEPT;
    /** One complete round. Runs on a discovery thread of its own per pool (never a worker or the
     * probe loop), one call at a time per instance; should return within `budget_ms`. */
    void (*discover)(void* instance, const postern_discovery_sink* sink,
                     int64_t budget_ms) POSTERN_NOEXCEPT;
    /** Optional (may be NULL): earliest useful next round in ms (e.g. a DNS TTL); 0 = `refresh`. */
    int64_t (*next_refresh_ms)(void* instance) POSTERN_NOEXCEPT;
} postern_discovery_ops;

/* ------------------------------------------------------------------------------------------
 * Probe: sans-I/O. The core connects (TCP, optional PROXY line, optional TLS), runs the timeout
 * and the thresholds; a session only produces request bytes and judges response bytes.
 * ------------------------------------------------------------------------------------------ */
typedef enum postern_verdict {
    POSTERN_VERDICT_NEED_MORE = 0,
    POSTERN_VERDICT_HEALTHY = 1,
    POSTERN_VERDICT_UNHEALTHY = 2,
    POSTERN_VERDICT_DRAIN = 3 /* healthy, but wants no new connections */
} postern_verdict;

typedef struct postern_probe_transport {
    int tls;              /* 1 = the core completes a TLS handshake before on_connected */
    postern_str sni;      /* empty = the backend's host name */
    postern_str alpn;     /* comma-separated protocol list, may be empty */
} postern_probe_transport;

/** Where a session appends bytes to send. Valid only during the call. */
typedef struct postern_output {
    void* ctx;
    void (*write)(void* ctx, postern_str bytes) POSTERN_NOEXCEPT;
} postern_output;

typedef struct postern_probe_result {
    postern_str reason;   /* why the verdict was UNHEALTHY (may be empty); valid until the session dies */
    double utilization;   /* 0..1 reported by the backend; negative = not reported */
} postern_probe_result;

typedef struct postern_probe_ops {
    void* (*create)(const postern_config* config, const postern_host* host) POSTERN_NOEXCEPT;
    void (*destroy)(void* probe) POSTERN_NOEXCEPT;
    /** Fills how the core should connect (tls, sni, alpn). Strings live as long as the probe. */
    void (*transport)(void* probe, postern_probe_transport* out) POSTERN_NOEXCEPT;
    /** One check attempt against one backend. Control thread only. */
    void* (*session_new)(void* probe, const postern_backend* backend) POSTERN_NOEXCEPT;
    void (*session_destroy)(void* session) POSTERN_NOEXCEPT;
    /** The transport is up; may write request bytes. */
    postern_verdict (*on_connected)(void* session, const postern_output* out) POSTERN_NOEXCEPT;
    /** Bytes arrived (eof = the peer closed). */
    postern_verdict (*on_data)(void* session, const char* data, size_t size, int eof,
                               const postern_output* out) POSTERN_NOEXCEPT;
    /** Optional (may be NULL): details of the last verdict. */
    void (*result)(void* session, postern_probe_result* out) POSTERN_NOEXCEPT;
} postern_probe_ops;

/* ------------------------------------------------------------------------------------------
 * The descriptor: the single exported symbol.
 * ------------------------------------------------------------------------------------------ */
/* The struct tag and the exported variable share the name postern_plugin_descriptor (legal in C
 * and C++: tags live apart); the typedef is postern_descriptor. */
typedef struct postern_plugin_descriptor {
    /* Frozen forever: */
    uint32_t abi_version;     /* POSTERN_PLUGIN_ABI_VERSION the plugin was built against */
    uint32_t descriptor_size; /* sizeof(postern_descriptor) at build time */
    /* ABI 1: */
    uint32_t kind;            /* postern_kind */
    const char* name;         /* NUL-terminated, [a-z0-9_]+ e.g. "round_robin" */
    const char* version;      /* the plugin's own version, e.g. "1.0.0" */
    const char* build_id;     /* informational: toolchain that built it */
    const postern_balancer_ops* balancer;   /* exactly the one matching `kind` is non-NULL */
    const postern_discovery_ops* discovery;
    const postern_probe_ops* probe;
} postern_descriptor;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* POSTERN_PLUGIN_ABI_H */
