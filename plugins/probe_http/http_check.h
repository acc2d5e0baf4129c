// The pieces of the `http` probe that need no I/O: the `expect_status` set, the request, and the
// incremental judgement of a response head (status line against expect_status, X-Utilization).
// Pure code over the SDK; the probe's session (http_probe.cpp) only glues them to the core.
// Control thread (the core runs probes there), but nothing here is thread-bound.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "postern/plugin/sdk.h"

namespace postern::plugins::http_probe {

/** The largest response head read; a longer one fails the check. */
inline constexpr std::size_t kMaxHead = 16384;

/** Status codes that count as healthy: a union of inclusive ranges. */
class StatusSet {
public:
    /** Parses "200-399", "200", "200,204,301-302" (spaces around items allowed; codes 100..599,
     * low <= high). nullopt with `error` set when invalid. */
    static std::optional<StatusSet> parse(std::string_view text, std::string& error);
    bool contains(int status) const noexcept;
    /** As written after normalisation, e.g. "200-399" — for messages. */
    const std::string& text() const noexcept { return text_; }

private:
    std::vector<std::pair<int, int>> ranges_;
    std::string text_;
};

/** Parses a utilization value: "0.72" (a fraction) or "72%" / "72.5 %" (a percentage), with
 * optional surrounding spaces. nullopt when it is neither, negative, or not finite. */
std::optional<double> parseUtilization(std::string_view text) noexcept;

/** The Host header value for a backend: `host` when configured, else the backend's host name
 * (bracketed when it is an IPv6 literal) with ":port" unless the port is 80. */
std::string hostHeader(std::string_view configured, std::string_view backend_host,
                       std::uint16_t port);

/** "GET <path> HTTP/1.1" with Host, User-Agent, Accept and `Connection: close`. */
std::string buildRequest(std::string_view path, std::string_view host);

/** Judges a response as its bytes arrive. */
class ResponseJudge {
public:
    explicit ResponseJudge(StatusSet expect) : expect_(std::move(expect)) {}

    /** Feeds the next bytes (`eof` = the backend closed). Returns NeedMore until the head is
     * complete, then Healthy or Unhealthy (reason() says why). */
    postern::sdk::Verdict feed(std::string_view data, bool eof);

    const std::string& reason() const noexcept { return reason_; }
    int status() const noexcept { return status_; }
    /** From X-Utilization, when the head had a valid one; negative otherwise. */
    double utilization() const noexcept { return utilization_; }

private:
    postern::sdk::Verdict judge(std::string_view head);
    postern::sdk::Verdict fail(std::string reason);

    StatusSet expect_;
    std::string head_;
    std::string reason_;
    int status_ = 0;
    double utilization_ = -1.0;
};

}  // namespace postern::plugins::http_probe
