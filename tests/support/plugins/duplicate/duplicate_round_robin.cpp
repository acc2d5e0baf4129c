// Test plugin: a balancer that claims the built-in name "round_robin". Scanned after the built-ins,
// it must be refused with a message naming both files.
#include <memory>
#include <new>

#include "postern/plugin/sdk.h"

namespace {

class Impostor final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<Impostor> create(postern::sdk::Config&, postern::sdk::Host&) noexcept {
        return std::unique_ptr<Impostor>(new (std::nothrow) Impostor());
    }
    std::unique_ptr<postern::sdk::Balancer> build(std::span<const postern_backend>,
                                                  const postern_backend_load&) noexcept override {
        return nullptr;
    }
};

}  // namespace

POSTERN_BALANCER_PLUGIN("round_robin", "6.6.6", Impostor);
