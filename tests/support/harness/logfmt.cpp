#include "harness/logfmt.h"

namespace postern::test {

LogfmtFields parseLogfmt(std::string_view line) {
    LogfmtFields fields;
    std::size_t i = 0;
    const std::size_t n = line.size();
    while (i < n) {
        while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n'))
            ++i;
        if (i >= n) break;
        const std::size_t key_start = i;
        while (i < n && line[i] != '=' && line[i] != ' ') ++i;
        std::string key(line.substr(key_start, i - key_start));
        std::string value;
        if (i < n && line[i] == '=') {
            ++i;
            if (i < n && line[i] == '"') {
                ++i;
                while (i < n && line[i] != '"') {
                    if (line[i] == '\\' && i + 1 < n) {
                        ++i;
                        value.push_back(line[i] == 'n' ? '\n' : line[i]);
                    } else {
                        value.push_back(line[i]);
                    }
                    ++i;
                }
                if (i < n) ++i;  // closing quote
            } else {
                const std::size_t value_start = i;
                while (i < n && line[i] != ' ') ++i;
                value = std::string(line.substr(value_start, i - value_start));
            }
        }
        if (!key.empty()) fields.insert_or_assign(std::move(key), std::move(value));
    }
    return fields;
}

std::optional<std::string> logfmtField(std::string_view line, std::string_view key) {
    const auto fields = parseLogfmt(line);
    const auto it = fields.find(key);
    if (it == fields.end()) return std::nullopt;
    return it->second;
}

}  // namespace postern::test
