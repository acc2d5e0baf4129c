// The `dns` plugin's only I/O: a c-ares channel of its own (one per plugin instance, so pools
// never share one) that sends a batch of queries in parallel and drives them with a poll loop
// until every one is answered or the deadline passes. Owned by the plugin instance; used on its
// discovery thread only (a c-ares channel is not thread-safe).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "dns_book.h"
#include "dns_settings.h"

namespace postern::plugins::dns_discovery {

class CaresResolver {
public:
    using Clock = std::chrono::steady_clock;

    /** A channel asking `servers` (empty: the system's resolvers), each try waiting
     * `try_timeout_ms`, each query tried `tries` times per server. nullptr with `error` set when
     * c-ares cannot start. */
    static std::unique_ptr<CaresResolver> create(const std::vector<Resolver>& servers,
                                                 int try_timeout_ms, int tries, std::string& error);
    ~CaresResolver();
    CaresResolver(const CaresResolver&) = delete;
    CaresResolver& operator=(const CaresResolver&) = delete;

    /** Asks every query at once and returns their answers in the same order. Returns by
     * `deadline` at the latest: queries still open then are cancelled and answered as Failed
     * ("no answer before the round's deadline"). */
    std::vector<Answer> resolve(const std::vector<Query>& queries, Clock::time_point deadline);

    /** The servers in use, for logs ("127.0.0.1:5353" or "system"). */
    const std::string& servers() const noexcept { return servers_; }

private:
    struct Impl;
    explicit CaresResolver(std::unique_ptr<Impl> impl, std::string servers);
    std::unique_ptr<Impl> impl_;
    std::string servers_;
};

}  // namespace postern::plugins::dns_discovery
