#include "admin/status_json.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>

namespace postern::admin {

namespace {

void appendUint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/** Length of the valid UTF-8 sequence at `s[i]`, 0 if none (overlong, surrogate, > U+10FFFF,
 * truncated). */
std::size_t utf8Length(std::string_view s, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = byte(i);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1Fu;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0Fu;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((byte(i + k) & 0xC0u) != 0x80u) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void key(std::string& out, std::string_view name) {
    out += '"';
    out += name;  // our own constant keys: nothing to escape
    out += "\":";
}

void field(std::string& out, std::string_view name, std::uint64_t v) {
    key(out, name);
    appendUint(out, v);
    out += ',';
}

void field(std::string& out, std::string_view name, bool v) {
    key(out, name);
    out += v ? "true" : "false";
    out += ',';
}

void stringField(std::string& out, std::string_view name, std::string_view v) {
    key(out, name);
    appendJsonString(out, v);
    out += ',';
}

/** `"name":"v"` or `"name":null` when v is empty. */
void optionalString(std::string& out, std::string_view name, std::string_view v) {
    key(out, name);
    if (v.empty())
        out += "null";
    else
        appendJsonString(out, v);
    out += ',';
}

/** Drops the comma after the last member and closes the object or array. */
void close(std::string& out, char c) {
    if (out.back() == ',') out.pop_back();
    out += c;
}

void backend(std::string& out, const BackendSnapshot& b) {
    out += '{';
    stringField(out, "backend", b.address);
    stringField(out, "host", b.host);
    stringField(out, "state", b.state());
    field(out, "up", b.up);
    field(out, "draining", b.draining);
    field(out, "admin_drained", b.admin_drained);
    field(out, "active", b.active);
    field(out, "connections_total", b.connections_total);
    field(out, "connect_failures", b.connect_failures);
    optionalString(out, "region", b.region);
    field(out, "weight", std::uint64_t{b.weight});
    field(out, "priority", std::uint64_t{b.priority});
    key(out, "last_probe");
    if (!b.last_probe) {
        out += "null";
    } else {
        const auto& p = *b.last_probe;
        out += '{';
        stringField(out, "time", utcText(p.time));
        field(out, "ok", p.ok);
        key(out, "latency_ms");
        // Microsecond resolution, as a plain decimal.
        const double ms = std::round(static_cast<double>(p.latency.count()) / 1000.0) / 1000.0;
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, ms, std::chars_format::fixed);
        out.append(buf, r.ptr);
        out += ',';
        optionalString(out, "error", p.ok ? std::string_view() : std::string_view(p.error));
        close(out, '}');
    }
    out += ',';
    close(out, '}');
}

}  // namespace

void appendJsonString(std::string& out, std::string_view v) {
    out += '"';
    for (std::size_t i = 0; i < v.size();) {
        const unsigned char c = static_cast<unsigned char>(v[i]);
        if (c >= 0x80) {
            const std::size_t n = utf8Length(v, i);
            if (n == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(v.substr(i, n));
                i += n;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20 || c == 0x7F) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
        ++i;
    }
    out += '"';
}

std::string utcText(WallClock::time_point t) {
    using namespace std::chrono;
    const auto ms = time_point_cast<milliseconds>(t);
    const auto day = floor<days>(ms);
    const year_month_day ymd{day};
    const hh_mm_ss<milliseconds> hms{ms - day};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                  int(hms.minutes().count()), int(hms.seconds().count()),
                  int(hms.subseconds().count()));
    return buf;
}

std::string writeStatusJson(const GatewaySnapshot& s) {
    std::string out;
    std::size_t backends = 0;
    for (const auto& p : s.pools) backends += p.backends.size();
    out.reserve(1024 + s.listeners.size() * 512 + backends * 512);
    out += '{';
    stringField(out, "version", s.version);
    stringField(out, "now", utcText(s.now));
    stringField(out, "started", utcText(s.started));
    field(out, "generation", s.generation);
    stringField(out, "loaded", utcText(s.loaded));
    field(out, "connections_active", s.connections_active);

    key(out, "reloads");
    out += '[';
    for (const auto& r : s.reloads) {
        out += '{';
        stringField(out, "time", utcText(r.time));
        stringField(out, "result", r.applied ? "applied" : "rejected");
        field(out, "generation", r.generation);
        key(out, "errors");
        out += '[';
        for (const auto& e : r.errors) {
            appendJsonString(out, e);
            out += ',';
        }
        close(out, ']');
        out += ',';
        close(out, '}');
        out += ',';
    }
    close(out, ']');
    out += ',';

    key(out, "listeners");
    out += '[';
    for (const auto& l : s.listeners) {
        out += '{';
        stringField(out, "name", l.name);
        stringField(out, "protocol", l.protocol);
        key(out, "bind");
        out += '[';
        for (const auto& b : l.bind) {
            appendJsonString(out, b);
            out += ',';
        }
        close(out, ']');
        out += ',';
        optionalString(out, "pool", l.pool);
        field(out, "connections_active", l.totals.active);
        field(out, "connections_total", l.totals.total);
        field(out, "bytes_in", l.totals.bytes_in);
        field(out, "bytes_out", l.totals.bytes_out);
        const auto& t = l.totals;
        field(out, "refused_total",
              t.refused_max_connections + t.refused_no_backend + t.refused_capacity +
                  t.refused_acl + t.refused_client_rate + t.refused_client_limit +
                  t.proxy_untrusted + t.proxy_invalid + t.proxy_timeout);
        field(out, "tls_handshake_failures", t.tls_handshake_failures);
        field(out, "requests_total", t.request_duration.count());
        close(out, '}');
        out += ',';
    }
    close(out, ']');
    out += ',';

    key(out, "pools");
    out += '[';
    for (const auto& p : s.pools) {
        out += '{';
        stringField(out, "name", p.name);
        stringField(out, "balance", p.balancer);
        key(out, "backends");
        out += '[';
        for (const auto& b : p.backends) {
            backend(out, b);
            out += ',';
        }
        close(out, ']');
        out += ',';
        close(out, '}');
        out += ',';
    }
    close(out, ']');
    out += ',';
    close(out, '}');
    return out;
}

}  // namespace postern::admin
