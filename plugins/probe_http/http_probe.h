// The `http` and `https` probes' session and probe classes (one implementation, two plugin
// libraries: https_plugin.cpp only asks the core for TLS first). Built only against the SDK.
// Control thread (the core runs probes there).
#pragma once

#include <memory>
#include <string>

#include "http_check.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::http_probe {

/** One check: the request is written on connect, the response head judged as it arrives. */
class HttpSession final : public postern::sdk::ProbeSession {
public:
    HttpSession(std::string request, StatusSet expect)
        : request_(std::move(request)), judge_(std::move(expect)) {}

    postern::sdk::Verdict onConnected(postern::sdk::Output& out) noexcept override;
    postern::sdk::Verdict onData(std::string_view data, bool eof,
                                 postern::sdk::Output& out) noexcept override;
    postern::sdk::ProbeResult result() const noexcept override {
        return {judge_.reason(), judge_.utilization()};
    }

private:
    std::string request_;
    ResponseJudge judge_;
};

/** One per pool, from `[pool.probe]`: keys `path`, `host`, `expect_status`, and for https also
 * `sni` (the name sent and checked; default: the core's, i.e. `tls_sni`, then the target's host
 * name). Over TLS it offers ALPN "http/1.1" only (it speaks HTTP/1.1). */
class HttpProbe : public postern::sdk::Probe {
public:
    static std::unique_ptr<HttpProbe> create(postern::sdk::Config& config, postern::sdk::Host& host,
                                             bool tls) noexcept;

    postern::sdk::Transport transport() const noexcept override;
    std::unique_ptr<postern::sdk::ProbeSession> newSession(
        const postern_backend& backend) noexcept override;

protected:
    HttpProbe() = default;

private:
    bool tls_ = false;
    std::string path_ = "/";
    std::string host_;
    std::string sni_;
    StatusSet expect_;
};

/** What each plugin library exports: HttpProbe created with or without TLS. */
template <bool kTls>
class HttpProbeOver final : public HttpProbe {
public:
    static std::unique_ptr<HttpProbe> create(postern::sdk::Config& config,
                                             postern::sdk::Host& host) noexcept {
        return HttpProbe::create(config, host, kTls);
    }
};

}  // namespace postern::plugins::http_probe
