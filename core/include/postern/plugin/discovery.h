// postern/plugin/discovery.h — the discovery plugin interface of the C++ SDK.
// Part of the header-only plugin SDK: standard library and abi.h only.
//
// Discovery is level-triggered: each round reports the WHOLE current target set (or a failure,
// after which the core keeps the last good set). The core owns the schedule, resolves names (to
// all their addresses), diffs the set against the previous round (a backend is its address and
// port; weight, region, max_connections and priority change in place) and drains removed
// backends. Every call runs on the pool's own discovery thread, never a worker or the probe loop.
//
//     class MyDiscovery : public postern::sdk::Discovery {
//     public:
//         static std::unique_ptr<MyDiscovery> create(postern::sdk::Config&, postern::sdk::Host&) noexcept;
//         void discover(postern::sdk::Sink& sink, std::int64_t budget_ms) noexcept override;
//     };
//     POSTERN_DISCOVERY_PLUGIN("my_discovery", "1.0.0", MyDiscovery);
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

#include "postern/plugin/abi.h"
#include "postern/plugin/config.h"
#include "postern/plugin/descriptor.h"
#include "postern/plugin/host.h"
#include "postern/plugin/str.h"

namespace postern::sdk {

/** One backend target, as reported to Sink::add. The strings are borrowed: the core copies them
 * during add(), so they only need to live until add() returns. */
struct Target {
    std::string_view host;             ///< IP literal (no brackets) or a DNS name the core resolves
    std::uint16_t port = 0;            ///< 0 = the pool's default backend port
    std::uint32_t weight = 1;          ///< relative share for weighted balancers (0 is taken as 1)
    std::uint32_t max_connections = 0; ///< 0 = unlimited
    std::string_view region;           ///< may be empty
    /** 0 = best. Backends of a higher value get new connections only when none of a better
     * group can take them (like DNS SRV priorities; within a group, weights apply). */
    std::uint32_t priority = 0;
};

/** Where a discovery round reports its result. Implemented by the core; valid only during the
 * discover() call it is handed to, on the same (discovery) thread. */
class Sink {
public:
    /** Wraps the core's sink table (`sink` may be NULL: everything is dropped). */
    explicit Sink(const postern_discovery_sink* sink) noexcept : sink_(sink) {}

    /** Reports one current target. Call once per target, every round. Discovery thread, inside
     * discover(). */
    void add(const Target& target) noexcept {
        if (sink_ == nullptr || sink_->add == nullptr) return;
        postern_target t{str(target.host), target.port, target.weight, target.max_connections,
                         str(target.region), target.priority};
        sink_->add(sink_->ctx, &t);
    }
    /** Reports that this round failed (the core keeps the last good set, logs `reason` and counts
     * it). Targets already added in this round are discarded. Discovery thread, inside discover().
     */
    void fail(std::string_view reason) noexcept {
        if (sink_ != nullptr && sink_->fail != nullptr) sink_->fail(sink_->ctx, str(reason));
    }

private:
    const postern_discovery_sink* sink_;
};

/** One per pool, created from the pool's `[pool.discovery]` table by the plugin's static
 * `create(Config&, Host&) noexcept`. Every method runs on the pool's discovery thread, one call at a
 * time per instance. */
class Discovery {
public:
    virtual ~Discovery() = default;

    /** One complete round: add() every current target, or fail(). May block (e.g. on DNS) for at
     * most `budget_ms` milliseconds (the pool's `refresh` clamped to 1..5 s): a reload or shutdown
     * waits for a round in progress. Discovery thread (the first round: the thread starting the
     * gateway). */
    virtual void discover(Sink& sink, std::int64_t budget_ms) noexcept = 0;

    /** Earliest useful next round in milliseconds (e.g. the smallest DNS TTL seen in the last
     * round); 0 = use the pool's configured `refresh`. Called after each discover(). Discovery
     * thread. Default: 0. */
    virtual std::int64_t nextRefreshMs() const noexcept { return 0; }
};

namespace detail {

/** The C function table for a discovery plugin whose class is D. */
template <class D>
struct DiscoveryGlue {
    static_assert(std::is_base_of_v<Discovery, D>,
                  "POSTERN_DISCOVERY_PLUGIN: the class must derive from postern::sdk::Discovery");

    static void* create(const postern_config* config, const postern_host* host) noexcept {
        Config cfg(config);
        try {
            Host h(host);
            std::unique_ptr<Discovery> instance = D::create(cfg, h);
            if (!instance && cfg.ok()) reportSilentCreateFailure(cfg, "discovery");
            if (!cfg.ok()) return nullptr;
            return instance.release();
        } catch (...) {
            reportCreateFailure(cfg);
            return nullptr;
        }
    }
    static void destroy(void* instance) noexcept { delete static_cast<Discovery*>(instance); }
    static void discover(void* instance, const postern_discovery_sink* sink,
                         std::int64_t budget_ms) noexcept {
        Sink s(sink);
        try {
            static_cast<Discovery*>(instance)->discover(s, budget_ms);
        } catch (...) {
            s.fail(currentExceptionMessage());
        }
    }
    static std::int64_t nextRefreshMs(void* instance) noexcept {
        try {
            std::int64_t ms = static_cast<const Discovery*>(instance)->nextRefreshMs();
            return ms > 0 ? ms : 0;
        } catch (...) {
            return 0;
        }
    }

    static constexpr postern_discovery_ops ops{&create, &destroy, &discover, &nextRefreshMs};
};

}  // namespace detail
}  // namespace postern::sdk

/** Exports a discovery plugin: `name_literal` ([a-z0-9_]+) is what pools name in
 * `[pool.discovery] plugin = "..."`, `version_literal` the plugin's own version. `DiscoveryClass`
 * derives from postern::sdk::Discovery and has
 * `static std::unique_ptr<DiscoveryClass> create(postern::sdk::Config&, postern::sdk::Host&) noexcept`
 * returning nullptr after reporting every problem through the Config. Once per library, at global
 * scope. */
#define POSTERN_DISCOVERY_PLUGIN(name_literal, version_literal, DiscoveryClass)                  \
    POSTERN_SDK_DEFINE_DESCRIPTOR_(POSTERN_KIND_DISCOVERY, name_literal, version_literal, nullptr, \
                                   &::postern::sdk::detail::DiscoveryGlue<DiscoveryClass>::ops,    \
                                   nullptr)
