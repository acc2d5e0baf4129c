// Helpers of the HTTP / WebSocket integration tests: an HTTP/1.1 backend written in Python
// (asyncio streams, so it speaks keep-alive, chunked bodies and 100-continue exactly as the
// tests need, counts its connections and logs every request it receives), an nginx of our own,
// curl and python3-websockets peers, and TOML for http/https listeners. Test thread only; every
// process is a PosternProcess, ended by PID when its object goes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "integration_fixture.h"

namespace postern::test {

/** The system python3 (not a pyenv shim, whose PID is a shell's). */
std::filesystem::path systemPython();
bool haveProgram(const char* path);
/** python3 can import `module`. */
bool havePythonModule(const std::string& module);

/** The Python HTTP/1.1 backend. Paths it answers (any method; HEAD gets the head only):
 *   /headers       200, body: the request's head as received (request line and fields)
 *   /body          200, body: "len=<n> sha256=<hex>" of the request body (length or chunked)
 *   /continue      expects "Expect: 100-continue": sends 100 Continue, then reads the body, as
 * /body /status/<n>    status n, body "status <n>\n" (none for 204, 304, HEAD) /bytes/<n>     200
 * with Content-Length n (bytes 'a'..'z' repeating) /chunked/<n>   200, Transfer-Encoding: chunked,
 * n bytes in 1000-byte chunks /close/<n>     200 without length, n bytes, then the connection is
 * closed /sleep/<ms>    waits, then 200 "slept\n" /conn          200, body: this connection's
 * number (1, 2, …) /garbage       an invalid response head anything else  200, body "ok <path>\n"
 * Keep-alive unless the request says close (or is HTTP/1.0 without keep-alive). Stdout lines:
 * "listening <port>", "conn <n>" per accepted connection, "req <n> <method> <target>" per head,
 * "close <n>" when a connection ended. */
class HttpBackend {
public:
    /** With a certificate chain and key it speaks HTTPS. */
    explicit HttpBackend(std::string ip = "127.0.0.1", const std::filesystem::path& cert = {},
                         const std::filesystem::path& key = {});
    std::uint16_t port() const { return port_; }
    std::string address() const { return ip_ + ":" + std::to_string(port_); }
    /** Connections accepted so far ("conn" lines). */
    std::size_t connections() const;
    /** Request heads received so far ("req" lines). */
    std::size_t requests() const;
    bool waitForRequests(std::size_t n, Millis timeout);
    /** Waits until connection number `connection` (1, 2, …) has ended ("close <n>"). */
    bool waitForClose(std::size_t connection, Millis timeout);
    PosternProcess& process() { return process_; }

private:
    PosternProcess process_;
    std::string ip_;
    std::uint16_t port_ = 0;
};

/** An nginx of our own in a temp dir, foreground, one process (master_process off), ended by PID.
 * It answers every request with 200 and the body "conn=$connection" and logs
 * "$connection $request" to logs/access.log. */
class NginxBackend {
public:
    NginxBackend();
    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    /** Lines of its access log. */
    std::vector<std::string> accessLines() const;
    std::string logs() const;

private:
    PosternProcess process_;
    std::uint16_t port_ = 0;
};

/** Runs curl with `args` (bounded); "-s" and "--max-time" are added. */
CommandResult runCurl(const std::vector<std::string>& args, Millis timeout = kIoTimeout);

/** An http (or, with cert/key, https) [[listener]]; `extra` goes into the listener table. */
std::string httpListenerToml(std::string_view name, std::string_view pool,
                             std::string_view extra = {}, const std::filesystem::path& cert = {},
                             const std::filesystem::path& key = {});

/** Sends `request` on a new connection to 127.0.0.1:port and reads until the peer closes. */
std::string rawExchange(std::uint16_t port, std::string_view request, Millis timeout = kIoTimeout);
/** Reads one HTTP response (head + Content-Length body) from `c`; nullopt on close/timeout.
 * `carry` holds bytes read past it (the next pipelined response), and is read first. */
std::optional<std::string> readResponse(BlockingClient& c, std::string& carry,
                                        Millis timeout = kIoTimeout);
inline std::optional<std::string> readResponse(BlockingClient& c, Millis timeout = kIoTimeout) {
    std::string carry;
    return readResponse(c, carry, timeout);
}
/** The status code of a response text ("HTTP/1.1 200 OK..."), 0 when none. */
int statusOf(std::string_view response);
std::string bodyOf(std::string_view response);

/** A python3-websockets echo server (text and binary frames come back unchanged); with cert/key
 * it serves wss. Stdout: "listening <port>". */
class WebSocketEchoServer {
public:
    explicit WebSocketEchoServer(const std::filesystem::path& cert = {},
                                 const std::filesystem::path& key = {});
    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    PosternProcess process_;
    std::uint16_t port_ = 0;
};

/** Runs the python3-websockets client script against `uri` with `mode`:
 *   "echo"  sends a text and a binary message, expects both back; prints "echo ok"
 *   "idle"  sends one message, then waits (no pings) until the server side closes; prints
 *           "closed <seconds>"
 *   "chat"  sends a message every 200 ms until closed; prints "closed <seconds>"
 * `ca`: the CA for wss. Returns the run (exit code and output). */
CommandResult runWebSocketClient(const std::string& uri, const std::string& mode,
                                 const std::filesystem::path& ca = {}, Millis timeout = kIoTimeout);

}  // namespace postern::test
