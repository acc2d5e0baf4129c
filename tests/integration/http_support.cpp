#include "http_support.h"

#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace postern::test {

namespace {

constexpr std::string_view kHttpBackend = R"PY(
import asyncio, hashlib, ssl, sys

ip = sys.argv[1]
context = None
if len(sys.argv) > 3:  # HTTPS: certificate chain and key
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
connections = 0

def pattern(n):
    return (b"abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]

async def read_body(reader, fields, digest):
    n = 0
    if "chunked" in fields.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                return n
            data = await reader.readexactly(size)
            digest.update(data)
            n += size
            await reader.readexactly(2)
    left = int(fields.get("content-length", "0"))
    while left > 0:
        data = await reader.read(min(left, 65536))
        if not data:
            raise ConnectionError("body cut")
        digest.update(data)
        n += len(data)
        left -= len(data)
    return n

def response(status, body, close, head_only=False, extra=""):
    reason = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found"}.get(status, "Status")
    head = f"HTTP/1.1 {status} {reason}\r\n{extra}"
    if status not in (204, 304):
        head += f"Content-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    head += "\r\n"
    if head_only or status in (204, 304):
        body = b""
    return head.encode() + body

async def handle(reader, writer):
    global connections
    connections += 1
    cid = connections
    print("conn", cid, flush=True)
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            if line == b"\r\n":
                continue
            raw = line
            method, target, version = line.decode("latin1").rstrip("\r\n").split(" ", 2)
            fields = {}
            while True:
                h = await reader.readline()
                raw += h
                if h in (b"\r\n", b""):
                    break
                name, _, value = h.decode("latin1").partition(":")
                fields[name.strip().lower()] = value.strip()
            print("req", cid, method, target, flush=True)
            conn = fields.get("connection", "").lower()
            close = "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)
            head_only = method == "HEAD"
            digest = hashlib.sha256()
            path = target.split("?")[0]
            if path == "/continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                await writer.drain()
            n = await read_body(reader, fields, digest)
            if path == "/headers":
                out = response(200, raw, close, head_only)
            elif path in ("/body", "/continue"):
                out = response(200, f"len={n} sha256={digest.hexdigest()}\n".encode(), close, head_only)
            elif path.startswith("/status/"):
                code = int(path[8:])
                out = response(code, f"status {code}\n".encode(), close, head_only)
            elif path.startswith("/bytes/"):
                out = response(200, pattern(int(path[7:])), close, head_only)
            elif path.startswith("/chunked/"):
                total = int(path[9:])
                out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                out += b"Connection: close\r\n\r\n" if close else b"\r\n"
                if not head_only:
                    data = pattern(total)
                    for at in range(0, total, 1000):
                        piece = data[at:at + 1000]
                        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
                    out += b"0\r\n\r\n"
            elif path.startswith("/close/"):
                writer.write(b"HTTP/1.1 200 OK\r\n\r\n" + (b"" if head_only else pattern(int(path[7:]))))
                await writer.drain()
                break
            elif path.startswith("/sleep/"):
                await asyncio.sleep(int(path[7:]) / 1000)
                out = response(200, b"slept\n", close, head_only)
            elif path == "/drop":
                break  # closes the connection without an answer
            elif path == "/bye":
                # Keep-alive by its head, yet the connection ends right after the response.
                writer.write(response(200, b"bye\n", False, head_only))
                await writer.drain()
                break
            elif path == "/conn":
                out = response(200, f"{cid}\n".encode(), close, head_only)
            elif path == "/garbage":
                out = b"HTTP/1.1 2000 What\r\nContent-Length: 0\r\n\r\n"
            else:
                out = response(200, f"ok {path}\n".encode(), close, head_only)
            writer.write(out)
            await writer.drain()
            if close:
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    writer.close()
    print("close", cid, flush=True)

async def main():
    server = await asyncio.start_server(handle, ip, 0, ssl=context)
    print("listening", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
)PY";

constexpr std::string_view kWebSocketServer = R"PY(
import asyncio, ssl, sys
import websockets

async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass

async def main():
    context = None
    if len(sys.argv) > 2:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
    async with websockets.serve(echo, "127.0.0.1", 0, ssl=context, ping_interval=None) as server:
        print("listening", server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()

asyncio.run(main())
)PY";

constexpr std::string_view kWebSocketClient = R"PY(
import asyncio, ssl, sys, time
import websockets

uri, mode = sys.argv[1], sys.argv[2]
context = None
if len(sys.argv) > 3:
    context = ssl.create_default_context(cafile=sys.argv[3])

async def main():
    async with websockets.connect(uri, ssl=context, ping_interval=None, close_timeout=1) as ws:
        if mode == "echo":
            await ws.send("hello text")
            assert await ws.recv() == "hello text"
            payload = bytes(range(256)) * 64
            await ws.send(payload)
            assert await ws.recv() == payload
            print("echo ok", flush=True)
            return
        start = time.monotonic()
        await ws.send("first")
        await ws.recv()
        try:
            while True:
                if mode == "chat":
                    await asyncio.sleep(0.2)
                    await ws.send("more")
                    await ws.recv()
                else:
                    await ws.recv()
        except websockets.ConnectionClosed:
            pass
        print("closed %.2f" % (time.monotonic() - start), flush=True)

asyncio.run(main())
)PY";

std::uint16_t waitListening(PosternProcess& p, const char* what) {
    const auto line =
        p.waitForLine(std::regex("^listening [0-9]+$"), kStartTimeout, Stream::Stdout);
    if (!line) {
        std::ostringstream logs;
        p.dumpLogs(logs);
        throw std::runtime_error(std::string(what) + " did not start:\n" + logs.str());
    }
    return static_cast<std::uint16_t>(std::stoi(line->substr(10)));
}

std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

std::filesystem::path systemPython() { return "/usr/bin/python3"; }

bool haveProgram(const char* path) { return ::access(path, X_OK) == 0; }

bool havePythonModule(const std::string& module) {
    const auto r = runCommand(systemPython(), {"-c", "import " + module}, kStartTimeout);
    return r.exit_code && *r.exit_code == 0;
}

HttpBackend::HttpBackend(std::string ip, const std::filesystem::path& cert,
                         const std::filesystem::path& key)
    : process_(systemPython()), ip_(std::move(ip)) {
    process_.writeConfig(kHttpBackend, "backend.py");
    std::vector<std::string> args = {"backend.py", ip_};
    if (!cert.empty()) {
        args.push_back(cert.string());
        args.push_back(key.string());
    }
    process_.start(args);
    port_ = waitListening(process_, "the python HTTP backend");
}

std::size_t HttpBackend::connections() const {
    return process_.matchingLines(LinePattern("^conn [0-9]+$"), Stream::Stdout).size();
}

bool HttpBackend::waitForClose(std::size_t connection, Millis timeout) {
    return process_
        .waitForLine(LinePattern("^close " + std::to_string(connection) + "$"), timeout,
                     Stream::Stdout)
        .has_value();
}

std::size_t HttpBackend::requests() const {
    return process_.matchingLines(LinePattern("^req "), Stream::Stdout).size();
}

bool HttpBackend::waitForRequests(std::size_t n, Millis timeout) {
    if (n == 0) return true;
    return process_.waitForLine(LinePattern("^req "), timeout, Stream::Stdout, n).has_value();
}

NginxBackend::NginxBackend() : process_("/usr/sbin/nginx") {
    // Port 0 is not for nginx: take a free one (bound, then closed) and retry on a clash.
    const auto& dir = process_.dir().path();
    std::filesystem::create_directories(dir / "logs");
    std::filesystem::create_directories(dir / "tmp");
    const std::string d = dir.string();
    port_ = deadPort();
    std::string conf = "error_log " + d + "/logs/error.log info;\npid " + d +
                       "/nginx.pid;\nevents { worker_connections 256; }\nhttp {\n";
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
        conf += "  " + std::string(temp) + "_temp_path " + d + "/tmp;\n";
    conf += "  log_format conn '$connection $request';\n";
    conf += "  keepalive_requests 10000;\n";
    conf += "  server {\n    listen 127.0.0.1:" + std::to_string(port_) + ";\n";
    conf += "    access_log " + d + "/logs/access.log conn;\n";
    conf += "    client_max_body_size 100m;\n";
    conf += "    location / { return 200 \"conn=$connection\\n\"; }\n  }\n}\n";
    process_.writeConfig(conf, "nginx.conf");
    process_.start({"-p", d, "-c", d + "/nginx.conf", "-g", "daemon off; master_process off;"});
    // nginx says nothing when it starts: wait until it accepts.
    for (int i = 0; i < 200; ++i) {
        auto c = BlockingClient::connect("127.0.0.1", port_, Millis(200));
        if (c.connected()) return;
        if (!process_.running()) break;
        ::usleep(25 * 1000);
    }
    throw std::runtime_error("nginx did not start: " + logs());
}

std::vector<std::string> NginxBackend::accessLines() const {
    std::vector<std::string> out;
    std::stringstream in(readFile(process_.dir().path() / "logs/access.log"));
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

std::string NginxBackend::logs() const {
    return readFile(process_.dir().path() / "logs/error.log") + process_.stderrText();
}

CommandResult runCurl(const std::vector<std::string>& args, Millis timeout) {
    std::vector<std::string> all = {"-s", "--max-time", std::to_string(timeout.count() / 1000)};
    all.insert(all.end(), args.begin(), args.end());
    return runCommand("/usr/bin/curl", all, timeout + Millis(2000));
}

std::string httpListenerToml(std::string_view name, std::string_view pool, std::string_view extra,
                             const std::filesystem::path& cert, const std::filesystem::path& key) {
    std::string s = "[[listener]]\nname = \"" + std::string(name) +
                    "\"\nbind = [\"127.0.0.1:0\"]\nprotocol = \"" +
                    (cert.empty() ? "http" : "https") + "\"\n";
    if (!pool.empty()) s += "pool = \"" + std::string(pool) + "\"\n";
    s += std::string(extra) + "\n";
    if (!cert.empty())
        s += "[listener.tls]\ncertificates = [{ cert = \"" + cert.string() + "\", key = \"" +
             key.string() + "\" }]\n";
    return s;
}

std::string rawExchange(std::uint16_t port, std::string_view request, Millis timeout) {
    auto c = BlockingClient::connect("127.0.0.1", port, timeout);
    if (!c.connected()) return {};
    c.sendAll(request, timeout);
    return c.recvAll(timeout).data;
}

std::optional<std::string> readResponse(BlockingClient& c, std::string& carry, Millis timeout) {
    std::string got = std::move(carry);
    carry.clear();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t head_end = std::string::npos;
    for (int i = 0; i < 10000; ++i) {
        if (head_end == std::string::npos) head_end = got.find("\r\n\r\n");
        if (head_end != std::string::npos) {
            std::size_t length = 0;
            static const std::regex cl("\r\n[Cc]ontent-[Ll]ength: *([0-9]+)\r\n");
            std::smatch m;
            const std::string head = got.substr(0, head_end + 2);
            if (std::regex_search(head, m, cl)) length = std::stoul(m[1]);
            if (got.size() >= head_end + 4 + length) {
                carry = got.substr(head_end + 4 + length);
                got.resize(head_end + 4 + length);
                return got;
            }
        }
        const auto left =
            std::chrono::duration_cast<Millis>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        auto r = c.recvSome(left);
        got += r.data;
        if (r.status != IoStatus::Ok && r.data.empty()) return std::nullopt;
    }
    return std::nullopt;
}

int statusOf(std::string_view response) {
    if (response.size() < 12 || response.substr(0, 5) != "HTTP/") return 0;
    return std::atoi(std::string(response.substr(9, 3)).c_str());
}

std::string bodyOf(std::string_view response) {
    const auto at = response.find("\r\n\r\n");
    return at == std::string_view::npos ? std::string() : std::string(response.substr(at + 4));
}

WebSocketEchoServer::WebSocketEchoServer(const std::filesystem::path& cert,
                                         const std::filesystem::path& key)
    : process_(systemPython()) {
    process_.writeConfig(kWebSocketServer, "ws_server.py");
    std::vector<std::string> args = {"ws_server.py"};
    if (!cert.empty()) {
        args.push_back(cert.string());
        args.push_back(key.string());
    }
    process_.start(args);
    port_ = waitListening(process_, "the websockets server");
}

CommandResult runWebSocketClient(const std::string& uri, const std::string& mode,
                                 const std::filesystem::path& ca, Millis timeout) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("postern-ws-client-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto script = dir / "ws_client.py";
    {
        std::ofstream out(script, std::ios::binary | std::ios::trunc);
        out << kWebSocketClient;
    }
    std::vector<std::string> args = {script.string(), uri, mode};
    if (!ca.empty()) args.push_back(ca.string());
    auto r = runCommand(systemPython(), args, timeout);
    std::filesystem::remove_all(dir);
    return r;
}

}  // namespace postern::test
