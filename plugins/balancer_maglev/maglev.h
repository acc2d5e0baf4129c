// Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted as in Envoy's maglev_lb.cc.
//
// build() fills a lookup table of kTableSize = 65,537 (a prime) slots: every backend walks its
// own permutation of the slots (offset and skip derived from its id, the stable hash of
// "host:port") and, in turns proportional to its weight, claims the next free slot of it. The
// backends take their turns in the order of their ids, never in discovery order, so two
// instances with the same backend set build identical tables and send a client to the same
// backend. Removing one of N backends frees only its own ~1/N of the slots (plus a small
// reshuffle), so about 1/N of the clients move.
//
// pick() hashes the client (postern_pick_context.client_hash, mixed) to a slot: the entry there
// is the first candidate, the next distinct entries going forward in the table are the
// fallbacks (so a retry, or a full or down first choice, also lands consistently), then the
// remaining backends in index order.
//
// Thread model: built on the control thread; pick() from every worker concurrently (read-only).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "postern/plugin/sdk.h"

namespace postern::plugins::maglev {

inline constexpr std::uint32_t kTableSize = 65537;

/** The lookup table for one backend set: entry = index into `backends`. Empty for no backends.
 * Throws std::bad_alloc. Control thread. */
std::vector<std::uint32_t> buildTable(std::span<const postern_backend> backends);

/** The slot of a client: mix64(client_hash) mod kTableSize. */
std::uint32_t slotOf(std::uint64_t client_hash) noexcept;

/** The selector for one backend snapshot. */
class MaglevSelector final : public postern::sdk::Balancer {
public:
    /** How many candidates are taken from the table walk (enough for the usual retries); then
     * index order. */
    static constexpr std::uint32_t kTableCandidates = 4;
    /** How far past the client's slot the table is searched for them. */
    static constexpr std::uint32_t kTableScan = 256;

    /** Control thread. Throws std::bad_alloc. */
    explicit MaglevSelector(std::span<const postern_backend> backends);

    std::uint32_t pick(const postern_pick_context& ctx,
                       std::span<std::uint32_t> out) noexcept override;

    std::span<const std::uint32_t> table() const noexcept { return table_; }

private:
    std::uint32_t count_;
    std::vector<std::uint32_t> table_;
};

/** One per pool; reads no configuration keys. Control thread. */
class MaglevFactory final : public postern::sdk::BalancerFactory {
public:
    static std::unique_ptr<MaglevFactory> create(postern::sdk::Config& config,
                                                 postern::sdk::Host& host) noexcept;
    std::unique_ptr<postern::sdk::Balancer> build(
        std::span<const postern_backend> backends,
        const postern_backend_load& load) noexcept override;
};

}  // namespace postern::plugins::maglev
