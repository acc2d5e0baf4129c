// The responses Postern answers itself (SPEC §3): a status line, Content-Type: text/plain,
// Content-Length, Connection, and a one-line body naming the status. Any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace postern::http {

/** "Not Found", "Bad Gateway" …, also the admin endpoint's (401, 409, 422); "Unknown" for codes
 * we never send. */
std::string_view reasonPhrase(std::uint16_t status);

/** Appends a complete response (HTTP/1.1) for `status` to `out`. `close`: "Connection: close"
 * (the connection ends after it), else keep-alive. 426 carries "Sec-WebSocket-Version: 13". */
void writeErrorResponse(std::uint16_t status, bool close, std::string& out);

}  // namespace postern::http
