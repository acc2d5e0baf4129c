#include "agent_reply.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace postern::plugins::agent_probe {

namespace {

using postern::sdk::Verdict;

bool isSeparator(char c) { return c == ' ' || c == '\t' || c == ',' || c == '\r'; }

std::string lowercase(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && isSeparator(s.front())) s.remove_prefix(1);
    while (!s.empty() && isSeparator(s.back())) s.remove_suffix(1);
    return s;
}

/** "72%" or "72.5%" → 0.72 / 0.725. */
bool parsePercent(std::string_view word, double* out) {
    if (word.size() < 2 || word.back() != '%') return false;
    word.remove_suffix(1);
    if (!std::isdigit(static_cast<unsigned char>(word.front()))) return false;
    double v = 0;
    auto [p, ec] =
        std::from_chars(word.data(), word.data() + word.size(), v, std::chars_format::fixed);
    if (ec != std::errc() || p != word.data() + word.size() || !std::isfinite(v) || v < 0)
        return false;
    *out = v / 100.0;
    return true;
}

}  // namespace

AgentReply parseAgentReply(std::string_view line) {
    AgentReply reply;
    std::string_view description;
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) {
        description = trim(line.substr(hash + 1));
        line = line.substr(0, hash);
    }
    bool up = false, down = false, drain = false, percent = false;
    std::string_view rest = line;
    while (true) {
        while (!rest.empty() && isSeparator(rest.front())) rest.remove_prefix(1);
        if (rest.empty()) break;
        std::size_t end = 0;
        while (end < rest.size() && !isSeparator(rest[end])) ++end;
        const std::string_view word = rest.substr(0, end);
        rest.remove_prefix(end);
        const std::string w = lowercase(word);
        double u = 0;
        if (w == "up" || w == "ready") {
            up = true;
        } else if (w == "down" || w == "fail" || w == "stopped" || w == "maint") {
            down = true;
            if (reply.reason.empty()) reply.reason = "agent says " + w;
        } else if (w == "drain") {
            drain = true;
        } else if (parsePercent(w, &u)) {
            reply.utilization = u;
            percent = true;
        } else {
            reply.verdict = Verdict::Unhealthy;
            reply.reason =
                "unknown word \"" + std::string(word.substr(0, 64)) + "\" in the agent's reply";
            return reply;
        }
    }
    if (down) {
        reply.verdict = Verdict::Unhealthy;
        if (!description.empty()) reply.reason += ": " + std::string(description.substr(0, 200));
    } else if (drain) {
        reply.verdict = Verdict::Drain;
    } else if (up || percent) {
        reply.verdict = Verdict::Healthy;
    } else {
        reply.verdict = Verdict::Unhealthy;
        reply.reason = "empty reply from the agent";
    }
    return reply;
}

}  // namespace postern::plugins::agent_probe
