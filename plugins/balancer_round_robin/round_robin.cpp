// The `round_robin` balancer plugin: weighted smooth round robin (see smooth_wrr.h).
// Built only against the plugin SDK, like any third-party plugin.
#include <memory>
#include <new>
#include <vector>

#include "postern/plugin/sdk.h"
#include "smooth_wrr.h"

namespace postern::plugins::round_robin {

/** One per pool. Reads no configuration keys. Control thread. */
class RoundRobinFactory final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<RoundRobinFactory> create(postern::sdk::Config& config,
                                                     postern::sdk::Host& host) noexcept {
        (void)config;
        (void)host;
        return std::unique_ptr<RoundRobinFactory>(new (std::nothrow) RoundRobinFactory());
    }

    std::unique_ptr<postern::sdk::Balancer> build(std::span<const postern_backend> backends,
                                                  const postern_backend_load& load) noexcept override {
        (void)load;
        try {
            std::vector<std::uint32_t> weights;
            weights.reserve(backends.size());
            for (const auto& b : backends) weights.push_back(b.weight);
            return std::make_unique<SmoothWrrSelector>(weights);
        } catch (...) {
            return nullptr;  // out of memory: the core keeps the previous selector
        }
    }
};

}  // namespace postern::plugins::round_robin

POSTERN_BALANCER_PLUGIN("round_robin", "1.0.0", postern::plugins::round_robin::RoundRobinFactory);
