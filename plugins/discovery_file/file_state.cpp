#include "discovery_file/file_state.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <windows.h>
#else
#include <sys/stat.h>
#endif

namespace postern::plugins::file_discovery {

#ifdef _WIN32

namespace {

std::wstring widen(const std::string& s) {
    if (s.empty()) return std::wstring();
    const int n =
        ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    std::wstring out(static_cast<std::size_t>(n > 0 ? n : 0), L'\0');
    if (n > 0)
        ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n);
    return out;
}

// FILETIME / LARGE_INTEGER times count 100 ns from 1601-01-01.
constexpr std::int64_t kEpochDelta100ns = 116444736000000000LL;

std::int64_t toUnixNs(std::int64_t ticks) { return (ticks - kEpochDelta100ns) * 100; }

std::string lastError() {
    const DWORD code = ::GetLastError();
    char buffer[256] = {0};
    const DWORD n = ::FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                                     nullptr, code, 0, buffer, sizeof buffer, nullptr);
    std::string text(buffer, n);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '.'))
        text.pop_back();
    return text.empty() ? "error " + std::to_string(code) : text;
}

}  // namespace

FileSignature statFile(const std::string& path, std::string* why) {
    FileSignature sig;
    // Attributes only, sharing everything: never in the way of a writer or a rename over it.
    HANDLE h = ::CreateFileW(widen(path).c_str(), FILE_READ_ATTRIBUTES,
                             FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                             OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        if (why) *why = lastError();
        return sig;
    }
    BY_HANDLE_FILE_INFORMATION info{};
    FILE_BASIC_INFO basic{};
    const bool ok = ::GetFileInformationByHandle(h, &info) &&
                    ::GetFileInformationByHandleEx(h, FileBasicInfo, &basic, sizeof basic);
    if (!ok && why) *why = lastError();
    ::CloseHandle(h);
    if (!ok) return sig;
    sig.exists = true;
    sig.device = info.dwVolumeSerialNumber;
    sig.identity = (static_cast<std::uint64_t>(info.nFileIndexHigh) << 32) | info.nFileIndexLow;
    sig.size = (static_cast<std::uint64_t>(info.nFileSizeHigh) << 32) | info.nFileSizeLow;
    sig.modified_ns = toUnixNs(basic.LastWriteTime.QuadPart);
    sig.changed_ns = toUnixNs(basic.ChangeTime.QuadPart);
    return sig;
}

namespace {
// Shares read, write and delete like statFile: a writer renaming a new version over the file
// while a round reads it must not fail (Windows refuses to replace a file opened without
// FILE_SHARE_DELETE, which _wfopen does not ask for).
std::FILE* openForReading(const std::string& path) {
    HANDLE h = ::CreateFileW(widen(path).c_str(), GENERIC_READ,
                             FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                             OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) {
        const DWORD code = ::GetLastError();
        errno = code == ERROR_FILE_NOT_FOUND || code == ERROR_PATH_NOT_FOUND     ? ENOENT
                : code == ERROR_ACCESS_DENIED || code == ERROR_SHARING_VIOLATION ? EACCES
                                                                                 : EIO;
        return nullptr;
    }
    const int fd = ::_open_osfhandle(reinterpret_cast<intptr_t>(h), _O_RDONLY | _O_BINARY);
    if (fd < 0) {
        ::CloseHandle(h);
        errno = EIO;
        return nullptr;
    }
    std::FILE* f = ::_fdopen(fd, "rb");
    if (!f) ::_close(fd);  // closes the handle too
    return f;
}
bool isDirectory(const std::string& path) {
    const DWORD a = ::GetFileAttributesW(widen(path).c_str());
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}
}  // namespace

#else

FileSignature statFile(const std::string& path, std::string* why) {
    FileSignature sig;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (why) *why = std::strerror(errno);
        return sig;
    }
    sig.exists = true;
    sig.device = static_cast<std::uint64_t>(st.st_dev);
    sig.identity = static_cast<std::uint64_t>(st.st_ino);
    sig.size = static_cast<std::uint64_t>(st.st_size);
    sig.modified_ns =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    sig.changed_ns =
        static_cast<std::int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
    return sig;
}

namespace {
std::FILE* openForReading(const std::string& path) { return std::fopen(path.c_str(), "rb"); }
bool isDirectory(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
}  // namespace

#endif

std::optional<std::string> readWholeFile(const std::string& path, std::string& why) {
    if (isDirectory(path)) {
        why = "it is a directory";
        return std::nullopt;
    }
    errno = 0;
    std::FILE* f = openForReading(path);
    if (!f) {
        why = errno ? std::strerror(errno) : "cannot open it";
        return std::nullopt;
    }
    std::string text;
    char buffer[16384];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
        text.append(buffer, n);
        if (text.size() > kMaxInventoryBytes) {
            std::fclose(f);
            why = "larger than " + std::to_string(kMaxInventoryBytes / (1024 * 1024)) + " MiB";
            return std::nullopt;
        }
    }
    const bool failed = std::ferror(f) != 0;
    const int error = errno;
    std::fclose(f);
    if (failed) {
        why = error ? std::strerror(error) : "read error";
        return std::nullopt;
    }
    return text;
}

std::int64_t wallClockNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace postern::plugins::file_discovery
