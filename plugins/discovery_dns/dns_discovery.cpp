// The `dns` discovery plugin: targets named by DNS ("name:port" -> A/AAAA, "_svc._tcp.name" ->
// SRV), resolved with c-ares on a channel of its own, TTL-driven refresh, serve-stale on DNS
// failures and hold_nx on NXDOMAIN (docs/discovery.md, "## dns"). Built only against the SDK.
#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "cares_resolver.h"
#include "dns_book.h"
#include "dns_settings.h"
#include "postern/plugin/sdk.h"

namespace postern::plugins::dns_discovery {

namespace {

/** A query's first try waits a quarter of the round's budget (50 ms .. 1 s, like HAProxy's 1 s
 * `timeout retry`), the second twice that (c-ares doubles it): at most 3/4 of the budget with one
 * server, and the round's deadline cuts the rest. */
int tryTimeoutMs(std::int64_t budget_ms) {
    return static_cast<int>(std::clamp<std::int64_t>(budget_ms / 4, 50, 1000));
}
constexpr int kTries = 2;

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

/** Created on the control thread; discover() and nextRefreshMs() run on the pool's discovery
 * thread, one call at a time. Owns its c-ares channel and its memory of past answers. */
class DnsDiscovery final : public postern::sdk::Discovery {
public:
    static std::unique_ptr<DnsDiscovery> create(postern::sdk::Config& config,
                                                postern::sdk::Host& host) noexcept {
        try {
            auto settings = readSettings(config);
            if (!settings) return nullptr;  // every problem was reported at its own position
            std::string error;
            // The channel's try timeout is set per round from the budget: start with the largest.
            auto resolver =
                CaresResolver::create(settings->resolvers, tryTimeoutMs(8000), kTries, error);
            if (!resolver) {
                config.error(error);
                return nullptr;
            }
            return std::unique_ptr<DnsDiscovery>(
                new DnsDiscovery(std::move(*settings), std::move(resolver), host));
        } catch (...) {
            config.error(
                "the dns discovery plugin failed while reading its settings (out of memory)");
            return nullptr;
        }
    }

    void discover(postern::sdk::Sink& sink, std::int64_t budget_ms) noexcept override {
        try {
            round(sink, budget_ms);
        } catch (...) {
            sink.fail("the dns discovery plugin ran out of memory");
        }
    }

    std::int64_t nextRefreshMs() const noexcept override { return next_refresh_ms_; }

private:
    DnsDiscovery(DnsSettings settings, std::unique_ptr<CaresResolver> resolver,
                 postern::sdk::Host host)
        : book_(std::move(settings)), resolver_(std::move(resolver)), host_(host) {}

    void round(postern::sdk::Sink& sink, std::int64_t budget_ms) {
        budget_ms = std::max<std::int64_t>(budget_ms, 100);
        const auto start = CaresResolver::Clock::now();
        // Leave a tenth of the budget for building the result.
        const auto deadline = start + std::chrono::milliseconds(budget_ms - budget_ms / 10);
        if (tryTimeoutMs(budget_ms) != try_timeout_ms_) {
            std::string error;
            auto resolver = CaresResolver::create(book_.settings().resolvers,
                                                  tryTimeoutMs(budget_ms), kTries, error);
            if (resolver) {
                resolver_ = std::move(resolver);
                try_timeout_ms_ = tryTimeoutMs(budget_ms);
            }
        }

        std::vector<LogLine> log;
        book_.beginRound();
        auto first = book_.firstQueries();
        auto answers = resolver_->resolve(first, deadline);
        for (std::size_t i = 0; i < first.size(); ++i)
            book_.apply(first[i], std::move(answers[i]), nowMs(), log);
        auto second = book_.secondQueries();
        if (!second.empty()) {
            answers = resolver_->resolve(second, deadline);
            for (std::size_t i = 0; i < second.size(); ++i)
                book_.apply(second[i], std::move(answers[i]), nowMs(), log);
        }
        RoundResult result = book_.finish(nowMs(), log);
        for (const auto& line : log) host_.log(line.level, "dns: " + line.text);
        next_refresh_ms_ = result.next_refresh_ms;
        host_.debug("dns: round: " + std::to_string(result.targets.size()) + " targets, " +
                    std::to_string(result.failed_queries) + " of " +
                    std::to_string(result.queries) + " queries failed, next round in " +
                    (next_refresh_ms_ > 0 ? std::to_string(next_refresh_ms_) + " ms"
                                          : "the pool's refresh"));
        if (result.failed) {
            sink.fail(result.reason + " (resolvers: " + resolver_->servers() + ")");
            return;
        }
        for (const auto& t : result.targets)
            sink.add({t.host, t.port, t.weight, t.max_connections, t.region, t.priority});
    }

    DnsBook book_;
    std::unique_ptr<CaresResolver> resolver_;
    int try_timeout_ms_ = tryTimeoutMs(8000);
    postern::sdk::Host host_;
    std::int64_t next_refresh_ms_ = 0;
};

}  // namespace postern::plugins::dns_discovery

POSTERN_DISCOVERY_PLUGIN("dns", "1.0.0", postern::plugins::dns_discovery::DnsDiscovery);
