// Test plugin "config_error": a balancer that requires an integer key `x` and reports a positioned
// error through the config (returning nullptr) when it is missing or not an integer.
#include <memory>
#include <new>

#include "postern/plugin/sdk.h"

namespace {

class NeedsX final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<NeedsX> create(postern::sdk::Config& config, postern::sdk::Host&) noexcept {
        auto x = config.get("x");
        if (!x) {
            x.error("needs 'x'");
            return nullptr;
        }
        if (!x.asInteger()) {
            x.error("x must be an integer");
            return nullptr;
        }
        return std::unique_ptr<NeedsX>(new (std::nothrow) NeedsX());
    }
    std::unique_ptr<postern::sdk::Balancer> build(std::span<const postern_backend>,
                                                  const postern_backend_load&) noexcept override {
        return nullptr;
    }
};

}  // namespace

POSTERN_BALANCER_PLUGIN("config_error", "0.0.1", NeedsX);
