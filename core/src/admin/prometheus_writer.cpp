#include "admin/prometheus_writer.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <unordered_map>

namespace postern::admin {

namespace {

using common::HistogramTotals;
using common::kHistogramBounds;

/** `le` label values of the buckets, "+Inf" last. */
constexpr std::array<std::string_view, common::kHistogramBuckets> kLe = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25",   "0.5",   "1",      "2.5",   "5",    "10",    "+Inf"};
static_assert(kHistogramBounds.size() + 1 == kLe.size(), "one le label per bucket");

void appendUint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void appendDouble(std::string& out, double v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

double unixSeconds(WallClock::time_point t) {
    return static_cast<double>(
               std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch())
                   .count()) /
           1000.0;
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;  // constant texts: no backslash or line feed to escape
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

/** `name{labels} value\n`; `labels` already escaped, may be empty. */
void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t v) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    appendUint(out, v);
    out += '\n';
}

void histogram(std::string& out, std::string_view name, std::string_view labels,
               const HistogramTotals& h) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLe.size(); ++i) {
        cumulative += h.buckets[i];
        out += name;
        out += "_bucket{";
        if (!labels.empty()) {
            out += labels;
            out += ',';
        }
        out += "le=\"";
        out += kLe[i];
        out += "\"} ";
        appendUint(out, cumulative);
        out += '\n';
    }
    out += name;
    out += "_sum";
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    appendDouble(out, h.sumSeconds());
    out += '\n';
    out += name;
    out += "_count";
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    appendUint(out, cumulative);
    out += '\n';
}

std::string label(std::string_view key, std::string_view value) {
    std::string out;
    out.reserve(key.size() + value.size() + 3);
    out += key;
    out += "=\"";
    appendLabelValue(out, value);
    out += '"';
    return out;
}

/** A backend series: the pool's backends with the same address merged. */
struct BackendSeries {
    std::string labels;  ///< pool="..",backend=".."
    bool up = false;
    bool draining = true;
    std::uint64_t active = 0;
    std::uint64_t connections_total = 0;
    std::uint64_t connect_failures = 0;
    bool probed = false;
    HistogramTotals probe_duration;
};

std::vector<BackendSeries> backendSeries(const PoolSnapshot& pool) {
    std::vector<BackendSeries> out;
    out.reserve(pool.backends.size());
    std::unordered_map<std::string_view, std::size_t> index;
    index.reserve(pool.backends.size());
    const std::string pool_label = label("pool", pool.name);
    for (const auto& b : pool.backends) {
        auto [it, fresh] = index.try_emplace(b.address, out.size());
        if (fresh) {
            auto& s = out.emplace_back();
            s.labels = pool_label;
            s.labels += ',';
            s.labels += label("backend", b.address);
        }
        BackendSeries& s = out[it->second];
        s.up = s.up || b.up;
        s.draining = s.draining && b.draining;
        s.active += b.active;
        s.connections_total += b.connections_total;
        s.connect_failures += b.connect_failures;
        if (b.probe_duration) {
            s.probed = true;
            s.probe_duration += *b.probe_duration;
        }
    }
    return out;
}

}  // namespace

void appendLabelValue(std::string& out, std::string_view value) {
    for (char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
}

std::string writePrometheus(const GatewaySnapshot& s) {
    std::string out;
    std::size_t backends = 0;
    for (const auto& p : s.pools) backends += p.backends.size();
    out.reserve(8192 + s.listeners.size() * 6144 + backends * 3072);

    family(out, "postern_build_info", "gauge", "Postern's version (the value is always 1).");
    sample(out, "postern_build_info", label("version", s.version), 1);
    family(out, "postern_start_time_seconds", "gauge", "When this process started (Unix time).");
    out += "postern_start_time_seconds ";
    appendDouble(out, unixSeconds(s.started));
    out += '\n';
    family(out, "postern_config_generation", "gauge",
           "The configuration generation serving (1 = as started; +1 per applied reload).");
    sample(out, "postern_config_generation", {}, s.generation);
    family(out, "postern_config_last_reload_timestamp_seconds", "gauge",
           "When the serving configuration was applied (Unix time).");
    out += "postern_config_last_reload_timestamp_seconds ";
    appendDouble(out, unixSeconds(s.loaded));
    out += '\n';
    family(out, "postern_config_reloads_total", "counter",
           "Reloads since start (signal, postern reload, POST /reload), by result.");
    sample(out, "postern_config_reloads_total", "result=\"applied\"", s.reloads_applied);
    sample(out, "postern_config_reloads_total", "result=\"rejected\"", s.reloads_rejected);

    // Listeners.
    std::vector<std::string> ll;
    ll.reserve(s.listeners.size());
    for (const auto& l : s.listeners) ll.push_back(label("listener", l.name));

    family(out, "postern_connections_active", "gauge", "Client connections open now.");
    for (std::size_t i = 0; i < s.listeners.size(); ++i)
        sample(out, "postern_connections_active", ll[i], s.listeners[i].totals.active);
    family(out, "postern_connections_total", "counter", "Client connections accepted.");
    for (std::size_t i = 0; i < s.listeners.size(); ++i)
        sample(out, "postern_connections_total", ll[i], s.listeners[i].totals.total);
    family(out, "postern_connections_refused_total", "counter",
           "Client connections closed without a backend connection, by reason.");
    for (std::size_t i = 0; i < s.listeners.size(); ++i) {
        const auto& t = s.listeners[i].totals;
        const std::uint64_t values[] = {t.refused_max_connections,
                                        t.refused_no_backend,
                                        t.refused_capacity,
                                        t.refused_acl,
                                        t.refused_client_rate,
                                        t.refused_client_limit,
                                        t.proxy_untrusted,
                                        t.proxy_invalid,
                                        t.proxy_timeout};
        static_assert(std::size(values) == std::size(kRefusalReasons));
        for (std::size_t r = 0; r < std::size(values); ++r) {
            std::string labels = ll[i];
            labels += ",reason=\"";
            labels += kRefusalReasons[r];
            labels += '"';
            sample(out, "postern_connections_refused_total", labels, values[r]);
        }
    }
    family(out, "postern_connections_closed_total", "counter",
           "Client connections (HTTP listeners: requests) ended, by access-log cause.");
    for (std::size_t i = 0; i < s.listeners.size(); ++i) {
        for (std::size_t c = 0; c < proxy::kCloseCauseCount; ++c) {
            std::string labels = ll[i];
            labels += ",cause=\"";
            labels += proxy::kCloseCauseNames[c];
            labels += '"';
            sample(out, "postern_connections_closed_total", labels,
                   s.listeners[i].totals.closed[c]);
        }
    }
    family(out, "postern_clients_untracked_total", "counter",
           "Connections let in untracked by the per-client limits (their table bucket was full).");
    for (std::size_t i = 0; i < s.listeners.size(); ++i)
        sample(out, "postern_clients_untracked_total", ll[i],
               s.listeners[i].totals.client_untracked);
    family(out, "postern_bytes_total", "counter",
           "Bytes relayed, counted when a connection ends: in = from clients, out = to clients.");
    for (std::size_t i = 0; i < s.listeners.size(); ++i) {
        sample(out, "postern_bytes_total", ll[i] + ",direction=\"in\"",
               s.listeners[i].totals.bytes_in);
        sample(out, "postern_bytes_total", ll[i] + ",direction=\"out\"",
               s.listeners[i].totals.bytes_out);
    }
    family(out, "postern_tls_handshake_failures_total", "counter",
           "Client TLS handshakes that failed (tls and https listeners).");
    for (std::size_t i = 0; i < s.listeners.size(); ++i)
        sample(out, "postern_tls_handshake_failures_total", ll[i],
               s.listeners[i].totals.tls_handshake_failures);
    family(out, "postern_tls_handshake_duration_seconds", "histogram",
           "Client TLS handshakes that succeeded: accept to handshake done.");
    for (std::size_t i = 0; i < s.listeners.size(); ++i)
        if (s.listeners[i].tls)
            histogram(out, "postern_tls_handshake_duration_seconds", ll[i],
                      s.listeners[i].totals.tls_handshake);
    family(out, "postern_http_request_duration_seconds", "histogram",
           "HTTP requests: first byte of the request to the end of the response (http and https "
           "listeners).");
    for (std::size_t i = 0; i < s.listeners.size(); ++i)
        if (s.listeners[i].http)
            histogram(out, "postern_http_request_duration_seconds", ll[i],
                      s.listeners[i].totals.request_duration);

    // Pools and backends.
    std::vector<std::vector<BackendSeries>> series;
    series.reserve(s.pools.size());
    for (const auto& p : s.pools) series.push_back(backendSeries(p));

    family(out, "postern_backend_up", "gauge",
           "1 when the backend is healthy (probe or passive health), else 0.");
    for (const auto& ps : series)
        for (const auto& b : ps) sample(out, "postern_backend_up", b.labels, b.up ? 1 : 0);
    family(out, "postern_backend_draining", "gauge",
           "1 when the backend takes no new connections: removed, drained by an operator, or by "
           "its probe.");
    for (const auto& ps : series)
        for (const auto& b : ps)
            sample(out, "postern_backend_draining", b.labels, b.draining ? 1 : 0);
    family(out, "postern_backend_connections_active", "gauge",
           "Connections open to the backend now.");
    for (const auto& ps : series)
        for (const auto& b : ps)
            sample(out, "postern_backend_connections_active", b.labels, b.active);
    family(out, "postern_backend_connections_total", "counter",
           "Connections to the backend that were established (connect, PROXY header, TLS).");
    for (const auto& ps : series)
        for (const auto& b : ps)
            sample(out, "postern_backend_connections_total", b.labels, b.connections_total);
    family(out, "postern_backend_connect_failures_total", "counter",
           "Connection attempts to the backend that failed (each retry counts).");
    for (const auto& ps : series)
        for (const auto& b : ps)
            sample(out, "postern_backend_connect_failures_total", b.labels, b.connect_failures);
    family(out, "postern_backend_connect_duration_seconds", "histogram",
           "Backend connections established: connect, PROXY header and TLS handshake.");
    for (const auto& p : s.pools)
        histogram(out, "postern_backend_connect_duration_seconds", label("pool", p.name),
                  p.connect_time);
    family(out, "postern_probe_duration_seconds", "histogram",
           "Health checks (pools with a probe): start to verdict, failed ones included.");
    for (const auto& ps : series)
        for (const auto& b : ps)
            if (b.probed)
                histogram(out, "postern_probe_duration_seconds", b.labels, b.probe_duration);
    return out;
}

}  // namespace postern::admin
