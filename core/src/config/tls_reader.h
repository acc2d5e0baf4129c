// The TLS part of the configuration: `[listener.tls]` and the `tls_*` keys of `[pool.backend]`.
// Reads and type-checks them while the config reader walks the file, remembers where each value
// was written, and once every pool's plugins exist (a tls probe needs TLS to its backends even
// when the pool relays plain TCP) builds the TLS contexts — loading every certificate and key —
// reporting each problem at the file:line:column of the setting it is about. Control thread;
// lives for one load.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "config/diagnostics.h"
#include "config/model.h"
#include "config/table_reader.h"

namespace postern::config {

class TlsReader {
public:
    TlsReader(std::filesystem::path base_dir, Diagnostics& diag) : base_dir_(std::move(base_dir)), diag_(diag) {}

    /** Reads `[listener.tls]` from the listener table `r` (listener `index`, `l` already has its
     * name and protocol) and checks that it is there exactly when protocol = "tls". */
    void readListener(TableReader& r, ListenerConfig& l, std::size_t index);
    /** Reads the tls_* keys of `[pool.backend]` (`r`) of pool `index`. */
    void readBackend(TableReader& r, BackendSettings& b, std::size_t index);
    /** After plugins exist: builds the contexts the configuration needs, reporting problems. */
    void build(Config& config);

private:
    struct ListenerUse {
        std::size_t listener = 0;
        SourcePos table;
        std::vector<std::pair<SourcePos, SourcePos>> files;  ///< cert, key of each entry
        std::vector<SourcePos> alpn;
        SourcePos ciphers, client_ca;
        bool valid = true;  ///< false: a type error was reported, nothing to build
    };
    struct PoolUse {
        std::size_t pool = 0;
        SourcePos table, ca, client_cert, client_key;
        std::vector<std::pair<std::string, SourcePos>> keys_set;  ///< tls_* keys given a value
        bool valid = true;
    };

    tls::FileRef file(const std::string& written) const;
    void report(const tls::TlsProblem& problem, SourcePos where, std::string_view key);

    std::filesystem::path base_dir_;
    Diagnostics& diag_;
    std::vector<ListenerUse> listeners_;
    std::vector<PoolUse> pools_;
};

}  // namespace postern::config
