// What the `dns` plugin remembers about one query (a name and a record type) between rounds: the
// last good records, and the failure rules applied to them. Pure (the clock is passed in); owned by
// the plugin instance, used on its discovery thread.
//
// The rules (docs/discovery.md, "## dns"):
//   - records        -> they replace the last good ones; a failure or NX episode ends.
//   - failed         -> (timeout, SERVFAIL, REFUSED, a connection or format error: DNS did not
//                       say anything about the name) the last good records stay, for as long as
//                       the failures last (serve-stale). Logged once per episode.
//   - NXDOMAIN/empty -> (DNS said the name has no such records) the last good records stay for
//                       hold_nx from the first such answer, then go (the core drains them). A
//                       query that never had records simply has none. Logged once per episode.
//   - A failure in the middle of an NX episode neither extends nor ends the hold: the records go at
//     the first NX/empty answer received after hold_nx has passed.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace postern::plugins::dns_discovery {

enum class Outcome {
    Records,   ///< an answer with at least one record of the type asked for
    Empty,     ///< NOERROR without a record of that type (NODATA)
    NxDomain,  ///< the name does not exist
    Failed,    ///< no usable answer: timeout, SERVFAIL, REFUSED, connection or format error
};

/** What an update changed, for the log (each is reported once per episode). */
enum class Event {
    None,           ///< nothing worth a line (a normal answer, or the same episode going on)
    Recovered,      ///< records again after a failure or NX episode
    FailedStale,    ///< a failure episode began; the last good records are kept
    FailedNothing,  ///< a failure episode began for a query that has no records to keep
    NxHold,         ///< NX/empty for a query that had records: they are held for hold_nx
    NxExpired,      ///< hold_nx has passed: the records were dropped
    NxNothing,      ///< an NX/empty episode began for a query that has no records
};

template <class Record>
class AnswerState {
public:
    /** Applies one answer received at `now_ms` (any monotonic clock in ms). */
    Event update(Outcome outcome, std::vector<Record> records, std::int64_t now_ms,
                 std::int64_t hold_nx_ms) {
        if (outcome == Outcome::Records && records.empty()) outcome = Outcome::Empty;
        switch (outcome) {
            case Outcome::Records: {
                const bool was_bad = episode_ != Episode::None;
                records_ = std::move(records);
                nx_since_.reset();
                episode_ = Episode::None;
                ever_resolved_ = true;
                return was_bad ? Event::Recovered : Event::None;
            }
            case Outcome::Failed: {
                if (episode_ == Episode::Failed) return Event::None;
                episode_ = Episode::Failed;
                return records_.empty() ? Event::FailedNothing : Event::FailedStale;
            }
            case Outcome::Empty:
            case Outcome::NxDomain: {
                if (records_.empty()) {
                    nx_since_.reset();
                    if (episode_ == Episode::Nx) return Event::None;
                    episode_ = Episode::Nx;
                    return Event::NxNothing;
                }
                if (!nx_since_) nx_since_ = now_ms;
                if (now_ms - *nx_since_ >= hold_nx_ms) {
                    records_.clear();
                    nx_since_.reset();
                    episode_ = Episode::Nx;
                    return Event::NxExpired;
                }
                if (episode_ == Episode::Nx) return Event::None;
                episode_ = Episode::Nx;
                return Event::NxHold;
            }
        }
        return Event::None;
    }

    /** The records to report: the last good ones (possibly stale or held). */
    const std::vector<Record>& records() const noexcept { return records_; }
    /** When held records go (at the first NX/empty answer from then on), if they are held. */
    std::optional<std::int64_t> holdEndsAt(std::int64_t hold_nx_ms) const noexcept {
        if (!nx_since_) return std::nullopt;
        return *nx_since_ + hold_nx_ms;
    }
    /** Whether the last answer was a failure (not an answer about the name). */
    bool failing() const noexcept { return episode_ == Episode::Failed; }
    /** Whether this query ever got records. */
    bool everResolved() const noexcept { return ever_resolved_; }

private:
    enum class Episode { None, Failed, Nx };

    std::vector<Record> records_;
    std::optional<std::int64_t> nx_since_;
    Episode episode_ = Episode::None;
    bool ever_resolved_ = false;
};

}  // namespace postern::plugins::dns_discovery
