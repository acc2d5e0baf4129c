// postern/plugin/balancer.h — the balancer plugin interface of the C++ SDK.
// Part of the header-only plugin SDK: standard library and abi.h only.
//
// A balancer plugin provides a factory per pool (created from the pool's config). Each time the
// pool's eligible backend set changes, the core asks the factory (control thread) to build an
// immutable Balancer for that snapshot and publishes it with an atomic pointer swap; every worker
// then calls pick() on it concurrently. The core, not the plugin, skips candidates that are down,
// full, draining or out of region, and walks the candidate list on connect retries.
//
//     class MyFactory : public postern::sdk::BalancerFactory {
//     public:
//         static std::unique_ptr<MyFactory> create(postern::sdk::Config&, postern::sdk::Host&) noexcept;
//         std::unique_ptr<postern::sdk::Balancer> build(std::span<const postern_backend>,
//                                                      const postern_backend_load&) noexcept override;
//     };
//     POSTERN_BALANCER_PLUGIN("my_balancer", "1.0.0", MyFactory);
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <span>
#include <type_traits>

#include "postern/plugin/abi.h"
#include "postern/plugin/config.h"
#include "postern/plugin/descriptor.h"
#include "postern/plugin/host.h"

namespace postern::sdk {

/** Live per-backend state maintained by the core (open connection counts), readable from any
 * thread. A copyable view of postern_backend_load; valid as long as the Balancer it was given to. */
class BackendLoad {
public:
    /** No live data: active() is always 0. */
    BackendLoad() noexcept = default;
    explicit BackendLoad(const postern_backend_load& load) noexcept : load_(load) {}

    /** Open connections to backend `index` of the snapshot right now (0 when the core supplies no
     * data). Any thread, concurrently; never blocks. */
    std::uint32_t active(std::uint32_t index) const noexcept {
        return load_.active != nullptr ? load_.active(load_.ctx, index) : 0;
    }

private:
    postern_backend_load load_{nullptr, nullptr};
};

/** Selection state for ONE backend snapshot, built by BalancerFactory::build on the control thread
 * and immutable afterwards except for internal atomics (a round-robin cursor, counters). Destroyed
 * by the core on the control thread after the last pick() that used it has returned. */
class Balancer {
public:
    virtual ~Balancer() = default;

    /** Writes up to out.size() indices into the snapshot, best candidate first, and returns how
     * many it wrote (at most out.size(); each index < the snapshot's size). Called concurrently
     * from every worker thread for every new connection: must not block, lock, allocate or throw.
     * `ctx.attempt` is 0 on a connection's first pick. */
    virtual std::uint32_t pick(const postern_pick_context& ctx,
                               std::span<std::uint32_t> out) noexcept = 0;

    /** A connection to backend `index` was opened. Called from the worker that owns the connection,
     * concurrently with pick() and with other workers: use atomics. Default: nothing. */
    virtual void onOpen(std::uint32_t index) noexcept { (void)index; }

    /** A connection to backend `index` was closed. Same threads and rules as onOpen(). */
    virtual void onClose(std::uint32_t index) noexcept { (void)index; }
};

/** One per pool, created from the pool's config by the plugin's static
 * `create(Config&, Host&) noexcept`. Destroyed on the control thread after every Balancer it built.
 */
class BalancerFactory {
public:
    virtual ~BalancerFactory() = default;

    /** Builds a Balancer for one snapshot of backends. Control thread only, never concurrently for
     * one factory. `backends` stays valid (and unchanged) until the returned Balancer is destroyed,
     * so it may keep the span; `load` should be copied (e.g. into a BackendLoad). Returns nullptr
     * only when it cannot build one (out of memory): the core then keeps the pool's previous
     * Balancer, or refuses connections to the pool. An empty snapshot is valid: pick() then
     * returns 0. */
    virtual std::unique_ptr<Balancer> build(std::span<const postern_backend> backends,
                                            const postern_backend_load& load) noexcept = 0;
};

namespace detail {

/** The C function table for a balancer plugin whose factory class is F. */
template <class F>
struct BalancerGlue {
    static_assert(std::is_base_of_v<BalancerFactory, F>,
                  "POSTERN_BALANCER_PLUGIN: the class must derive from postern::sdk::BalancerFactory");

    static void* create(const postern_config* config, const postern_host* host) noexcept {
        Config cfg(config);
        try {
            Host h(host);
            std::unique_ptr<BalancerFactory> factory = F::create(cfg, h);
            if (!factory && cfg.ok()) reportSilentCreateFailure(cfg, "balancer");
            if (!cfg.ok()) return nullptr;  // reported errors win even if an object came back
            return factory.release();
        } catch (...) {
            reportCreateFailure(cfg);
            return nullptr;
        }
    }
    static void destroy(void* factory) noexcept { delete static_cast<BalancerFactory*>(factory); }
    static void* build(void* factory, const postern_backend* backends, std::uint32_t count,
                       const postern_backend_load* load) noexcept {
        try {
            static constexpr postern_backend_load kNoLoad{nullptr, nullptr};
            std::span<const postern_backend> snapshot(backends, backends != nullptr ? count : 0);
            std::unique_ptr<Balancer> b =
                static_cast<BalancerFactory*>(factory)->build(snapshot, load ? *load : kNoLoad);
            return b.release();
        } catch (...) {
            return nullptr;
        }
    }
    static void destroySelector(void* selector) noexcept { delete static_cast<Balancer*>(selector); }
    static std::uint32_t pick(void* selector, const postern_pick_context* ctx, std::uint32_t* out,
                              std::uint32_t capacity) noexcept {
        try {
            if (ctx == nullptr || out == nullptr || capacity == 0) return 0;
            std::uint32_t n = static_cast<Balancer*>(selector)->pick(
                *ctx, std::span<std::uint32_t>(out, capacity));
            return n <= capacity ? n : capacity;
        } catch (...) {
            return 0;
        }
    }
    static void onOpen(void* selector, std::uint32_t index) noexcept {
        try {
            static_cast<Balancer*>(selector)->onOpen(index);
        } catch (...) {
        }
    }
    static void onClose(void* selector, std::uint32_t index) noexcept {
        try {
            static_cast<Balancer*>(selector)->onClose(index);
        } catch (...) {
        }
    }

    static constexpr postern_balancer_ops ops{&create,  &destroy, &build,   &destroySelector,
                                              &pick,    &onOpen,  &onClose};
};

}  // namespace detail
}  // namespace postern::sdk

/** Exports a balancer plugin: `name_literal` ([a-z0-9_]+, e.g. "round_robin") is what pools name in
 * `balancer = "..."`, `version_literal` the plugin's own version. `FactoryClass` derives from
 * postern::sdk::BalancerFactory and has
 * `static std::unique_ptr<FactoryClass> create(postern::sdk::Config&, postern::sdk::Host&) noexcept`
 * returning nullptr after reporting every problem through the Config. Once per library, at global
 * scope. */
#define POSTERN_BALANCER_PLUGIN(name_literal, version_literal, FactoryClass)            \
    POSTERN_SDK_DEFINE_DESCRIPTOR_(POSTERN_KIND_BALANCER, name_literal, version_literal, \
                                   &::postern::sdk::detail::BalancerGlue<FactoryClass>::ops, \
                                   nullptr, nullptr)
