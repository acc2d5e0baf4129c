// Collects configuration errors with their positions while a file is validated, so that every
// problem is reported at once, sorted by position. Also the small toml++ helpers every reader needs
// (positions, type names). Control thread only; one instance per load.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace postern::config {

/** Position of a node's first character; `fallback` when toml++ has none (line 0). */
SourcePos positionOf(const toml::node& node, SourcePos fallback = {1, 1});
SourcePos positionOf(const toml::key& key, SourcePos fallback = {1, 1});

/** "3:1", for messages that point at another place in the same file. */
std::string formatPosition(SourcePos pos);

/** "a string", "an integer", "a float", "a boolean", "an array", "a table", "a date", ... */
std::string_view typeName(const toml::node& node);

/** The closest of `candidates` to `word` when it is plausibly a typo of it (edit distance 1, or 2
 * for words of 8 characters or more; a transposition counts 1), else empty. */
std::string suggestKey(std::string_view word, const std::vector<std::string>& candidates);

class Diagnostics {
public:
    explicit Diagnostics(std::string file) : file_(std::move(file)) {}

    void error(SourcePos pos, std::string message);
    void error(const toml::node& node, std::string message) {
        error(positionOf(node), std::move(message));
    }

    bool empty() const { return errors_.empty(); }
    std::size_t count() const { return errors_.size(); }
    const std::string& file() const { return file_; }

    /** The errors in (line, column) order; errors at the same position keep the order they were
     * found in. */
    std::vector<ConfigError> sorted() const;

private:
    std::string file_;
    std::vector<ConfigError> errors_;
};

}  // namespace postern::config
