// The pure part of the admin endpoint (SPEC §6): which route a request names, whether it needs
// the token, whether the token it carries is the right one, and the bytes of an answer. No I/O;
// the server (admin_server.h) runs it on its loop. Any thread; Access is immutable.
//
// Routes:
//   GET|HEAD /metrics                                      Metrics
//   GET|HEAD /status                                       Status
//   GET|HEAD /                                             Dashboard (when the build serves one)
//   POST     /pools/<pool>/backends/<host:port>/drain      Drain   (<host:port> percent-decoded:
//   POST     /pools/<pool>/backends/<host:port>/enable     Enable   "%3A" for ':', IPv6 in [])
//   POST     /reload                                       Reload
// A known path with another method is MethodNotAllowed (405, with Allow); an unknown path
// NotFound (404); a path that cannot be read (bad percent-encoding, an encoded '/' or NUL, an
// empty segment) BadRequest (400). The query string is ignored.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/control_protocol.h"

namespace postern::admin {

struct Route {
    enum class Kind {
        Metrics,
        Status,
        Dashboard,
        Drain,
        Enable,
        Reload,
        NotFound,
        MethodNotAllowed,
        BadRequest,
    };
    Kind kind = Kind::NotFound;
    std::string pool;        ///< Drain, Enable: decoded
    std::string backend;     ///< Drain, Enable: decoded ("10.0.0.1:80", "[::1]:80")
    std::string_view allow;  ///< MethodNotAllowed: the Allow field value
    std::string_view why;    ///< BadRequest: a static string for the answer

    /** Reads (GET/HEAD) as opposed to actions (POST). */
    bool isRead() const {
        return kind == Kind::Metrics || kind == Kind::Status || kind == Kind::Dashboard;
    }
    bool isAction() const {
        return kind == Kind::Drain || kind == Kind::Enable || kind == Kind::Reload;
    }
};

/** The route of `method` + `path` (the request's path, before '?'). `dashboard`: whether `/` is
 * served. */
Route route(std::string_view method, std::string_view path, bool dashboard);

/** Decodes %XX escapes of one path segment; nullopt for a bad escape, or one that decodes to '/'
 * or a control character (a segment must stay one segment). */
std::optional<std::string> percentDecodeSegment(std::string_view segment);

/** Who may do what: the configured token (empty = none) and protect_reads. The token is kept as
 * its SHA-256 digest and compared with the digest of what a request carries in constant time
 * (CRYPTO_memcmp over equal-length digests), so neither a byte-by-byte nor a length difference
 * shows in the time an answer takes. */
class Access {
public:
    Access() = default;
    Access(std::string_view token, bool protect_reads);

    enum class Verdict {
        Allowed,
        Missing,  ///< 401 + WWW-Authenticate: Bearer: no "Authorization: Bearer ..." field
        Wrong,    ///< 403: a bearer token, not ours
    };
    /** Whether a request for `route` may go on. `authorization`: the request's Authorization
     * field value (nullopt when absent). Routes that are neither read nor action (404, 405,
     * 400) are allowed: they reveal nothing and do nothing; so is the dashboard page (a
     * constant; its data comes from /status). */
    Verdict check(const Route& route, std::optional<std::string_view> authorization) const;

    bool hasToken() const { return has_token_; }
    bool protectReads() const { return protect_reads_; }

private:
    bool has_token_ = false;
    bool protect_reads_ = false;
    std::array<unsigned char, 32> digest_{};
};

/** A whole HTTP/1.1 answer: status line, Content-Type, Content-Length, Cache-Control: no-store,
 * `extra_fields` (each "Name: value\r\n"), "Connection: close" when `close`, the body unless
 * `head_only` (HEAD: same fields, no body). */
std::string response(int status, std::string_view content_type, std::string_view body, bool close,
                     bool head_only = false, std::string_view extra_fields = {});

/** `{"error":"<message>"}` with the message JSON-escaped. */
std::string errorJson(std::string_view message);
/** `s` as a JSON string literal, quotes included. */
std::string jsonString(std::string_view s);

/** The answer to POST /reload: 200 applied, 422 rejected (errors with their file:line:col), 503
 * failed (the instance is stopping, the demo config) and the JSON body
 * `{"result":"applied"|"rejected"|"failed","generation":N,"warnings":[..],"errors":[..]}`. */
struct ReloadAnswer {
    int status = 200;
    std::string json;
};
ReloadAnswer reloadAnswer(const server::ControlReply& reply);

}  // namespace postern::admin
