#include "build_info.h"

#include <Poco/Environment.h>
#include <Poco/Version.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <postern/plugin/abi.h>
#include <toml++/impl/version.h>

#include <boost/version.hpp>
#include <cstdio>

#ifndef POSTERN_BUILD_TYPE
#define POSTERN_BUILD_TYPE ""
#endif

namespace postern::service {

namespace {

/** Poco's 0xMMmmppbb as "M.m.p". */
std::string pocoVersion(unsigned long v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lu.%lu.%lu", (v >> 24) & 0xff, (v >> 16) & 0xff,
                  (v >> 8) & 0xff);
    return buf;
}

std::string compiler() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "GCC " __VERSION__;
#elif defined(_MSC_VER)
    return "MSVC " + std::to_string(_MSC_FULL_VER);
#else
    return "unknown";
#endif
}

std::string target() {
#if defined(__linux__)
    std::string os = "linux";
#elif defined(_WIN32)
    std::string os = "windows";
#elif defined(__APPLE__)
    std::string os = "macos";
#else
    std::string os = "unknown";
#endif
#if defined(__x86_64__) || defined(_M_X64)
    os += " x86_64";
#elif defined(__aarch64__) || defined(_M_ARM64)
    os += " aarch64";
#elif defined(__i386__) || defined(_M_IX86)
    os += " x86";
#else
    os += " unknown-arch";
#endif
#if defined(__MINGW64_VERSION_STR)
    os += " (MinGW-w64 " __MINGW64_VERSION_STR ")";
#endif
    return os;
}

}  // namespace

std::string buildDetails() {
    const std::string build_type = POSTERN_BUILD_TYPE;
    std::string out = "postern " POSTERN_VERSION "\n";
    auto line = [&out](const char* key, const std::string& value) {
        out += key;
        out += ": ";
        out += value;
        out += '\n';
    };
    line("compiler", compiler());
    line("c++", std::to_string(__cplusplus));
    line("build type", build_type.empty() ? std::string("(none)") : build_type);
    line("target", target());
    line("openssl (built with)", OPENSSL_VERSION_TEXT);
    line("openssl (running)", OpenSSL_version(OPENSSL_VERSION));
    line("poco (built with)", pocoVersion(POCO_VERSION));
    line("poco (running)", pocoVersion(Poco::Environment::libraryVersion()));
    line("boost", std::to_string(BOOST_VERSION / 100000) + "." +
                      std::to_string(BOOST_VERSION / 100 % 1000) + "." +
                      std::to_string(BOOST_VERSION % 100));
    line("toml++", std::to_string(TOML_LIB_MAJOR) + "." + std::to_string(TOML_LIB_MINOR) + "." +
                       std::to_string(TOML_LIB_PATCH));
    line("plugin abi", std::to_string(POSTERN_PLUGIN_ABI_VERSION));
    return out;
}

}  // namespace postern::service
