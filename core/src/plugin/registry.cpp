#include "plugin/registry.h"

#include <algorithm>
#include <system_error>
#include <unordered_set>

#include <boost/dll/shared_library.hpp>
#include <mutex>

#include "common/log.h"
#include "plugin/descriptor_check.h"

#ifdef _WIN32
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace postern::plugin {

namespace fs = std::filesystem;

namespace {

#ifdef _WIN32
constexpr std::string_view kLibraryExtension = ".dll";
#else
constexpr std::string_view kLibraryExtension = ".so";
#endif

// Canonical form for "have we seen this file/directory before" (falls back to the absolute path
// when the file system refuses, e.g. a dangling component).
std::string identity(const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    if (ec) c = fs::absolute(p, ec);
    return (ec ? p : c).lexically_normal().string();
}

}  // namespace

struct Registry::Impl {
    // One accepted library. Heap-allocated so `info` and `host` keep their addresses while the
    // vector grows: instances and their plugins hold pointers to both.
    struct Entry {
        boost::dll::shared_library library;
        LoadedPlugin info;
        std::string log_fields;  // "plugin=<name>"
        postern_host host{};
    };

    std::vector<std::unique_ptr<Entry>> plugins;
    // Libraries that were refused after they had been loaded. Kept loaded as well: their static
    // constructors have run, and unloading code that may have registered callbacks is not safe.
    std::vector<boost::dll::shared_library> refused;
    std::unordered_set<std::string> scanned_dirs;
    std::unordered_set<std::string> seen_files;
};

namespace {

void hostLog(void* ctx, postern_log_level level, postern_str message) noexcept {
    try {
        const auto* fields = static_cast<const std::string*>(ctx);
        std::string_view msg =
            message.data != nullptr ? std::string_view(message.data, message.size) : std::string_view();
        std::string_view f = fields != nullptr ? std::string_view(*fields) : std::string_view("plugin=?");
        switch (level) {
            case POSTERN_LOG_TRACE: POSTERN_LOG(Trace, msg, f); break;
            case POSTERN_LOG_DEBUG: POSTERN_LOG(Debug, msg, f); break;
            case POSTERN_LOG_INFO: POSTERN_LOG(Info, msg, f); break;
            case POSTERN_LOG_WARN: POSTERN_LOG(Warn, msg, f); break;
            case POSTERN_LOG_ERROR:
            default: POSTERN_LOG(Error, msg, f); break;
        }
    } catch (...) {
        // Logging must never take the caller down (out of memory while formatting).
    }
}

std::string loaderError(const std::error_code& ec) {
#ifndef _WIN32
    // Boost.DLL 1.74 maps every dlopen failure to "bad file descriptor"; the loader's own text
    // ("undefined symbol: x", "invalid ELF header", ...) is still in dlerror().
    if (const char* e = ::dlerror()) return e;
#endif
    return ec.message();
}

}  // namespace

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() {
    // Libraries (and what plugins were handed: descriptors, LoadedPlugin records, host tables)
    // stay valid for the life of the process, not of the Registry: objects a plugin created, such
    // as a config's balancer factory, may be destroyed after the Registry that loaded it, and
    // their destroy functions live in the library. Reachable from a static, so leak checkers do
    // not count it.
    static std::mutex mutex;
    static auto* process_lifetime = new std::vector<std::unique_ptr<Impl>>();
    std::lock_guard<std::mutex> lock(mutex);
    process_lifetime->push_back(std::move(impl_));
}

std::vector<std::string> Registry::scan(const std::vector<fs::path>& dirs) {
    std::vector<std::string> messages;
    for (const auto& dir : dirs) {
        if (!impl_->scanned_dirs.insert(identity(dir)).second) continue;
        std::error_code ec;
        auto status = fs::status(dir, ec);
        if (status.type() == fs::file_type::not_found) {
            POSTERN_LOG(Debug, "plugin directory does not exist", "dir=" + common::logfmtValue(dir.string()));
            continue;
        }
        if (ec) {
            messages.push_back("plugin directory " + dir.string() + ": " + ec.message());
            continue;
        }
        if (!fs::is_directory(status)) {
            messages.push_back("plugin directory " + dir.string() + ": not a directory");
            continue;
        }
        std::vector<fs::path> files;
        fs::directory_iterator it(dir, ec), end;
        for (; !ec && it != end; it.increment(ec)) {
            const fs::path& p = it->path();
            if (p.extension().string() != kLibraryExtension) continue;
            std::error_code fec;
            if (!fs::is_regular_file(it->status(fec)) || fec) continue;
            files.push_back(p);
        }
        if (ec) {
            messages.push_back("plugin directory " + dir.string() + ": " + ec.message());
            continue;
        }
        std::sort(files.begin(), files.end(),
                  [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
        for (const auto& f : files)
            if (auto refused = load(f)) messages.push_back(std::move(*refused));
    }
    return messages;
}

std::optional<std::string> Registry::load(const fs::path& file) {
    const std::string shown = file.string();
    const std::string id = identity(file);
    if (impl_->seen_files.count(id)) return std::nullopt;  // this very file was already loaded

    auto refuse = [&](std::string why) { return "plugin " + shown + ": " + why; };

    boost::dll::shared_library library;
    std::error_code ec;
#ifndef _WIN32
    ::dlerror();  // clear any stale message so loaderError() reports this load's
#endif
    library.load(file, boost::dll::load_mode::rtld_now, ec);
    if (ec || !library.is_loaded()) return refuse("cannot load: " + loaderError(ec));
    impl_->seen_files.insert(id);

    if (!library.has(POSTERN_PLUGIN_DESCRIPTOR_SYMBOL)) {
        impl_->refused.push_back(std::move(library));
        return refuse("no " POSTERN_PLUGIN_DESCRIPTOR_SYMBOL " symbol (not a postern plugin)");
    }
    // A plain extern "C" data symbol: get<T>, never get_alias<T> (which dereferences once more).
    const auto& descriptor = library.get<const postern_descriptor>(POSTERN_PLUGIN_DESCRIPTOR_SYMBOL);
    if (auto problem = checkDescriptor(descriptor)) {
        impl_->refused.push_back(std::move(library));
        return refuse(*problem);
    }

    const auto kind = static_cast<postern_kind>(descriptor.kind);
    const std::string name = descriptor.name;
    if (const LoadedPlugin* other = find(kind, name)) {
        impl_->refused.push_back(std::move(library));
        return refuse("duplicate " + std::string(kindName(kind)) + " plugin '" + name +
                      "': already loaded from " + other->file.string());
    }

    auto entry = std::make_unique<Impl::Entry>();
    entry->info.kind = kind;
    entry->info.name = name;
    entry->info.version = descriptor.version;
    entry->info.build_id = descriptor.build_id != nullptr ? descriptor.build_id : "";
    entry->info.file = file;
    entry->info.descriptor = &descriptor;
    entry->log_fields = "plugin=" + common::logfmtValue(name);
    entry->host = postern_host{&entry->log_fields, &hostLog};
    entry->library = std::move(library);
    POSTERN_LOG(Debug, "plugin loaded",
                "kind=" + std::string(kindName(kind)) + " plugin=" + common::logfmtValue(name) +
                    " version=" + common::logfmtValue(entry->info.version) +
                    " file=" + common::logfmtValue(shown));
    impl_->plugins.push_back(std::move(entry));
    return std::nullopt;
}

const LoadedPlugin* Registry::find(postern_kind kind, std::string_view name) const {
    for (const auto& e : impl_->plugins)
        if (e->info.kind == kind && e->info.name == name) return &e->info;
    return nullptr;
}

std::vector<const LoadedPlugin*> Registry::plugins() const {
    std::vector<const LoadedPlugin*> out;
    out.reserve(impl_->plugins.size());
    for (const auto& e : impl_->plugins) out.push_back(&e->info);
    return out;
}

const postern_host* Registry::host(const LoadedPlugin& plugin) const {
    for (const auto& e : impl_->plugins)
        if (&e->info == &plugin) return &e->host;
    // Not one of ours (a test double): still a working host, tagged "plugin=?".
    static const postern_host anonymous{nullptr, &hostLog};
    return &anonymous;
}

std::vector<fs::path> defaultPluginDirs() {
    std::error_code ec;
#ifdef _WIN32
    std::wstring buffer(MAX_PATH, L'\0');
    for (;;) {
        DWORD n = ::GetModuleFileNameW(nullptr, buffer.data(), static_cast<DWORD>(buffer.size()));
        if (n == 0) return {};
        if (n < buffer.size()) {
            buffer.resize(n);
            break;
        }
        buffer.resize(buffer.size() * 2);
    }
    fs::path dir = fs::path(buffer).parent_path() / "plugins";
#else
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec) return {};
    fs::path dir = exe.parent_path() / ".." / "lib" / "postern" / "plugins";
#endif
    fs::path canonical = fs::weakly_canonical(dir, ec);
    return {ec ? dir.lexically_normal() : canonical};
}

}  // namespace postern::plugin
