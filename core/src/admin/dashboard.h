// The dashboard served at `GET /` by the admin endpoint (SPEC §6): one self-contained HTML page
// (inline CSS and JavaScript, no external resources) that polls `GET /status` every second and
// shows pools and backends with their health, listeners with connection and byte rates computed
// from successive polls, the config generation and the recent reloads. With `protect_reads` it
// asks for the admin token (kept in the browser's sessionStorage) and sends it as
// `Authorization: Bearer`; drain / enable buttons call the POST actions with the same token.
//
// Threads: any; the page is a constant.
#pragma once

#include <string_view>

namespace postern::admin {

/** The page (text/html; charset=utf-8), static for the life of the process. */
std::string_view dashboardHtml();

}  // namespace postern::admin
