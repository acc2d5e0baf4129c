#include "http/rewrite.h"

#include <charconv>

#include "http/char_class.h"

namespace postern::http {

namespace {

/** RFC 9110 §7.6.1 and the de-facto ones (Keep-Alive, Proxy-Connection). Transfer-Encoding is not
 * here: the body is forwarded as it came, so its framing field goes with it. */
bool isHopByHop(std::string_view name) {
    switch (name.size()) {
        case 2:
            return equalsIgnoreCase(name, "te");
        case 7:
            return equalsIgnoreCase(name, "trailer") || equalsIgnoreCase(name, "upgrade");
        case 10:
            return equalsIgnoreCase(name, "connection") || equalsIgnoreCase(name, "keep-alive");
        case 16:
            return equalsIgnoreCase(name, "proxy-connection");
        default:
            return false;
    }
}

bool isContentLength(std::string_view n) {
    return n.size() == 14 && equalsIgnoreCase(n, "content-length");
}
bool isTransferEncoding(std::string_view n) {
    return n.size() == 17 && equalsIgnoreCase(n, "transfer-encoding");
}

/** Whether a Connection field names anything beyond the usual options: only then is every field
 * checked against it (the common "Connection: keep-alive" costs nothing more). */
bool connectionNamesFields(const std::vector<Header>& headers) {
    for (const Header& h : headers) {
        if (h.name.size() != 10 || !equalsIgnoreCase(h.name, "connection")) continue;
        std::string_view v = h.value;
        std::size_t i = 0;
        while (i < v.size()) {
            while (i < v.size() && (chars::isOws(v[i]) || v[i] == ',')) ++i;
            const std::size_t s = i;
            while (i < v.size() && v[i] != ',' && !chars::isOws(v[i])) ++i;
            const std::string_view t = v.substr(s, i - s);
            if (!t.empty() && !equalsIgnoreCase(t, "close") && !equalsIgnoreCase(t, "keep-alive") &&
                !equalsIgnoreCase(t, "upgrade"))
                return true;
        }
    }
    return false;
}

/** A field the Connection field names (RFC 9110 §7.6.1). The framing fields and Host are never
 * dropped this way: "Connection: Content-Length" would otherwise turn the body we forward into
 * the backend's next request. */
bool namedByConnection(const std::vector<Header>& headers, std::string_view name) {
    if (isContentLength(name) || isTransferEncoding(name) ||
        (name.size() == 4 && equalsIgnoreCase(name, "host")))
        return false;
    for (const Header& h : headers) {
        if (h.name.size() == 10 && equalsIgnoreCase(h.name, "connection") &&
            listContains(h.value, name))
            return true;
    }
    return false;
}

void appendNumber(std::string& out, std::uint64_t n) {
    char buf[24];
    const auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    out.append(buf, static_cast<std::size_t>(end - buf));
}

void appendField(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

/** Every value of the fields called `name`, joined with ", " (a list field split over lines). */
void appendJoined(std::string& out, const std::vector<Header>& headers, std::string_view name) {
    bool first = true;
    for (const Header& h : headers) {
        if (h.name.size() != name.size() || !equalsIgnoreCase(h.name, name)) continue;
        if (h.value.empty()) continue;
        if (!first) out.append(", ");
        out.append(h.value);
        first = false;
    }
}

bool hasFieldLine(const std::vector<Header>& headers, std::string_view name) {
    for (const Header& h : headers) {
        if (h.name.size() == name.size() && equalsIgnoreCase(h.name, name)) return true;
    }
    return false;
}

bool hasField(const std::vector<Header>& headers, std::string_view name) {
    for (const Header& h : headers) {
        if (h.name.size() == name.size() && equalsIgnoreCase(h.name, name) && !h.value.empty())
            return true;
    }
    return false;
}

/** The fields both directions copy: everything but hop-by-hop ones, one normalized
 * Content-Length, the Transfer-Encoding lines joined into one (or dropped with `drop_te`), and
 * whatever `skip` refuses (fields the caller writes itself). */
template <class Skip>
void copyFields(const std::vector<Header>& headers, bool keep_upgrade, bool drop_te,
                std::uint64_t content_length, std::string& out, Skip skip) {
    const bool check_connection = connectionNamesFields(headers);
    bool cl_written = false;
    bool te_written = false;
    for (const Header& h : headers) {
        if (isHopByHop(h.name)) {
            const bool upgrade_field = h.name.size() != 2 && !equalsIgnoreCase(h.name, "trailer") &&
                                       !equalsIgnoreCase(h.name, "keep-alive") &&
                                       !equalsIgnoreCase(h.name, "proxy-connection");
            if (!(keep_upgrade && upgrade_field)) continue;
        }
        if (skip(h.name)) continue;
        if (check_connection && !keep_upgrade && namedByConnection(headers, h.name)) continue;
        if (isContentLength(h.name)) {
            if (!cl_written) {
                out.append("Content-Length: ");
                appendNumber(out, content_length);
                out.append("\r\n");
                cl_written = true;
            }
            continue;
        }
        if (isTransferEncoding(h.name)) {
            if (!drop_te && !te_written) {
                out.append("Transfer-Encoding: ");
                appendJoined(out, headers, "transfer-encoding");
                out.append("\r\n");
                te_written = true;
            }
            continue;
        }
        appendField(out, h.name, h.value);
    }
}

bool isToken(std::string_view v) {
    if (v.empty()) return false;
    for (char c : v) {
        if (!chars::is(c, chars::kToken)) return false;
    }
    return true;
}

}  // namespace

void writeBackendRequestHead(const RequestHead& request, const ForwardContext& ctx,
                             std::string& out) {
    out.append(request.method).append(" ").append(request.target).append(" HTTP/1.1\r\n");
    // An HTTP/1.0 client may omit Host; what we send is HTTP/1.1, which must carry one: the
    // authority of an absolute-form target, else empty (RFC 9112 §3.2).
    if (request.version == Version::Http10 && !hasFieldLine(request.headers, "host")) {
        out.append(request.host.empty() ? "Host:" : "Host: ").append(request.host).append("\r\n");
    }
    copyFields(request.headers, false, false, request.content_length, out, [](std::string_view n) {
        switch (n.size()) {
            case 9:
                return equalsIgnoreCase(n, "forwarded");
            case 15:
                return equalsIgnoreCase(n, "x-forwarded-for");
            case 16:
                return equalsIgnoreCase(n, "x-forwarded-port");
            case 17:
                return equalsIgnoreCase(n, "x-forwarded-proto");
            default:
                return false;
        }
    });
    const bool ipv6 = ctx.client_ip.find(':') != std::string_view::npos;
    const std::string_view ip = ctx.client_ip.empty() ? std::string_view("unknown") : ctx.client_ip;

    out.append("X-Forwarded-For: ");
    if (hasField(request.headers, "x-forwarded-for")) {
        appendJoined(out, request.headers, "x-forwarded-for");
        out.append(", ");
    }
    out.append(ip).append("\r\n");
    out.append("X-Forwarded-Proto: ").append(ctx.proto).append("\r\n");
    out.append("X-Forwarded-Port: ");
    appendNumber(out, ctx.listener_port);
    out.append("\r\n");

    // RFC 7239: node = IPv4 / "[" IPv6 "]" (quoted, since ':' and '[' are not tchar); a host
    // with a port is quoted for the same reason.
    out.append("Forwarded: ");
    if (hasField(request.headers, "forwarded")) {
        appendJoined(out, request.headers, "forwarded");
        out.append(", ");
    }
    out.append("for=");
    if (ipv6) {
        out.append("\"[").append(ctx.client_ip).append("]\"");
    } else {
        out.append(ip);
    }
    out.append(";proto=").append(ctx.proto);
    if (!request.host.empty()) {
        out.append(";host=");
        if (isToken(request.host)) {
            out.append(request.host);
        } else {
            out.append("\"").append(request.host).append("\"");  // kHost has no '"' nor '\\'
        }
    }
    out.append("\r\n");

    if (ctx.websocket) {
        out.append("Connection: upgrade\r\nUpgrade: websocket\r\n\r\n");
    } else {
        out.append("Connection: keep-alive\r\n\r\n");
    }
}

void writeClientResponseHead(const ResponseHead& response, Version client_version,
                             bool close_client, bool dechunk, std::string& out) {
    out.append(client_version == Version::Http10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    appendNumber(out, response.status);
    out.append(" ").append(response.reason).append("\r\n");
    const bool switching = response.status == 101;
    // No Transfer-Encoding to an HTTP/1.0 client (RFC 9112 §6.1): a chunked body goes de-chunked.
    const bool drop_te = dechunk || client_version == Version::Http10;
    copyFields(response.headers, switching, drop_te, response.content_length, out,
               [](std::string_view) { return false; });
    if (!switching) {
        if (close_client) {
            out.append("Connection: close\r\n");
        } else if (client_version == Version::Http10) {
            out.append("Connection: keep-alive\r\n");
        }
    }
    out.append("\r\n");
}

}  // namespace postern::http
