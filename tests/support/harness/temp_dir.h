// A fresh directory under $TMPDIR (or /tmp), removed with its contents in the destructor — unless
// POSTERN_KEEP_TEST_DIRS is set in the environment, to look at configs and logs after a failure.
// Owned by one test; not thread-safe.
#pragma once

#include <filesystem>
#include <string_view>

namespace postern::test {

class TempDir {
public:
    explicit TempDir(std::string_view prefix = "postern-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    /** Writes `content` to path()/name (replacing it) and returns the full path. */
    std::filesystem::path writeFile(std::string_view name, std::string_view content) const;

private:
    std::filesystem::path path_;
};

}  // namespace postern::test
