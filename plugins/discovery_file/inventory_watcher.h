// The `file` discovery plugin's state: the inventory's last good target set and the cheap change
// detection that decides when to read the file again. One per pool; every method runs on that
// pool's discovery thread (create's first load on the control thread), one call at a time.
//
// Why a stat poll and not inotify / ReadDirectoryChangesW: a round already runs every second on
// a thread of its own, and one stat per second costs nothing; a poll sees changes on NFS and SMB
// shares (where on-prem inventories often live and where inotify sees nothing), follows symbolic
// link swaps (Kubernetes ConfigMaps, `ln -sfn` deployments) and atomic replaces without watching
// directories, and is the same code on Linux and Windows. A change is picked up within about two
// rounds.
//
// Rules:
//  - A change is read only once the file's signature has been the same for two consecutive
//    rounds (a writer that is still writing changes it), and the read is kept only when the
//    signature did not change during the read.
//  - A version whose change time is within 2 s of its reading ("racy", as git calls it: the file
//    system's timestamps may not tell a later same-size write apart) is read again next round.
//  - A version that does not parse, is missing or cannot be read keeps the last good set; each
//    distinct bad version (by content) is logged once, every error as path:line:col: message.
//  - Identical bytes (a touch, a rename of an identical copy) change nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "discovery_file/file_state.h"
#include "discovery_file/inventory.h"
#include "postern/plugin/host.h"

namespace postern::plugins::file_discovery {

class InventoryWatcher {
public:
    using LogFn = std::function<void(postern::sdk::LogLevel, std::string_view)>;

    /** `path` is absolute (resolved against the config file's directory by the host). */
    InventoryWatcher(std::string path, LogFn log);

    /** The first read (at create): true with the set loaded, or false with every error
     * ("cannot read ...: No such file or directory", or the inventory's own path:line:col
     * errors). */
    bool load(std::vector<std::string>& errors);

    /** One round: looks at the file, and reads it when it changed (see the rules above). */
    void poll();

    /** The last good set. */
    const std::vector<InventoryTarget>& targets() const { return targets_; }
    /** How many good versions were applied since load() (a version equal to the previous set
     * counts too), for tests and logs. */
    std::uint64_t versions() const { return versions_; }
    const std::string& path() const { return path_; }

    /** Racy window: a version changed this recently before it was read is read again. */
    static constexpr std::int64_t kRacyNs = 2'000'000'000;

private:
    /** Reads the file whose signature is `sig`; false when it changed during the read. */
    bool readVersion(const FileSignature& sig);
    void apply(std::vector<InventoryTarget> next);

    std::string path_;
    LogFn log_;
    std::vector<InventoryTarget> targets_;
    std::uint64_t versions_ = 0;

    FileSignature read_sig_;     // the version last read (good or bad)
    FileSignature pending_sig_;  // a changed signature seen last round, not read yet
    bool pending_ = false;
    bool racy_ = false;
    bool have_hash_ = false;
    std::uint64_t read_hash_ = 0;  // FNV-1a of the bytes last read
    int missing_rounds_ = 0;
    bool missing_logged_ = false;
    std::string read_problem_logged_;  // why the last read failed, once logged
};

}  // namespace postern::plugins::file_discovery
