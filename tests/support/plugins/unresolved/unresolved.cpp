// Test plugin: links against a function nobody defines. With RTLD_NOW the host's dlopen fails at
// load time, naming the symbol, instead of crashing on the first call.
#include <memory>
#include <new>

#include "postern/plugin/sdk.h"

extern "C" int postern_test_symbol_nobody_defines(int);

namespace {

class Unresolved final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<Unresolved> create(postern::sdk::Config&, postern::sdk::Host&) noexcept {
        if (postern_test_symbol_nobody_defines(1) != 1) return nullptr;
        return std::unique_ptr<Unresolved>(new (std::nothrow) Unresolved());
    }
    std::unique_ptr<postern::sdk::Balancer> build(std::span<const postern_backend>,
                                                  const postern_backend_load&) noexcept override {
        return nullptr;
    }
};

}  // namespace

POSTERN_BALANCER_PLUGIN("unresolved", "1.0.0", Unresolved);
