#include "admin/admin_request.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <vector>

#include "admin/status_json.h"
#include "http/error_response.h"

namespace postern::admin {

namespace {

constexpr std::string_view kReadMethods = "GET, HEAD";
constexpr std::string_view kActionMethods = "POST";

bool isRead(std::string_view method) { return method == "GET" || method == "HEAD"; }

/** The route for a known path whose methods are `allow`. */
Route known(Route::Kind kind, std::string_view method, std::string_view allow) {
    Route r;
    const bool ok = allow == kReadMethods ? isRead(method) : method == "POST";
    if (ok) {
        r.kind = kind;
    } else {
        r.kind = Route::Kind::MethodNotAllowed;
        r.allow = allow;
    }
    return r;
}

Route bad(std::string_view why) {
    Route r;
    r.kind = Route::Kind::BadRequest;
    r.why = why;
    return r;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::array<unsigned char, 32> sha256(std::string_view data) {
    std::array<unsigned char, 32> out{};
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
    return out;
}

}  // namespace

std::optional<std::string> percentDecodeSegment(std::string_view segment) {
    std::string out;
    out.reserve(segment.size());
    for (std::size_t i = 0; i < segment.size(); ++i) {
        char c = segment[i];
        if (c == '%') {
            if (i + 2 >= segment.size()) return std::nullopt;
            const int hi = hexValue(segment[i + 1]);
            const int lo = hexValue(segment[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
            const auto u = static_cast<unsigned char>(c);
            if (c == '/' || u < 0x20 || u == 0x7f) return std::nullopt;
        }
        out.push_back(c);
    }
    return out;
}

Route route(std::string_view method, std::string_view path, bool dashboard) {
    if (path == "/metrics") return known(Route::Kind::Metrics, method, kReadMethods);
    if (path == "/status") return known(Route::Kind::Status, method, kReadMethods);
    if (path == "/" && dashboard) return known(Route::Kind::Dashboard, method, kReadMethods);
    if (path == "/reload") return known(Route::Kind::Reload, method, kActionMethods);

    // /pools/<pool>/backends/<backend>/<action>
    constexpr std::string_view kPools = "/pools/";
    if (path.substr(0, kPools.size()) != kPools) return Route{};
    std::vector<std::string_view> segments;
    std::string_view rest = path.substr(kPools.size());
    for (;;) {
        const auto slash = rest.find('/');
        segments.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest = rest.substr(slash + 1);
    }
    if (segments.size() != 4 || segments[1] != "backends") return Route{};
    Route::Kind kind;
    if (segments[3] == "drain")
        kind = Route::Kind::Drain;
    else if (segments[3] == "enable")
        kind = Route::Kind::Enable;
    else
        return Route{};
    if (segments[0].empty() || segments[2].empty()) return bad("empty pool or backend in the path");
    auto pool = percentDecodeSegment(segments[0]);
    auto backend = percentDecodeSegment(segments[2]);
    if (!pool || !backend) return bad("bad percent-encoding in the path");
    Route r = known(kind, method, kActionMethods);
    if (r.kind == kind) {
        r.pool = std::move(*pool);
        r.backend = std::move(*backend);
    }
    return r;
}

Access::Access(std::string_view token, bool protect_reads)
    : has_token_(!token.empty()), protect_reads_(protect_reads) {
    if (has_token_) digest_ = sha256(token);
}

Access::Verdict Access::check(const Route& route,
                              std::optional<std::string_view> authorization) const {
    if (!has_token_) return Verdict::Allowed;
    // The dashboard page is a constant without data (it reads /status, which is protected):
    // a browser can load it and then ask for the token.
    const bool needs = route.isAction() ||
                       (route.isRead() && route.kind != Route::Kind::Dashboard && protect_reads_);
    if (!needs) return Verdict::Allowed;
    if (!authorization) return Verdict::Missing;
    // "Bearer" is case-insensitive (RFC 9110 §11.1); one or more spaces before the token.
    std::string_view v = *authorization;
    constexpr std::string_view kScheme = "bearer";
    if (v.size() <= kScheme.size()) return Verdict::Missing;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
        char c = v[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != kScheme[i]) return Verdict::Missing;
    }
    v.remove_prefix(kScheme.size());
    if (v.front() != ' ') return Verdict::Missing;
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    const auto given = sha256(v);
    return CRYPTO_memcmp(given.data(), digest_.data(), digest_.size()) == 0 ? Verdict::Allowed
                                                                            : Verdict::Wrong;
}

std::string response(int status, std::string_view content_type, std::string_view body, bool close,
                     bool head_only, std::string_view extra_fields) {
    std::string out;
    out.reserve(160 + extra_fields.size() + (head_only ? 0 : body.size()));
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += http::reasonPhrase(static_cast<std::uint16_t>(status));
    out += "\r\nContent-Type: ";
    out += content_type;
    out += "\r\nContent-Length: ";
    out += std::to_string(body.size());
    out += "\r\nCache-Control: no-store\r\n";
    out += extra_fields;
    if (close) out += "Connection: close\r\n";
    out += "\r\n";
    if (!head_only) out += body;
    return out;
}

std::string jsonString(std::string_view s) {
    std::string out;
    appendJsonString(out, s);  // the /status escaping: RFC 8259, invalid UTF-8 as U+FFFD
    return out;
}

std::string errorJson(std::string_view message) {
    return "{\"error\":" + jsonString(message) + "}";
}

ReloadAnswer reloadAnswer(const server::ControlReply& reply) {
    ReloadAnswer a;
    std::string_view result = "failed";
    switch (reply.status) {
        case server::ControlReply::Status::Applied:
            result = "applied";
            a.status = 200;
            break;
        case server::ControlReply::Status::Rejected:
            result = "rejected";
            a.status = 422;
            break;
        case server::ControlReply::Status::Failed:
        case server::ControlReply::Status::Data:  // never the answer to a reload
            result = "failed";
            a.status = 503;
            break;
    }
    auto list = [](const std::vector<std::string>& items) {
        std::string out = "[";
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i) out += ',';
            out += jsonString(items[i]);
        }
        return out + "]";
    };
    a.json = "{\"result\":\"" + std::string(result) +
             "\",\"generation\":" + std::to_string(reply.generation) +
             ",\"warnings\":" + list(reply.warnings) + ",\"errors\":" + list(reply.errors) + "}";
    return a;
}

}  // namespace postern::admin
