#include "plugin/descriptor_check.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "plugin/instances.h"

namespace postern::plugin {

namespace {

constexpr std::size_t kMaxNameLength = 64;
constexpr std::size_t kMaxVersionLength = 64;

// Reads a NUL-terminated string the plugin handed us, never more than `limit` + 1 bytes, so a
// corrupt descriptor cannot make us run off into unrelated memory for long.
std::optional<std::string_view> boundedString(const char* s, std::size_t limit) {
    std::size_t n = 0;
    while (n <= limit && s[n] != '\0') ++n;
    if (n > limit) return std::nullopt;
    return std::string_view(s, n);
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

struct Required {
    const char* name;
    bool present;
};

std::optional<std::string> missingFunction(std::string_view what, std::initializer_list<Required> fns) {
    for (const auto& f : fns)
        if (!f.present)
            return std::string(what) + ": required function '" + f.name +
                   "' is NULL in its function table";
    return std::nullopt;
}

}  // namespace

bool validPluginName(std::string_view name) {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

std::optional<std::string> checkDescriptor(const postern_descriptor& d) {
    // The first two fields are frozen forever: nothing else may be read for another ABI version.
    if (d.abi_version != POSTERN_PLUGIN_ABI_VERSION)
        return "built for plugin ABI " + std::to_string(d.abi_version) + " (this postern uses " +
               std::to_string(POSTERN_PLUGIN_ABI_VERSION) + ")";
    if (d.descriptor_size < sizeof(postern_descriptor))
        return "descriptor is " + std::to_string(d.descriptor_size) + " bytes, plugin ABI " +
               std::to_string(POSTERN_PLUGIN_ABI_VERSION) + " needs at least " +
               std::to_string(sizeof(postern_descriptor)) + " (corrupt descriptor)";
    if (d.kind != POSTERN_KIND_BALANCER && d.kind != POSTERN_KIND_DISCOVERY &&
        d.kind != POSTERN_KIND_PROBE)
        return "unknown plugin kind " + std::to_string(d.kind) +
               " (expected 1 = balancer, 2 = discovery or 3 = probe)";
    if (d.name == nullptr) return "descriptor has no name";
    auto name = boundedString(d.name, kMaxNameLength);
    if (!name || !validPluginName(*name))
        return "invalid plugin name " +
               (name ? quoted(*name) : std::string("(longer than 64 characters)")) +
               " (must match [a-z0-9_]+, at most 64 characters)";
    if (d.version == nullptr) return "plugin " + quoted(*name) + " has no version";
    auto version = boundedString(d.version, kMaxVersionLength);
    if (!version || version->empty())
        return "plugin " + quoted(*name) + " has an empty or over-long version string";
    for (char c : *version)
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
            return "plugin " + quoted(*name) + " has a version with non-printable characters";

    const auto kind = static_cast<postern_kind>(d.kind);
    const std::string what = std::string(kindName(kind)) + " plugin " + quoted(*name);
    const int tables = (d.balancer != nullptr) + (d.discovery != nullptr) + (d.probe != nullptr);
    switch (kind) {
        case POSTERN_KIND_BALANCER: {
            if (d.balancer == nullptr) return what + " has no balancer function table";
            if (tables != 1) return what + " sets more than one function table (exactly one allowed)";
            const auto& o = *d.balancer;
            return missingFunction(what, {{"create", o.create != nullptr},
                                          {"destroy", o.destroy != nullptr},
                                          {"build", o.build != nullptr},
                                          {"destroy_selector", o.destroy_selector != nullptr},
                                          {"pick", o.pick != nullptr}});
        }
        case POSTERN_KIND_DISCOVERY: {
            if (d.discovery == nullptr) return what + " has no discovery function table";
            if (tables != 1) return what + " sets more than one function table (exactly one allowed)";
            const auto& o = *d.discovery;
            return missingFunction(what, {{"create", o.create != nullptr},
                                          {"destroy", o.destroy != nullptr},
                                          {"discover", o.discover != nullptr}});
        }
        case POSTERN_KIND_PROBE: {
            if (d.probe == nullptr) return what + " has no probe function table";
            if (tables != 1) return what + " sets more than one function table (exactly one allowed)";
            const auto& o = *d.probe;
            return missingFunction(what, {{"create", o.create != nullptr},
                                          {"destroy", o.destroy != nullptr},
                                          {"transport", o.transport != nullptr},
                                          {"session_new", o.session_new != nullptr},
                                          {"session_destroy", o.session_destroy != nullptr},
                                          {"on_connected", o.on_connected != nullptr},
                                          {"on_data", o.on_data != nullptr}});
        }
    }
    return "unknown plugin kind";
}

}  // namespace postern::plugin
