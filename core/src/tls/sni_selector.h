// Picks a listener certificate from the server name a client sent (SNI): an exact name first
// (over every certificate), then a wildcard ("*.example.com" matches exactly one more label:
// "a.example.com", not "example.com" nor "a.b.example.com"); when nothing matches, or the client
// sent no name, the caller uses the first certificate. Case-insensitive, a trailing dot ignored.
// Built once on the control thread; select() is const, allocation-free and safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postern::tls {

class SniSelector {
public:
    struct Duplicate {
        std::string name;
        std::size_t kept = 0;     ///< certificate that serves it (the first to claim it)
        std::size_t ignored = 0;  ///< a later certificate with the same name
    };

    SniSelector() = default;
    /** `names[i]`: the names certificate i answers for (SAN DNS names, "*.x" for wildcards). */
    explicit SniSelector(const std::vector<std::vector<std::string>>& names);

    /** Index of the certificate for `server_name`; nullopt when none matches. */
    std::optional<std::size_t> select(std::string_view server_name) const;

    /** Names claimed by more than one certificate (the first one wins), for a start-up warning. */
    const std::vector<Duplicate>& duplicates() const { return duplicates_; }

private:
    using Entry = std::pair<std::string, std::size_t>;
    static std::optional<std::size_t> find(const std::vector<Entry>& table, std::string_view key);

    std::vector<Entry> exact_;     ///< sorted by name
    std::vector<Entry> wildcard_;  ///< sorted by the part after "*."
    std::vector<Duplicate> duplicates_;
};

}  // namespace postern::tls
