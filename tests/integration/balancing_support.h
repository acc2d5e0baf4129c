// Helpers of the balancing integration tests (balancers, affinity, capacity, utilization,
// locality, http/agent probes): a pool TOML builder that names the balancer and probe plugin,
// clients bound to a chosen source address, and small Python servers (an HTTP backend built on
// http.server and a line agent) whose answers a test changes through a state file. Test thread
// only; every process is a PosternProcess, ended by PID when the object goes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "integration_fixture.h"

namespace postern::test {

struct PoolSpec {
    std::string name = "pool";
    std::string balancer = "round_robin";
    /** TOML array elements, e.g. "\"127.0.0.1:9000\"" or "{ address = \"...\", region = \"x\" }".
     */
    std::vector<std::string> targets;
    std::string extra;    ///< more [[pool]] keys
    std::string backend;  ///< [pool.backend] body
    std::string probe;    ///< [pool.probe] body including `plugin = ...`; empty = no probe
};
std::string poolToml(const PoolSpec& spec);
/** "\"ip:port\"" for each backend. */
std::vector<std::string> quoted(const std::vector<const TestBackend*>& backends);
/** A target table with a region: { address = "ip:port", region = "r" }. */
std::string regionTarget(const TestBackend& b, std::string_view region);

/** Connects from `source_ip` (empty = any) and reads the IdThenEcho backend's id. The client is
 * kept in `held` when given (a long-lived connection), closed otherwise. */
std::optional<std::string> readId(std::uint16_t port, std::string_view source_ip = {},
                                  std::vector<BlockingClient>* held = nullptr,
                                  Millis timeout = kIoTimeout);

/** Sends a GET through postern and returns the response body, or nullopt if the connection was
 * closed without a response. */
std::optional<std::string> httpGetBody(std::uint16_t port, Millis timeout = kIoTimeout);

/** Count of `key=value` access-log lines on stdout. */
std::size_t accessLines(PosternProcess& p, std::string_view key, std::string_view value);
/** Waits until there are at least `n` such lines. */
bool waitAccessLines(PosternProcess& p, std::string_view key, std::string_view value, std::size_t n,
                     Millis timeout = kIoTimeout);

/** A Python 3 server script run as a child process (found on PATH or /usr/bin/python3). */
class PythonServer {
public:
    enum class Kind {
        Http,   ///< http.server: answers every GET with "<status>" and "X-Utilization: <u>" from
                ///< the state file ("200 0.95", "503 -"); the body is the server's id + "\n";
                ///< request heads are appended to requests.log
        Agent,  ///< writes the state file's first line + "\n" to each connection, then closes
    };
    /** Starts it on ip:port (port 0 = any) and waits until it listens; throws if it cannot. With
     * a certificate chain and key the HTTP kind speaks HTTPS. */
    PythonServer(Kind kind, std::string id, std::string state, std::string ip = "127.0.0.1",
                 std::uint16_t port = 0, const std::filesystem::path& tls_cert = {},
                 const std::filesystem::path& tls_key = {});

    std::uint16_t port() const { return port_; }
    std::string address() const { return ip_ + ":" + std::to_string(port_); }
    const std::string& id() const { return id_; }
    /** Replaces the state file atomically (rename). */
    void setState(std::string_view state);
    /** Everything the HTTP kind has received as request heads. */
    std::string requests() const;
    PosternProcess& process() { return process_; }

private:
    PosternProcess process_;
    std::string id_;
    std::string ip_;
    std::uint16_t port_ = 0;
};

/** Two agents listening on one port number at two addresses (the agent probe's `port` is one
 * number per pool): the first binds any free port, the second the same number at its address;
 * when another test took that port there in the meantime, both start again on a new one. */
struct AgentPair {
    std::unique_ptr<PythonServer> a;
    std::unique_ptr<PythonServer> b;
};
AgentPair agentsOnOnePort(const std::string& state_a, const std::string& ip_a,
                          const std::string& state_b, const std::string& ip_b);

/** The python3 interpreter the tests use. */
std::filesystem::path python3Path();

}  // namespace postern::test
