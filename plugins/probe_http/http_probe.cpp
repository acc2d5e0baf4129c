// The `http` probe plugin: sends `GET <path>` with a Host header and `Connection: close`, and
// judges the response head: healthy when the status is in `expect_status` (default "200-399");
// an `X-Utilization` header ("0.72" or "72%") feeds utilization balancing. Keys: path, host,
// expect_status (interval, timeout, thresholds and port belong to the core). Built only against
// the plugin SDK. An `https` twin needs the core to run the TLS handshake for probes
// (postern_probe_transport.tls), which comes with TLS support.
#include <memory>
#include <new>
#include <string>

#include "http_check.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::http_probe {

namespace {

bool hasSpaceOrControl(std::string_view s) {
    for (char c : s)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return true;
    return false;
}

}  // namespace

/** One check: the request is written on connect, the response head judged as it arrives. Control
 * thread. */
class HttpSession final : public postern::sdk::ProbeSession {
public:
    HttpSession(std::string request, const StatusSet& expect) : request_(std::move(request)), judge_(expect) {}

    postern::sdk::Verdict onConnected(postern::sdk::Output& out) noexcept override {
        out.write(request_);
        return postern::sdk::Verdict::NeedMore;
    }
    postern::sdk::Verdict onData(std::string_view data, bool eof, postern::sdk::Output& out) noexcept override {
        (void)out;
        try {
            return judge_.feed(data, eof);
        } catch (...) {
            return postern::sdk::Verdict::Unhealthy;  // out of memory
        }
    }
    postern::sdk::ProbeResult result() const noexcept override { return {judge_.reason(), judge_.utilization()}; }

private:
    std::string request_;
    ResponseJudge judge_;
};

/** One per pool, from `[pool.probe]`. Control thread. */
class HttpProbe final : public postern::sdk::Probe {
public:
    static std::unique_ptr<HttpProbe> create(postern::sdk::Config& config, postern::sdk::Host& host) noexcept {
        (void)host;
        try {
            std::string path = "/", host_header;
            std::optional<StatusSet> expect;
            bool ok = true;
            // Look every key up first, so none is reported as unknown after an error elsewhere.
            postern::sdk::Node path_node = config.get("path");
            postern::sdk::Node host_node = config.get("host");
            postern::sdk::Node expect_node = config.get("expect_status");
            if (path_node) {
                auto v = path_node.asString();
                if (!v) {
                    path_node.error("'path' must be a string, not " + std::string(describe(path_node.type())));
                    ok = false;
                } else if (v->empty() || v->front() != '/' || hasSpaceOrControl(*v)) {
                    path_node.error("'path' must start with '/' and contain no spaces or control characters, got \"" +
                                    std::string(*v) + "\"");
                    ok = false;
                } else {
                    path = std::string(*v);
                }
            }
            if (host_node) {
                auto v = host_node.asString();
                if (!v) {
                    host_node.error("'host' must be a string, not " + std::string(describe(host_node.type())));
                    ok = false;
                } else if (hasSpaceOrControl(*v)) {
                    host_node.error("'host' must contain no spaces or control characters, got \"" + std::string(*v) +
                                    "\"");
                    ok = false;
                } else {
                    host_header = std::string(*v);
                }
            }
            if (expect_node) {
                auto v = expect_node.asString();
                std::string error;
                if (!v) {
                    expect_node.error("'expect_status' must be a string such as \"200-399\", not " +
                                      std::string(describe(expect_node.type())));
                    ok = false;
                } else if (!(expect = StatusSet::parse(*v, error))) {
                    expect_node.error(error);
                    ok = false;
                }
            } else {
                std::string error;
                expect = StatusSet::parse("200-399", error);
            }
            if (!ok) return nullptr;
            return std::unique_ptr<HttpProbe>(new HttpProbe(std::move(path), std::move(host_header), std::move(*expect)));
        } catch (...) {
            config.error("the http probe plugin ran out of memory while reading its configuration");
            return nullptr;
        }
    }

    std::unique_ptr<postern::sdk::ProbeSession> newSession(const postern_backend& backend) noexcept override {
        try {
            return std::make_unique<HttpSession>(
                buildRequest(path_, hostHeader(host_, postern::sdk::view(backend.host), backend.port)), expect_);
        } catch (...) {
            return nullptr;  // counted as a failed check
        }
    }

private:
    HttpProbe(std::string path, std::string host, StatusSet expect)
        : path_(std::move(path)), host_(std::move(host)), expect_(std::move(expect)) {}

    std::string path_;
    std::string host_;
    StatusSet expect_;
};

}  // namespace postern::plugins::http_probe

POSTERN_PROBE_PLUGIN("http", "1.0.0", postern::plugins::http_probe::HttpProbe);
