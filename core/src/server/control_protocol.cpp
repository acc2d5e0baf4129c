#include "server/control_protocol.h"

#include <charconv>

namespace postern::server {

namespace {

void appendLine(std::string& out, std::string_view key, std::string_view text) {
    out += key;
    out += ' ';
    for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
    out += '\n';
}

/** N of "KEY=N" (KEY given with its '='), nothing else on the line. */
std::optional<std::uint64_t> numberOf(std::string_view rest, std::string_view kKey) {
    if (rest.substr(0, kKey.size()) != kKey) return std::nullopt;
    rest.remove_prefix(kKey.size());
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (ec != std::errc() || end != rest.data() + rest.size() || rest.empty()) return std::nullopt;
    return value;
}

}  // namespace

std::string encodeControlReply(const ControlReply& reply) {
    std::string out;
    switch (reply.status) {
        case ControlReply::Status::Applied:
            out = "applied generation=" + std::to_string(reply.generation) + "\n";
            break;
        case ControlReply::Status::Rejected:
            out = "rejected generation=" + std::to_string(reply.generation) + "\n";
            break;
        case ControlReply::Status::Failed:
            out = "failed\n";
            break;
        case ControlReply::Status::Data:
            out = "data bytes=" + std::to_string(reply.body.size()) + "\n";
            out.reserve(out.size() + reply.body.size() + 64);
            out += reply.body;
            out += '\n';
            break;
    }
    for (const auto& w : reply.warnings) appendLine(out, "warning", w);
    for (const auto& e : reply.errors) appendLine(out, "error", e);
    out += "end\n";
    return out;
}

std::optional<ControlReply> decodeControlReply(std::string_view text, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<ControlReply> {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    ControlReply reply;
    bool first = true;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        if (nl == std::string_view::npos) break;
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        if (first) {
            first = false;
            const auto space = line.find(' ');
            const std::string_view status = line.substr(0, space);
            const std::string_view rest =
                space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
            if (status == "failed" && rest.empty()) {
                reply.status = ControlReply::Status::Failed;
                continue;
            }
            if (status == "data") {
                auto bytes = numberOf(rest, "bytes=");
                if (!bytes) return fail("unexpected status line '" + std::string(line) + "'");
                if (*bytes > kControlMaxBody)
                    return fail("the body of " + std::to_string(*bytes) +
                                " bytes is larger than the limit of " +
                                std::to_string(kControlMaxBody));
                const auto size = static_cast<std::size_t>(*bytes);
                if (text.size() <= size)
                    return fail("the reply ended inside its body (" + std::to_string(text.size()) +
                                " of " + std::to_string(size) + " bytes)");
                if (text[size] != '\n') return fail("no newline after the body");
                reply.status = ControlReply::Status::Data;
                reply.body.assign(text.substr(0, size));
                text.remove_prefix(size + 1);
                continue;
            }
            if (status != "applied" && status != "rejected")
                return fail("unexpected status line '" + std::string(line) + "'");
            auto generation = numberOf(rest, "generation=");
            if (!generation) return fail("unexpected status line '" + std::string(line) + "'");
            reply.status = status == "applied" ? ControlReply::Status::Applied
                                               : ControlReply::Status::Rejected;
            reply.generation = *generation;
            continue;
        }
        if (line == "end") {
            if (!text.empty()) return fail("data after the end of the reply");
            return reply;
        }
        if (line.substr(0, 8) == "warning ") {
            reply.warnings.emplace_back(line.substr(8));
        } else if (line.substr(0, 6) == "error ") {
            reply.errors.emplace_back(line.substr(6));
        } else {
            return fail("unexpected reply line '" + std::string(line) + "'");
        }
    }
    return fail(first ? "empty reply" : "the reply ended before its \"end\" line");
}

int controlExitCode(const ControlReply& reply) {
    switch (reply.status) {
        case ControlReply::Status::Applied:
        case ControlReply::Status::Data:
            return 0;
        case ControlReply::Status::Rejected:
            return 2;
        case ControlReply::Status::Failed:
            return 1;
    }
    return 1;
}

}  // namespace postern::server
