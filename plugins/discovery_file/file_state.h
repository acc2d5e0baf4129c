// What the `file` discovery plugin asks the file system: a cheap signature of a file (one stat)
// that changes whenever the file does, and the whole file's bytes. POSIX and Windows; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace postern::plugins::file_discovery {

/** Identity and change stamps of a file, following symbolic links (a symlink swap, as Kubernetes
 * ConfigMaps and some deployment tools do, is a change of the target's identity). Two signatures
 * compare equal only when nothing visible changed: an in-place write changes the size or the
 * modification time, and always the change time (POSIX st_ctime, Windows ChangeTime, which
 * `touch -d` and SetFileTime cannot set back); an atomic replace (write a temporary file, rename
 * it over) changes the identity (inode / file index). */
struct FileSignature {
    bool exists = false;
    std::uint64_t device = 0;    ///< st_dev / volume serial number
    std::uint64_t identity = 0;  ///< st_ino / 64-bit file index
    std::uint64_t size = 0;
    std::int64_t modified_ns = 0;  ///< since the Unix epoch
    std::int64_t changed_ns = 0;   ///< since the Unix epoch
    bool operator==(const FileSignature&) const = default;
};

/** The file's signature; `exists` false when it is missing (or cannot be looked at: then `why`
 * says so, e.g. "Permission denied"). */
FileSignature statFile(const std::string& path, std::string* why = nullptr);

/** Every byte of the file, or nullopt and `why` ("No such file or directory", "it is a
 * directory", "larger than 16 MiB"). */
std::optional<std::string> readWholeFile(const std::string& path, std::string& why);

/** Inventories are a few KiB; this bounds what a wrong `path` (a log, /dev/zero) can take. */
inline constexpr std::uint64_t kMaxInventoryBytes = 16 * 1024 * 1024;

/** Now, in ns since the Unix epoch (the clock file times are stamped with). */
std::int64_t wallClockNs();

}  // namespace postern::plugins::file_discovery
