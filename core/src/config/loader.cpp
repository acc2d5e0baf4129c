#include "config/loader.h"

#include <toml++/toml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "config/config_reader.h"
#include "config/diagnostics.h"
#include "config/toml_guard.h"

namespace postern::config {

namespace {

LoadResult failed(const std::string& file, SourcePos pos, std::string message) {
    LoadResult result;
    result.errors.push_back(ConfigError{file, pos.line, pos.column, std::move(message)});
    return result;
}

std::FILE* openForReading(const std::filesystem::path& file) {
#ifdef _WIN32
    return ::_wfopen(file.c_str(), L"rb");
#else
    return std::fopen(file.c_str(), "rb");
#endif
}

/** The whole file, or an error message (the OS's reason). */
constexpr std::size_t kMaxConfigBytes = 16 * 1024 * 1024;

std::optional<std::string> readFile(const std::filesystem::path& file, std::string& why) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        why = "it is a directory";
        return std::nullopt;
    }
    errno = 0;
    std::FILE* f = openForReading(file);
    if (!f) {
        why = errno ? std::strerror(errno) : "cannot open it";
        return std::nullopt;
    }
    std::string text;
    char buffer[16384];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
        text.append(buffer, n);
        // A config is a few KiB; this bounds what `postern check -c /dev/zero` (or a log file
        // given by mistake) can take.
        if (text.size() > kMaxConfigBytes) {
            std::fclose(f);
            why = "larger than " + std::to_string(kMaxConfigBytes / (1024 * 1024)) + " MiB";
            return std::nullopt;
        }
    }
    const bool read_error = std::ferror(f) != 0;
    const int read_errno = errno;
    std::fclose(f);
    if (read_error) {
        why = read_errno ? std::strerror(read_errno) : "read error";
        return std::nullopt;
    }
    return text;
}

LoadResult load(std::string_view text, const std::string& display_name,
                const std::filesystem::path& base_dir, const std::filesystem::path& config_file,
                plugin::Registry& registry, const LoadOptions& options) {
    // toml++ 3.3 misbehaves (undefined behaviour) on a few characters in a few places: refuse
    // them first, reported alone like a syntax error (config/toml_guard.h).
    if (auto hazard = findTomlParserHazard(text))
        return failed(display_name, hazard->pos, std::move(hazard->message));
    toml::table root;
    try {
        root = toml::parse(text, std::string(display_name));
    } catch (const toml::parse_error& e) {
        // The parser stops at its first error, so a syntax error is always reported alone.
        const auto& begin = e.source().begin;
        SourcePos pos{begin.line ? begin.line : 1, begin.column ? begin.column : 1};
        return failed(display_name, pos, std::string(e.description()));
    }

    std::error_code ec;
    std::filesystem::path base = std::filesystem::absolute(base_dir, ec);
    if (ec) base = base_dir;

    Diagnostics diag(display_name);
    ConfigReader reader(root, base.lexically_normal(), registry, options, diag);
    std::shared_ptr<Config> config = reader.read();
    LoadResult result;
    if (!config || !diag.empty()) {
        result.errors = diag.sorted();
        return result;
    }
    config->file = config_file;
    result.config = std::move(config);
    return result;
}

}  // namespace

LoadResult loadConfigFile(const std::filesystem::path& file, plugin::Registry& registry,
                          const LoadOptions& options) {
    const std::string display_name = file.string();
    std::string why;
    auto text = readFile(file, why);
    if (!text) return failed(display_name, SourcePos{1, 1}, "cannot read file: " + why);

    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(file, ec);
    if (ec) absolute = file;
    absolute = absolute.lexically_normal();
    return load(*text, display_name, absolute.parent_path(), absolute, registry, options);
}

LoadResult loadConfigText(std::string_view text, const std::string& display_name,
                          const std::filesystem::path& base_dir, plugin::Registry& registry,
                          const LoadOptions& options) {
    return load(text, display_name, base_dir, std::filesystem::path(), registry, options);
}

}  // namespace postern::config
