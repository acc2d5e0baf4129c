#include "http/message.h"

#include "http/char_class.h"

namespace postern::http {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (chars::lower(a[i]) != chars::lower(b[i])) return false;
    }
    return true;
}

bool listContains(std::string_view value, std::string_view token) {
    std::size_t i = 0;
    while (i < value.size()) {
        while (i < value.size() && (chars::isOws(value[i]) || value[i] == ',')) ++i;
        std::size_t start = i;
        while (i < value.size() && value[i] != ',') ++i;
        std::size_t end = i;
        while (end > start && chars::isOws(value[end - 1])) --end;
        if (end > start && equalsIgnoreCase(value.substr(start, end - start), token)) return true;
    }
    return false;
}

}  // namespace postern::http
