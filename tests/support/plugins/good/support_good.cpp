// Test plugin "support_good": a well-formed balancer. Its candidate list is every backend once,
// starting at the configured `first` index (default 0). Logs one line through the host on create.
#include <memory>
#include <new>

#include "postern/plugin/sdk.h"

namespace {

class InOrder final : public postern::sdk::Balancer {
public:
    InOrder(std::uint32_t count, std::uint32_t first) : count_(count), first_(first) {}
    std::uint32_t pick(const postern_pick_context&, std::span<std::uint32_t> out) noexcept override {
        std::uint32_t n = 0;
        for (; n < count_ && n < out.size(); ++n) out[n] = (first_ + n) % count_;
        return n;
    }

private:
    std::uint32_t count_;
    std::uint32_t first_;
};

class GoodFactory final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<GoodFactory> create(postern::sdk::Config& config,
                                               postern::sdk::Host& host) noexcept {
        std::int64_t first = 0;
        if (auto node = config.get("first")) {
            auto v = node.asInteger();
            if (!v || *v < 0) {
                node.error("first must be a non-negative integer");
                return nullptr;
            }
            first = *v;
        }
        host.info("support_good created");
        return std::unique_ptr<GoodFactory>(new (std::nothrow) GoodFactory(static_cast<std::uint32_t>(first)));
    }
    std::unique_ptr<postern::sdk::Balancer> build(std::span<const postern_backend> backends,
                                                  const postern_backend_load&) noexcept override {
        if (backends.empty()) return std::unique_ptr<postern::sdk::Balancer>(new (std::nothrow) InOrder(0, 0));
        auto count = static_cast<std::uint32_t>(backends.size());
        return std::unique_ptr<postern::sdk::Balancer>(new (std::nothrow) InOrder(count, first_ % count));
    }

private:
    explicit GoodFactory(std::uint32_t first) : first_(first) {}
    std::uint32_t first_;
};

}  // namespace

POSTERN_BALANCER_PLUGIN("support_good", "2.5.0", GoodFactory);
