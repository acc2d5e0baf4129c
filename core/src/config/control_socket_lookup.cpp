#include "config/control_socket_lookup.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>
#include <system_error>

#include "config/model.h"
#include "config/toml_guard.h"

namespace postern::config {

namespace {

bool parseToml(const std::string& text, const std::string& name, toml::table& out,
               std::string* error) {
    if (auto hazard = findTomlParserHazard(text)) {
        if (error)
            *error = std::to_string(hazard->pos.line) + ":" + std::to_string(hazard->pos.column) +
                     ": " + hazard->message;
        return false;
    }
    try {
        out = toml::parse(text, name);
        return true;
    } catch (const toml::parse_error& e) {
        if (error)
            *error = std::to_string(e.source().begin.line) + ":" +
                     std::to_string(e.source().begin.column) + ": " + std::string(e.description());
        return false;
    }
}

/** The lines of the [gateway] table (its header through the line before the next header). */
std::string gatewayTableText(const std::string& text) {
    std::string out;
    bool inside = false;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        const std::size_t first = line.find_first_not_of(" \t");
        if (first != std::string::npos && line[first] == '[') {
            std::string header = line.substr(first);
            header = header.substr(0, header.find('#'));
            while (!header.empty() &&
                   (header.back() == ' ' || header.back() == '\t' || header.back() == '\r'))
                header.pop_back();
            inside = header == "[gateway]";
        }
        if (inside) out += line + "\n";
    }
    return out;
}

}  // namespace

std::optional<ControlSocketLookup> lookupControlSocket(const std::filesystem::path& file,
                                                       std::string* error) {
    auto fail = [&](const std::string& why) -> std::optional<ControlSocketLookup> {
        if (error) *error = file.string() + ":" + why;
        return std::nullopt;
    };
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) return fail(" it is a directory");
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail(" cannot read it");
    constexpr std::size_t kMaxBytes = 16 * 1024 * 1024;
    std::string text;
    char buffer[16384];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxBytes) return fail(" larger than 16 MiB");
    }
    toml::table root;
    std::string parse_error;
    if (!parseToml(text, file.string(), root, &parse_error)) {
        // The file is being edited, and broken somewhere: its [gateway] table alone may still
        // say where the running instance listens.
        if (!parseToml(gatewayTableText(text), file.string(), root, nullptr))
            return fail(parse_error);
    }
    ControlSocketLookup out;
    const toml::node* node = root.at_path("gateway.control_socket").node();
    if (!node) {
        out.path = kDefaultControlSocket;
        out.from_default = true;
        return out;
    }
    const auto* value = node->as_string();
    if (!value) return fail(" [gateway] control_socket is not a string");
    const std::string& v = value->get();
    if (v == "off") {
        out.off = true;
        return out;
    }
#ifdef _WIN32
    out.path = v;
#else
    std::filesystem::path p(v);
    if (p.is_relative()) {
        std::filesystem::path base = std::filesystem::absolute(file, ec).parent_path();
        if (ec) base = file.parent_path();
        p = base / p;
    }
    out.path = p.lexically_normal().string();
#endif
    return out;
}

}  // namespace postern::config
