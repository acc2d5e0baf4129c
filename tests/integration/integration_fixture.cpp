#include "integration_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "harness/socket_address.h"

namespace postern::test {

std::filesystem::path posternBinary() { return POSTERN_BINARY; }

std::regex lineWith(const std::map<std::string, std::string>& fields) {
    return std::regex(LinePattern::withFields(fields).source());
}

std::string gatewayToml(int workers, std::string_view extra_gateway) {
    std::string s = "[gateway]\nworkers = " + std::to_string(workers) + "\n";
    s += extra_gateway;
    // No control socket unless the test asks for one: the default path (/run/postern) is shared
    // with an installed service or a concurrent run, whose lock would stop this postern. Written
    // on the line the blank separator used, so positions in the file stay where they were.
    if (extra_gateway.find("control_socket") == std::string_view::npos) {
        if (!extra_gateway.empty() && extra_gateway.back() != '\n') s += "\n";
        s += "control_socket = \"off\"";
    }
    s += "\n[log]\nlevel = \"info\"\naccess = \"stdout\"\n\n";
    return s;
}

std::string listenerToml(std::string_view name, std::string_view pool, std::string_view extra,
                         std::string_view bind) {
    std::string s = "[[listener]]\n";
    s += "name = \"" + std::string(name) + "\"\n";
    s += "bind = [" + std::string(bind) + "]\n";
    s += "protocol = \"tcp\"\n";
    s += "pool = \"" + std::string(pool) + "\"\n";
    s += extra;
    s += "\n";
    return s;
}

std::string poolToml(std::string_view name, const std::vector<std::string>& targets,
                     std::string_view extra, std::string_view backend, std::string_view probe) {
    std::string s = "[[pool]]\n";
    s += "name = \"" + std::string(name) + "\"\n";
    s += "balancer = \"round_robin\"\n";
    s += extra;
    s += "\n";
    if (!backend.empty()) {
        s += "[pool.backend]\n";
        s += backend;
        s += "\n";
    }
    s += "[pool.discovery]\nplugin = \"static\"\ntargets = [";
    for (std::size_t i = 0; i < targets.size(); ++i) {
        if (i > 0) s += ", ";
        s += "\"" + targets[i] + "\"";
    }
    s += "]\n";
    if (!probe.empty()) {
        s += "[pool.probe]\nplugin = \"tcp\"\n";
        s += probe;
        s += "\n";
    }
    s += "\n";
    return s;
}

std::vector<std::string> addressesOf(const std::vector<const TestBackend*>& backends) {
    std::vector<std::string> out;
    for (const auto* b : backends) out.push_back(b->address());
    return out;
}

std::optional<std::string> readLine(BlockingClient& c, Millis timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    while (line.size() < 4096) {
        const auto left = std::chrono::duration_cast<Millis>(deadline -
                                                             std::chrono::steady_clock::now());
        if (left <= Millis(0)) return std::nullopt;
        auto r = c.recvExactly(1, left);
        if (r.status != IoStatus::Ok) return std::nullopt;
        if (r.data[0] == '\n') return line;
        line += r.data;
    }
    return std::nullopt;
}

std::optional<std::string> connectAndReadId(std::string_view ip, std::uint16_t port,
                                            Millis timeout) {
    auto c = BlockingClient::connect(ip, port, timeout);
    if (!c.connected()) return std::nullopt;
    return readLine(c, timeout);
}

::testing::AssertionResult echoRoundTrip(BlockingClient& c, std::string_view data,
                                         Millis timeout) {
    if (!c.connected()) return ::testing::AssertionFailure() << "not connected";
    const auto sent = c.sendAll(data, timeout);
    if (sent != IoStatus::Ok)
        return ::testing::AssertionFailure() << "send: " << toString(sent);
    const auto r = c.recvExactly(data.size(), timeout);
    if (r.status != IoStatus::Ok)
        return ::testing::AssertionFailure()
               << "recv: " << toString(r.status) << " after " << r.data.size() << " of "
               << data.size() << " bytes";
    if (r.data != data) return ::testing::AssertionFailure() << "echo differs";
    return ::testing::AssertionSuccess();
}

::testing::AssertionResult waitUntilAllServe(std::uint16_t port, const std::set<std::string>& ids) {
    std::set<std::string> seen;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (int attempt = 0; attempt < 200 && std::chrono::steady_clock::now() < deadline; ++attempt) {
        if (const auto id = connectAndReadId("127.0.0.1", port, 2s)) {
            seen.insert(*id);
            if (seen == ids) return ::testing::AssertionSuccess();
        } else {
            std::this_thread::sleep_for(50ms);  // not up yet: the next probe round decides
        }
    }
    auto f = ::testing::AssertionFailure() << "only these backends answered within 10 s:";
    for (const auto& s : seen) f << ' ' << s;
    return f;
}

std::uint16_t deadPort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    const auto addr = SocketAddress::fromIp("127.0.0.1", 0);
    std::uint16_t port = 0;
    if (::bind(fd, addr->sockaddrPtr(), addr->length()) == 0) {
        if (const auto local = SocketAddress::localOf(fd)) port = local->port();
    }
    ::close(fd);
    return port;
}

double msSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

void IntegrationTest::TearDown() {
    for (auto& p : processes_) p->kill();
    for (const auto& p : processes_) {
        if (const auto report = p->sanitizerReport())
            ADD_FAILURE() << "postern (pid " << p->pid() << ") reported: " << *report;
    }
    if (HasFailure()) {
        for (const auto& p : processes_) p->dumpLogs(std::cerr);
    }
    processes_.clear();
}

CommandResult IntegrationTest::runPosternCommand(const std::vector<std::string>& args,
                                                 Millis timeout,
                                                 const std::filesystem::path& working_dir) {
    auto& p = newProcess();
    p.start(args, working_dir);
    CommandResult r;
    r.exit_code = p.waitExit(timeout);
    if (!r.exit_code) p.kill();
    r.out = p.stdoutText();
    r.err = p.stderrText();
    return r;
}

PosternProcess& IntegrationTest::newProcess() {
    processes_.push_back(std::make_unique<PosternProcess>(posternBinary()));
    return *processes_.back();
}

PosternProcess& IntegrationTest::runPostern(std::string_view toml) {
    auto& p = newProcess();
    p.run(toml);
    return p;
}

}  // namespace postern::test
