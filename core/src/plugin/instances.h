// RAII handles over plugin-created objects. Each keeps a pointer to the LoadedPlugin it came from;
// the Registry owning that library outlives every handle (it is the first member of Gateway and
// libraries are never unloaded). Calls go straight through the C function tables.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "postern/plugin/abi.h"

namespace postern::plugin {

std::string_view kindName(postern_kind kind);

/** One library found in a plugin directory that passed every check. Owned by the Registry. */
struct LoadedPlugin {
    postern_kind kind{};
    std::string name;
    std::string version;
    std::string build_id;
    std::filesystem::path file;
    const postern_descriptor* descriptor = nullptr;
};

/** A selector built for one backend snapshot. pick() is safe from any thread concurrently. */
class Selector {
public:
    Selector(const postern_balancer_ops* ops, void* selector) : ops_(ops), selector_(selector) {}
    ~Selector() { if (selector_) ops_->destroy_selector(selector_); }
    Selector(const Selector&) = delete;
    Selector& operator=(const Selector&) = delete;

    std::uint32_t pick(const postern_pick_context& ctx, std::uint32_t* out, std::uint32_t cap) const {
        return ops_->pick(selector_, &ctx, out, cap);
    }
    void onOpen(std::uint32_t index) const { if (ops_->on_open) ops_->on_open(selector_, index); }
    void onClose(std::uint32_t index) const { if (ops_->on_close) ops_->on_close(selector_, index); }

private:
    const postern_balancer_ops* ops_;
    void* selector_;
};

/** A pool's balancer factory. build() is called from the control thread. */
class BalancerFactory {
public:
    BalancerFactory(const LoadedPlugin* plugin, void* factory) : plugin_(plugin), factory_(factory) {}
    ~BalancerFactory() { if (factory_) plugin_->descriptor->balancer->destroy(factory_); }
    BalancerFactory(const BalancerFactory&) = delete;
    BalancerFactory& operator=(const BalancerFactory&) = delete;

    /** nullptr when the plugin could not build one (it failed safe). */
    std::unique_ptr<Selector> build(std::span<const postern_backend> backends,
                                    const postern_backend_load* load) const {
        const auto* ops = plugin_->descriptor->balancer;
        void* s = ops->build(factory_, backends.data(), static_cast<std::uint32_t>(backends.size()), load);
        if (!s) return nullptr;
        return std::make_unique<Selector>(ops, s);
    }
    const LoadedPlugin& plugin() const { return *plugin_; }

private:
    const LoadedPlugin* plugin_;
    void* factory_;
};

/** A pool's discovery instance. Control thread only. */
class Discovery {
public:
    Discovery(const LoadedPlugin* plugin, void* instance) : plugin_(plugin), instance_(instance) {}
    ~Discovery() { if (instance_) plugin_->descriptor->discovery->destroy(instance_); }
    Discovery(const Discovery&) = delete;
    Discovery& operator=(const Discovery&) = delete;

    void discover(const postern_discovery_sink& sink, std::int64_t budget_ms) const {
        plugin_->descriptor->discovery->discover(instance_, &sink, budget_ms);
    }
    std::int64_t nextRefreshMs() const {
        auto f = plugin_->descriptor->discovery->next_refresh_ms;
        return f ? f(instance_) : 0;
    }
    const LoadedPlugin& plugin() const { return *plugin_; }

private:
    const LoadedPlugin* plugin_;
    void* instance_;
};

class ProbeSession {
public:
    ProbeSession(const postern_probe_ops* ops, void* session) : ops_(ops), session_(session) {}
    ~ProbeSession() { if (session_) ops_->session_destroy(session_); }
    ProbeSession(const ProbeSession&) = delete;
    ProbeSession& operator=(const ProbeSession&) = delete;

    postern_verdict onConnected(std::string& send) const;
    postern_verdict onData(std::string_view data, bool eof, std::string& send) const;
    postern_probe_result result() const;

private:
    const postern_probe_ops* ops_;
    void* session_;
};

/** A pool's probe. Control thread only. */
class Probe {
public:
    Probe(const LoadedPlugin* plugin, void* probe) : plugin_(plugin), probe_(probe) {}
    ~Probe() { if (probe_) plugin_->descriptor->probe->destroy(probe_); }
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;

    postern_probe_transport transport() const;
    /** nullptr when the plugin could not create a session (counted as a failed check). */
    std::unique_ptr<ProbeSession> newSession(const postern_backend& backend) const;
    const LoadedPlugin& plugin() const { return *plugin_; }

private:
    const LoadedPlugin* plugin_;
    void* probe_;
};

}  // namespace postern::plugin
