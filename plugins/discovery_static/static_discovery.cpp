// The `static` discovery plugin: a fixed list of targets from the pool's `[pool.discovery]` table,
// reported whole on every round. Built only against the plugin SDK.
#include <memory>
#include <new>
#include <vector>

#include "postern/plugin/sdk.h"
#include "static_targets.h"

namespace postern::plugins::static_discovery {

/** Created on the control thread; discover() runs on the pool's discovery thread (the first round
 * on the thread that starts the gateway), one round at a time. The names it reports are resolved
 * by the core. */
class StaticDiscovery final : public postern::sdk::Discovery {
public:
    static std::unique_ptr<StaticDiscovery> create(postern::sdk::Config& config,
                                                   postern::sdk::Host& host) noexcept {
        (void)host;
        try {
            auto targets = readTargets(config);
            if (!targets) return nullptr;  // every problem was reported at its own position
            return std::unique_ptr<StaticDiscovery>(new StaticDiscovery(std::move(*targets)));
        } catch (...) {
            config.error("the static discovery plugin failed while reading targets (out of memory)");
            return nullptr;
        }
    }

    void discover(postern::sdk::Sink& sink, std::int64_t budget_ms) noexcept override {
        (void)budget_ms;
        for (const auto& t : targets_)
            sink.add({t.host, t.port, t.weight, t.max_connections, t.region, t.priority});
    }

private:
    explicit StaticDiscovery(std::vector<StaticTarget> targets) : targets_(std::move(targets)) {}

    std::vector<StaticTarget> targets_;
};

}  // namespace postern::plugins::static_discovery

POSTERN_DISCOVERY_PLUGIN("static", "1.0.0", postern::plugins::static_discovery::StaticDiscovery);
