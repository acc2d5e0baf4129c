// The `agent` probe plugin, like HAProxy's agent-check: connects to the backend's agent (usually
// on another port: `[pool.probe] port`), optionally sends `send`, reads one line and judges it
// (see agent_reply.h): "up", "down", "drain", "72%"... Built only against the plugin SDK.
#include <algorithm>
#include <memory>
#include <new>
#include <string>

#include "agent_reply.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::agent_probe {

/** One check: reads up to the first line end (or the agent's close). Control thread. */
class AgentSession final : public postern::sdk::ProbeSession {
public:
    explicit AgentSession(std::string send) : send_(std::move(send)) {}

    postern::sdk::Verdict onConnected(postern::sdk::Output& out) noexcept override {
        out.write(send_);
        return postern::sdk::Verdict::NeedMore;
    }
    postern::sdk::Verdict onData(std::string_view data, bool eof,
                                 postern::sdk::Output& out) noexcept override {
        (void)out;
        try {
            const std::size_t room = kMaxLine + 1 - std::min(line_.size(), kMaxLine + 1);
            line_.append(data.substr(0, room));
            const std::size_t nl = line_.find('\n');
            if (nl == std::string::npos && line_.size() > kMaxLine) {
                reply_.reason = "agent line longer than " + std::to_string(kMaxLine) + " bytes";
                return postern::sdk::Verdict::Unhealthy;
            }
            if (nl == std::string::npos && !eof) return postern::sdk::Verdict::NeedMore;
            if (nl == std::string::npos && line_.empty()) {
                reply_.reason = "agent closed the connection without a reply";
                return postern::sdk::Verdict::Unhealthy;
            }
            reply_ = parseAgentReply(std::string_view(line_).substr(0, nl));
            return reply_.verdict;
        } catch (...) {
            return postern::sdk::Verdict::Unhealthy;
        }
    }
    postern::sdk::ProbeResult result() const noexcept override {
        return {reply_.reason, reply_.utilization};
    }

private:
    std::string send_;
    std::string line_;
    AgentReply reply_;
};

/** One per pool, from `[pool.probe]`. Key: `send` (string written once connected, e.g.
 * "status\n"; default nothing). Control thread. */
class AgentProbe final : public postern::sdk::Probe {
public:
    static std::unique_ptr<AgentProbe> create(postern::sdk::Config& config,
                                              postern::sdk::Host& host) noexcept {
        (void)host;
        try {
            std::string send;
            if (postern::sdk::Node node = config.get("send")) {
                auto v = node.asString();
                if (!v) {
                    node.error("'send' must be a string, not " +
                               std::string(describe(node.type())));
                    return nullptr;
                }
                if (v->size() > kMaxLine) {
                    node.error("'send' must be at most " + std::to_string(kMaxLine) + " bytes");
                    return nullptr;
                }
                send = std::string(*v);
            }
            return std::unique_ptr<AgentProbe>(new AgentProbe(std::move(send)));
        } catch (...) {
            config.error(
                "the agent probe plugin ran out of memory while reading its configuration");
            return nullptr;
        }
    }

    std::unique_ptr<postern::sdk::ProbeSession> newSession(
        const postern_backend& backend) noexcept override {
        (void)backend;
        try {
            return std::make_unique<AgentSession>(send_);
        } catch (...) {
            return nullptr;  // counted as a failed check
        }
    }

private:
    explicit AgentProbe(std::string send) : send_(std::move(send)) {}
    std::string send_;
};

}  // namespace postern::plugins::agent_probe

POSTERN_PROBE_PLUGIN("agent", "1.0.0", postern::plugins::agent_probe::AgentProbe);
