#include "config/plugin_binder.h"

#include <sstream>

#include "common/log.h"
#include "config/toml_config_view.h"

namespace postern::config {

std::string pluginFingerprint(const PluginUse& use) {
    std::ostringstream out;
    out << use.name << '\n';
    // toml::table is a std::map: the formatter prints it in key order, independent of the order
    // and layout of the file (and without positions or comments).
    if (use.table) out << toml::toml_formatter(*use.table, toml::format_flags::none);
    return out.str();
}

PluginBinder::PluginBinder(plugin::Registry& registry, std::vector<std::filesystem::path> dirs,
                           Diagnostics& diag, std::filesystem::path base_dir)
    : registry_(registry), dirs_(std::move(dirs)), diag_(diag), base_dir_(std::move(base_dir)) {
    for (const auto& refusal : registry_.scan(dirs_))
        POSTERN_LOG(Warn, "plugin library refused: " + refusal, std::string_view{});
}

std::string PluginBinder::searchedDirs() const {
    if (dirs_.empty()) return "no plugin directories";
    std::string out;
    for (const auto& dir : dirs_) {
        if (!out.empty()) out += ", ";
        out += dir.string();
    }
    return out;
}

PluginBinder::Created PluginBinder::create(postern_kind kind, const PluginUse& use) {
    const std::string kind_name(plugin::kindName(kind));
    const plugin::LoadedPlugin* found = registry_.find(kind, use.name);
    if (!found) {
        diag_.error(use.name_pos, kind_name + " plugin '" + use.name +
                                      "' not found (searched: " + searchedDirs() + ")");
        return {};
    }
    const std::string owner = kind_name + " plugin '" + use.name + "'";
    TomlConfigView view(use.table, use.context, owner, use.table_pos, use.core_keys, diag_,
                        base_dir_);
    const postern_host* host = registry_.host(*found);
    void* instance = nullptr;
    const postern_descriptor* d = found->descriptor;
    // The registry only accepts a descriptor whose ops match its kind; this guards a broken one.
    const bool has_ops = d && ((kind == POSTERN_KIND_BALANCER && d->balancer) ||
                               (kind == POSTERN_KIND_DISCOVERY && d->discovery) ||
                               (kind == POSTERN_KIND_PROBE && d->probe));
    if (!has_ops) {
        diag_.error(use.name_pos,
                    owner + " (" + found->file.string() + ") has no " + kind_name + " functions");
        return {};
    }
    switch (kind) {
        case POSTERN_KIND_BALANCER:
            instance = d->balancer->create(view.abi(), host);
            break;
        case POSTERN_KIND_DISCOVERY:
            instance = d->discovery->create(view.abi(), host);
            break;
        case POSTERN_KIND_PROBE:
            instance = d->probe->create(view.abi(), host);
            break;
    }
    view.reportUnusedKeys();
    if (!instance && view.errorsReported() == 0)
        diag_.error(use.table_pos, owner + " rejected its configuration");
    return {found, instance};
}

std::shared_ptr<plugin::BalancerFactory> PluginBinder::balancer(const PluginUse& use) {
    auto c = create(POSTERN_KIND_BALANCER, use);
    if (!c.instance) return nullptr;
    return std::make_shared<plugin::BalancerFactory>(c.plugin, c.instance);
}

std::shared_ptr<plugin::Discovery> PluginBinder::discovery(const PluginUse& use) {
    auto c = create(POSTERN_KIND_DISCOVERY, use);
    if (!c.instance) return nullptr;
    return std::make_shared<plugin::Discovery>(c.plugin, c.instance);
}

std::shared_ptr<plugin::Probe> PluginBinder::probe(const PluginUse& use) {
    auto c = create(POSTERN_KIND_PROBE, use);
    if (!c.instance) return nullptr;
    return std::make_shared<plugin::Probe>(c.plugin, c.instance);
}

}  // namespace postern::config
