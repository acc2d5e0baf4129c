// Out-of-tree test plugin "oot_banner": sends "PING\r\n" once connected and is healthy when the
// reply starts with the configured `expect` string (default "OK"). Includes only the installed SDK.
#include <memory>
#include <new>
#include <string>

#include <postern/plugin/sdk.h>

namespace banner {

class Session final : public postern::sdk::ProbeSession {
public:
    explicit Session(std::string expect) : expect_(std::move(expect)) {}

    postern::sdk::Verdict onConnected(postern::sdk::Output& out) noexcept override {
        out.write("PING\r\n");
        return postern::sdk::Verdict::NeedMore;
    }

    postern::sdk::Verdict onData(std::string_view data, bool eof,
                                 postern::sdk::Output&) noexcept override {
        try {
            received_.append(data);
            if (received_.size() >= expect_.size()) {
                if (received_.compare(0, expect_.size(), expect_) == 0)
                    return postern::sdk::Verdict::Healthy;
                reason_ = "unexpected reply \"" + received_.substr(0, 32) + "\"";
                return postern::sdk::Verdict::Unhealthy;
            }
            if (eof) {
                reason_ = "connection closed before the reply";
                return postern::sdk::Verdict::Unhealthy;
            }
            return postern::sdk::Verdict::NeedMore;
        } catch (...) {
            return postern::sdk::Verdict::Unhealthy;
        }
    }

    postern::sdk::ProbeResult result() const noexcept override { return {reason_, -1.0}; }

private:
    std::string expect_;
    std::string received_;
    std::string reason_;
};

class BannerProbe final : public postern::sdk::Probe {
public:
    static std::unique_ptr<BannerProbe> create(postern::sdk::Config& config,
                                               postern::sdk::Host& host) noexcept {
        try {
            std::string expect = "OK";
            if (auto node = config.get("expect")) {
                auto v = node.asString();
                if (!v || v->empty()) {
                    node.error("expect must be a non-empty string");
                    return nullptr;
                }
                expect = std::string(*v);
            }
            host.debug("oot_banner probe created");
            return std::unique_ptr<BannerProbe>(new BannerProbe(std::move(expect)));
        } catch (...) {
            config.error("out of memory");
            return nullptr;
        }
    }

    std::unique_ptr<postern::sdk::ProbeSession> newSession(const postern_backend&) noexcept override {
        try {
            return std::make_unique<Session>(expect_);
        } catch (...) {
            return nullptr;  // counted as a failed check
        }
    }

private:
    explicit BannerProbe(std::string expect) : expect_(std::move(expect)) {}
    std::string expect_;
};

}  // namespace banner

POSTERN_PROBE_PLUGIN("oot_banner", "0.3.1", banner::BannerProbe);
