#include "discovery_file/inventory_watcher.h"

#include <algorithm>
#include <utility>

namespace postern::plugins::file_discovery {

namespace {

std::uint64_t fnv1a(std::string_view bytes) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

std::string plural(std::size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

InventoryWatcher::InventoryWatcher(std::string path, LogFn log)
    : path_(std::move(path)), log_(std::move(log)) {}

bool InventoryWatcher::load(std::vector<std::string>& errors) {
    std::string why;
    const FileSignature sig = statFile(path_, &why);
    auto text = readWholeFile(path_, why);
    if (!text) {
        errors.push_back("cannot read inventory '" + path_ + "': " + why);
        return false;
    }
    ParsedInventory parsed = parseInventory(*text, path_);
    if (!parsed.targets) {
        errors = std::move(parsed.errors);
        return false;
    }
    targets_ = std::move(*parsed.targets);
    read_sig_ = sig;
    read_hash_ = fnv1a(*text);
    have_hash_ = true;
    racy_ = wallClockNs() - std::max(sig.modified_ns, sig.changed_ns) < kRacyNs;
    return true;
}

void InventoryWatcher::poll() {
    std::string why;
    const FileSignature sig = statFile(path_, &why);
    if (!sig.exists) {
        pending_ = false;
        // Two rounds in a row: an editor that deletes and recreates is not "missing".
        if (++missing_rounds_ >= 2 && !missing_logged_) {
            missing_logged_ = true;
            log_(postern::sdk::LogLevel::Warn, "inventory " + path_ + " cannot be looked at (" +
                                                   why + "); keeping the last good set of " +
                                                   plural(targets_.size(), "target"));
        }
        read_sig_ = FileSignature{};  // whatever comes back is a change
        return;
    }
    missing_rounds_ = 0;
    if (missing_logged_) {
        missing_logged_ = false;
        log_(postern::sdk::LogLevel::Info, "inventory " + path_ + " is back");
    }
    if (sig == read_sig_) {
        pending_ = false;
        if (racy_) readVersion(sig);
        return;
    }
    // Changed: read it once it has stayed the same for a round (a writer may still be at it).
    if (!pending_ || !(sig == pending_sig_)) {
        pending_sig_ = sig;
        pending_ = true;
        return;
    }
    pending_ = false;
    readVersion(sig);
}

bool InventoryWatcher::readVersion(const FileSignature& sig) {
    std::string why;
    auto text = readWholeFile(path_, why);
    const FileSignature after = statFile(path_);
    if (!(after == sig)) {
        // Written (or replaced) while we read: look again next round.
        pending_sig_ = after;
        pending_ = after.exists;
        return false;
    }
    read_sig_ = sig;
    racy_ = wallClockNs() - std::max(sig.modified_ns, sig.changed_ns) < kRacyNs;
    if (!text) {
        if (read_problem_logged_ != why) {
            read_problem_logged_ = why;
            log_(postern::sdk::LogLevel::Warn, "cannot read inventory " + path_ + " (" + why +
                                                   "); keeping the last good set of " +
                                                   plural(targets_.size(), "target"));
        }
        return true;
    }
    read_problem_logged_.clear();
    const std::uint64_t hash = fnv1a(*text);
    if (have_hash_ && hash == read_hash_) return true;  // the same bytes: nothing new to say
    read_hash_ = hash;
    have_hash_ = true;
    ParsedInventory parsed = parseInventory(*text, path_);
    if (!parsed.targets) {
        log_(postern::sdk::LogLevel::Error,
             "inventory " + path_ + " rejected (" + plural(parsed.errors.size(), "error") +
                 "); keeping the last good set of " + plural(targets_.size(), "target"));
        for (const auto& e : parsed.errors) log_(postern::sdk::LogLevel::Error, e);
        return true;
    }
    apply(std::move(*parsed.targets));
    return true;
}

void InventoryWatcher::apply(std::vector<InventoryTarget> next) {
    ++versions_;
    std::size_t added = 0, removed = 0, changed = 0;
    auto sameAddress = [](const InventoryTarget& a, const InventoryTarget& b) {
        return a.host == b.host && a.port == b.port;
    };
    for (const auto& n : next) {
        auto it = std::find_if(targets_.begin(), targets_.end(),
                               [&](const InventoryTarget& o) { return sameAddress(o, n); });
        if (it == targets_.end())
            ++added;
        else if (!(*it == n))
            ++changed;
    }
    for (const auto& o : targets_)
        if (std::none_of(next.begin(), next.end(),
                         [&](const InventoryTarget& n) { return sameAddress(o, n); }))
            ++removed;
    log_(postern::sdk::LogLevel::Info,
         "inventory " + path_ + " re-read: " + plural(next.size(), "target") + " (" +
             std::to_string(added) + " added, " + std::to_string(removed) + " removed, " +
             std::to_string(changed) + " changed)");
    targets_ = std::move(next);
}

}  // namespace postern::plugins::file_discovery
