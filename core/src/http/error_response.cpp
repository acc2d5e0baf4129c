#include "http/error_response.h"

#include <charconv>

namespace postern::http {

std::string_view reasonPhrase(std::uint16_t status) {
    switch (status) {
        case 100:
            return "Continue";
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 411:
            return "Length Required";
        case 413:
            return "Content Too Large";
        case 414:
            return "URI Too Long";
        case 417:
            return "Expectation Failed";
        case 422:
            return "Unprocessable Content";
        case 426:
            return "Upgrade Required";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        default:
            return "Unknown";
    }
}

void writeErrorResponse(std::uint16_t status, bool close, std::string& out) {
    char code[8];
    const auto end = std::to_chars(code, code + sizeof code, status).ptr;
    const std::string_view code_text(code, static_cast<std::size_t>(end - code));
    const std::string_view reason = reasonPhrase(status);
    // Body: "404 Not Found\n".
    const std::size_t body_len = code_text.size() + 1 + reason.size() + 1;
    char len[24];
    const auto len_end = std::to_chars(len, len + sizeof len, body_len).ptr;

    out.append("HTTP/1.1 ").append(code_text).append(" ").append(reason).append("\r\n");
    out.append("Content-Type: text/plain\r\nContent-Length: ");
    out.append(len, static_cast<std::size_t>(len_end - len)).append("\r\n");
    out.append(close ? "Connection: close\r\n" : "Connection: keep-alive\r\n");
    if (status == 426) out.append("Sec-WebSocket-Version: 13\r\n");
    out.append("\r\n");
    out.append(code_text).append(" ").append(reason).append("\n");
}

}  // namespace postern::http
