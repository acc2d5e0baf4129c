#include "http_check.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace postern::plugins::http_probe {

namespace {

using postern::sdk::Verdict;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::optional<int> parseCode(std::string_view s) {
    s = trim(s);
    int v = 0;
    if (s.size() != 3) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v < 100 || v > 599) return std::nullopt;
    return v;
}

}  // namespace

std::optional<StatusSet> StatusSet::parse(std::string_view text, std::string& error) {
    StatusSet set;
    auto invalid = [&](std::string_view why) {
        error = "'expect_status' " + std::string(why) + ": \"" + std::string(text) +
                "\" (write codes and ranges of codes from 100 to 599, e.g. \"200-399\" or "
                "\"200,204,301-302\")";
        return std::nullopt;
    };
    if (trim(text).empty()) return invalid("is empty");
    std::string_view rest = text;
    while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = trim(rest.substr(0, comma));
        const std::size_t dash = item.find('-');
        std::optional<int> low = parseCode(item.substr(0, dash));
        std::optional<int> high =
            dash == std::string_view::npos ? low : parseCode(item.substr(dash + 1));
        if (!low || !high) return invalid("is not a list of status codes");
        if (*low > *high) return invalid("has a range whose start is above its end");
        set.ranges_.emplace_back(*low, *high);
        if (!set.text_.empty()) set.text_ += ',';
        set.text_ += std::to_string(*low);
        if (*high != *low) set.text_ += "-" + std::to_string(*high);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return set;
}

bool StatusSet::contains(int status) const noexcept {
    for (const auto& [low, high] : ranges_)
        if (status >= low && status <= high) return true;
    return false;
}

std::optional<double> parseUtilization(std::string_view text) noexcept {
    text = trim(text);
    bool percent = false;
    if (!text.empty() && text.back() == '%') {
        percent = true;
        text = trim(text.substr(0, text.size() - 1));
    }
    if (text.empty() ||
        !(std::isdigit(static_cast<unsigned char>(text.front())) || text.front() == '.'))
        return std::nullopt;  // no sign, no "inf"/"nan"
    double v = 0;
    auto [p, ec] =
        std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
    if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(v) || v < 0)
        return std::nullopt;
    return percent ? v / 100.0 : v;
}

std::string hostHeader(std::string_view configured, std::string_view backend_host,
                       std::uint16_t port) {
    if (!configured.empty()) return std::string(configured);
    std::string h;
    if (backend_host.find(':') != std::string_view::npos)
        h = "[" + std::string(backend_host) + "]";
    else
        h = std::string(backend_host);
    if (port != 80 && port != 0) h += ":" + std::to_string(port);
    return h;
}

std::string buildRequest(std::string_view path, std::string_view host) {
    std::string r;
    r.reserve(128 + path.size() + host.size());
    r += "GET ";
    r += path;
    r += " HTTP/1.1\r\nHost: ";
    r += host;
    r += "\r\nUser-Agent: postern-probe/1.0\r\nAccept: */*\r\nConnection: close\r\n\r\n";
    return r;
}

Verdict ResponseJudge::fail(std::string reason) {
    reason_ = std::move(reason);
    return Verdict::Unhealthy;
}

Verdict ResponseJudge::feed(std::string_view data, bool eof) {
    const std::size_t before = head_.size();
    head_.append(data.substr(0, kMaxHead + 4 - std::min(head_.size(), kMaxHead + 4)));
    // The head ends at the first empty line (CRLF CRLF, or bare LF LF from lenient servers).
    const std::size_t from = before >= 3 ? before - 3 : 0;
    std::size_t end = head_.find("\r\n\r\n", from);
    std::size_t end_len = 4;
    if (const std::size_t lf = head_.find("\n\n", from);
        lf != std::string::npos && (end == std::string::npos || lf < end)) {
        end = lf;
        end_len = 2;
    }
    if (end != std::string::npos && end + end_len <= kMaxHead + 4)
        return judge(std::string_view(head_).substr(0, end));
    if (head_.size() > kMaxHead)
        return fail("response head longer than " + std::to_string(kMaxHead) + " bytes");
    if (eof) {
        if (head_.empty()) return fail("connection closed without a response");
        return fail("connection closed before the end of the response head");
    }
    return Verdict::NeedMore;
}

Verdict ResponseJudge::judge(std::string_view head) {
    const std::size_t eol = head.find('\n');
    const std::string_view status_line = trim(head.substr(0, eol));
    // "HTTP/1.1 200 OK" (the reason phrase may be empty or absent).
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ')
        return fail("malformed status line \"" + std::string(status_line.substr(0, 64)) + "\"");
    const std::string_view code_text = status_line.substr(9, 3);
    const std::optional<int> code = parseCode(code_text);
    if (!code || (status_line.size() > 12 && status_line[12] != ' '))
        return fail("malformed status line \"" + std::string(status_line.substr(0, 64)) + "\"");
    status_ = *code;
    std::string_view headers =
        eol == std::string_view::npos ? std::string_view() : head.substr(eol + 1);
    while (!headers.empty()) {
        const std::size_t next = headers.find('\n');
        const std::string_view line = headers.substr(0, next);
        headers = next == std::string_view::npos ? std::string_view() : headers.substr(next + 1);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        if (equalsIgnoreCase(trim(line.substr(0, colon)), "X-Utilization")) {
            if (auto u = parseUtilization(line.substr(colon + 1))) utilization_ = *u;
        }
    }
    if (!expect_.contains(status_))
        return fail("status " + std::to_string(status_) + " (expected " + expect_.text() + ")");
    return Verdict::Healthy;
}

}  // namespace postern::plugins::http_probe
