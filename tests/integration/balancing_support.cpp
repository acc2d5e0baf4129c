#include "balancing_support.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace postern::test {

namespace {

constexpr std::string_view kHttpServer = R"PY(
import http.server, os, ssl, sys

ip, port, ident, here = sys.argv[1], int(sys.argv[2]), sys.argv[3], os.path.dirname(os.path.abspath(__file__))

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        with open(os.path.join(here, "requests.log"), "a") as log:
            log.write(self.requestline + "\n" + str(self.headers) + "\n")
        with open(os.path.join(here, "state")) as f:
            words = f.read().split()
        status, utilization = int(words[0]), words[1] if len(words) > 1 else "-"
        body = (ident + "\n").encode()
        self.send_response(status)
        if utilization != "-":
            self.send_header("X-Utilization", utilization)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True

server = Server((ip, port), Handler)
if len(sys.argv) > 5:  # HTTPS: certificate chain and key
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[4], sys.argv[5])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
)PY";

constexpr std::string_view kAgent = R"PY(
import os, socketserver, sys

ip, port, here = sys.argv[1], int(sys.argv[2]), os.path.dirname(os.path.abspath(__file__))

class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        with open(os.path.join(here, "state")) as f:
            line = f.readline().rstrip("\n")
        self.request.sendall((line + "\n").encode())

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

server = Server((ip, port), Handler)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
)PY";

}  // namespace

std::string poolToml(const PoolSpec& spec) {
    std::string s =
        "[[pool]]\nname = \"" + spec.name + "\"\nbalancer = \"" + spec.balancer + "\"\n";
    s += spec.extra;
    s += "\n";
    if (!spec.backend.empty()) s += "[pool.backend]\n" + spec.backend + "\n";
    s += "[pool.discovery]\nplugin = \"static\"\ntargets = [";
    for (std::size_t i = 0; i < spec.targets.size(); ++i) s += (i ? ", " : "") + spec.targets[i];
    s += "]\n";
    if (!spec.probe.empty()) s += "[pool.probe]\n" + spec.probe + "\n";
    return s + "\n";
}

std::vector<std::string> quoted(const std::vector<const TestBackend*>& backends) {
    std::vector<std::string> out;
    for (const auto* b : backends) out.push_back("\"" + b->address() + "\"");
    return out;
}

std::string regionTarget(const TestBackend& b, std::string_view region) {
    return "{ address = \"" + b.address() + "\", region = \"" + std::string(region) + "\" }";
}

std::optional<std::string> readId(std::uint16_t port, std::string_view source_ip,
                                  std::vector<BlockingClient>* held, Millis timeout) {
    auto c = BlockingClient::connect("127.0.0.1", port, timeout, source_ip);
    if (!c.connected()) return std::nullopt;
    auto id = readLine(c, timeout);
    if (id && held) held->push_back(std::move(c));
    return id;
}

std::optional<std::string> httpGetBody(std::uint16_t port, Millis timeout) {
    auto c = BlockingClient::connect("127.0.0.1", port, timeout);
    if (!c.connected()) return std::nullopt;
    if (c.sendAll("GET / HTTP/1.0\r\nHost: test\r\n\r\n", timeout) != IoStatus::Ok)
        return std::nullopt;
    const auto r = c.recvAll(timeout);
    const auto end = r.data.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    std::string body = r.data.substr(end + 4);
    if (!body.empty() && body.back() == '\n') body.pop_back();
    return body;
}

std::size_t accessLines(PosternProcess& p, std::string_view key, std::string_view value) {
    return p.matchingLines(std::regex(fieldPattern(key, value)), Stream::Stdout).size();
}

bool waitAccessLines(PosternProcess& p, std::string_view key, std::string_view value, std::size_t n,
                     Millis timeout) {
    return p.waitForLine(std::regex(fieldPattern(key, value)), timeout, Stream::Stdout, n)
        .has_value();
}

std::filesystem::path python3Path() {
    if (const char* path = std::getenv("PATH")) {
        std::stringstream dirs(path);
        std::string dir;
        while (std::getline(dirs, dir, ':')) {
            // pyenv shims re-exec through a shell; the system interpreter keeps its PID simple.
            if (dir.find("shims") != std::string::npos) continue;
            const auto candidate = std::filesystem::path(dir) / "python3";
            if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        }
    }
    return "/usr/bin/python3";
}

PythonServer::PythonServer(Kind kind, std::string id, std::string state, std::string ip,
                           std::uint16_t port, const std::filesystem::path& tls_cert,
                           const std::filesystem::path& tls_key)
    : process_(python3Path()), id_(std::move(id)), ip_(std::move(ip)) {
    process_.writeConfig(kind == Kind::Http ? kHttpServer : kAgent, "server.py");
    setState(state);
    std::vector<std::string> args = {"server.py", ip_, std::to_string(port)};
    if (kind == Kind::Http) args.push_back(id_);
    if (kind == Kind::Http && !tls_cert.empty()) {
        args.push_back(tls_cert.string());
        args.push_back(tls_key.string());
    }
    process_.start(args);
    const auto line =
        process_.waitForLine(std::regex("^listening [0-9]+$"), kStartTimeout, Stream::Stdout);
    if (!line) {
        std::ostringstream logs;
        process_.dumpLogs(logs);
        throw std::runtime_error("python server did not start:\n" + logs.str());
    }
    port_ = static_cast<std::uint16_t>(std::stoi(line->substr(10)));
}

AgentPair agentsOnOnePort(const std::string& state_a, const std::string& ip_a,
                          const std::string& state_b, const std::string& ip_b) {
    for (int attempt = 1;; ++attempt) {
        AgentPair pair;
        pair.a = std::make_unique<PythonServer>(PythonServer::Kind::Agent, "agent-a", state_a, ip_a);
        try {
            pair.b = std::make_unique<PythonServer>(PythonServer::Kind::Agent, "agent-b", state_b,
                                                    ip_b, pair.a->port());
            return pair;
        } catch (const std::runtime_error&) {
            if (attempt == 10) throw;  // not a race any more
        }
    }
}

void PythonServer::setState(std::string_view state) {
    process_.writeConfig(state, "state.tmp");
    std::filesystem::rename(process_.dir().path() / "state.tmp", process_.dir().path() / "state");
}

std::string PythonServer::requests() const {
    std::ifstream in(process_.dir().path() / "requests.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace postern::test
