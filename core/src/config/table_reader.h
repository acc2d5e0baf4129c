// Reads the keys of one TOML table with exact type checks, reporting every problem to Diagnostics
// at the offending value (or at the table header for missing keys), and afterwards every key that
// was never asked for as an unknown key. Control thread only; lives for one load.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/model.h"

namespace postern::config {

struct DurationRules {
    bool allow_unlimited = false;  ///< "unlimited" → kUnlimited
    bool positive = false;         ///< 0 is an error
};

/** A duration value: a string with a unit or a non-negative integer number of seconds. `name` is
 * the key as shown in messages. Reports its own positioned error and returns nullopt when invalid.
 */
std::optional<Millis> readDuration(const toml::node& node, std::string_view name, Diagnostics& diag,
                                   DurationRules rules = {});

/** `"a", "b" or "c"` for messages. */
std::string quotedList(std::initializer_list<std::string_view> items);

class TableReader {
public:
    struct StringItem {
        std::string value;
        SourcePos pos;
    };

    /** `table` may be null: an absent section reads as an empty one. `context` names the table in
     * messages ("[[listener]]", "[pool.backend]", "" for the top level); `pos` is its header. */
    TableReader(const toml::table* table, std::string context, SourcePos pos, Diagnostics& diag);

    const std::string& context() const { return context_; }
    SourcePos pos() const { return pos_; }
    Diagnostics& diagnostics() { return diag_; }

    /** Marks `key` as known and returns its value (null when absent). */
    const toml::node* get(std::string_view key);
    /** Position of `key`'s value, or of the table header when absent. */
    SourcePos valuePos(std::string_view key) const;

    /** Each typed reader marks the key known and returns nullopt both when the key is absent and
     * when its value is invalid (after reporting why). */
    std::optional<std::string> string(std::string_view key);
    std::optional<std::int64_t> integer(
        std::string_view key, std::int64_t min = 0,
        std::int64_t max = std::numeric_limits<std::int64_t>::max());
    std::optional<bool> boolean(std::string_view key);
    std::optional<double> floating(std::string_view key);
    std::optional<Millis> duration(std::string_view key, DurationRules rules = {});
    std::optional<std::vector<StringItem>> stringArray(std::string_view key);
    /** A sub-table (inline or not); nullopt-like null when absent or not a table. */
    const toml::table* table(std::string_view key);
    /** An array whose elements are all tables ([[x]] or [{...}]); null when absent or invalid. */
    const toml::array* arrayOfTables(std::string_view key);

    /** Reports "<context> is missing required key '<key>'" at the header unless the key is present.
     * Returns whether it is present. */
    bool require(std::string_view key);

    /** `'<key>' is not supported yet (<what>)` at the key's value. */
    void notSupported(std::string_view key, std::string_view what);
    /** `'<key>' must be one of "a", "b", not "x"` at the key's value. */
    void invalidChoice(std::string_view key, std::string_view value,
                       std::initializer_list<std::string_view> allowed);

    /** Reports every key of the table that no reader asked for. Call once, after reading. */
    void finish();

private:
    void wrongType(const toml::node& node, std::string_view key, std::string_view expected);

    const toml::table* table_;
    std::string context_;
    SourcePos pos_;
    Diagnostics& diag_;
    std::vector<std::string> known_;
};

}  // namespace postern::config
