// postern/plugin/descriptor.h — what the POSTERN_*_PLUGIN macros share: the build id, the compile-time
// name check and the definition of the exported descriptor. Plugin authors do not use this header
// directly; they use one of POSTERN_BALANCER_PLUGIN, POSTERN_DISCOVERY_PLUGIN, POSTERN_PROBE_PLUGIN.
// Part of the header-only plugin SDK: standard library and abi.h only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string_view>

#include "postern/plugin/abi.h"
#include "postern/plugin/config.h"

#define POSTERN_SDK_STR2_(x) #x
#define POSTERN_SDK_STR_(x) POSTERN_SDK_STR2_(x)

// The toolchain that built the plugin. Informational only: the boundary is C, so the host does not
// compare it, but `postern plugins` shows it, which helps when a plugin misbehaves.
#if defined(__clang__)
#define POSTERN_SDK_COMPILER_ "clang " __clang_version__
#elif defined(__GNUC__)
#define POSTERN_SDK_COMPILER_ "gcc " __VERSION__
#elif defined(_MSC_VER)
#define POSTERN_SDK_COMPILER_ "msvc " POSTERN_SDK_STR_(_MSC_FULL_VER)
#else
#define POSTERN_SDK_COMPILER_ "unknown-compiler"
#endif
#if defined(_LIBCPP_VERSION)
#define POSTERN_SDK_STDLIB_ ";libc++ " POSTERN_SDK_STR_(_LIBCPP_VERSION)
#elif defined(__GLIBCXX__)
#define POSTERN_SDK_STDLIB_ ";libstdc++ " POSTERN_SDK_STR_(__GLIBCXX__)
#else
#define POSTERN_SDK_STDLIB_ ""
#endif
#define POSTERN_SDK_BUILD_ID POSTERN_SDK_COMPILER_ POSTERN_SDK_STDLIB_ ";c++" POSTERN_SDK_STR_(__cplusplus)

namespace postern::sdk::detail {

/** The host's rule for plugin names, checked at compile time by the macros: [a-z0-9_]+. */
constexpr bool validPluginName(std::string_view name) noexcept {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

/** The message of the exception being handled, for "plugin failed: ..." reports. Only call inside
 * a catch block. */
inline const char* currentExceptionMessage() noexcept {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

/** Reports the exception being handled as a configuration error ("the plugin failed while being
 * created: <what>"), so a throwing create() still yields a clear, positioned message. Only call
 * inside a catch block. */
inline void reportCreateFailure(Config& config) noexcept {
    char message[320];
    std::snprintf(message, sizeof message, "the plugin failed while being created: %s",
                  currentExceptionMessage());
    config.error(message);
}

/** Reports a create() that returned nullptr without saying why. */
inline void reportSilentCreateFailure(Config& config, std::string_view kind) noexcept {
    char message[160];
    std::snprintf(message, sizeof message, "the %.*s plugin could not be created (it gave no reason)",
                  static_cast<int>(kind.size()), kind.data());
    config.error(message);
}

}  // namespace postern::sdk::detail

// Defines the single exported symbol `postern_plugin_descriptor` (plain C linkage). Use once per
// library, at global scope.
#define POSTERN_SDK_DEFINE_DESCRIPTOR_(kind_, name_, version_, balancer_, discovery_, probe_)      \
    static_assert(::postern::sdk::detail::validPluginName(name_),                                 \
                  "a postern plugin name must match [a-z0-9_]+ (at most 64 characters)");         \
    extern "C" POSTERN_PLUGIN_EXPORT const ::postern_descriptor postern_plugin_descriptor; \
    const ::postern_descriptor postern_plugin_descriptor = {                               \
        POSTERN_PLUGIN_ABI_VERSION,                                                                \
        static_cast<::std::uint32_t>(sizeof(::postern_descriptor)),                        \
        static_cast<::std::uint32_t>(kind_),                                                       \
        name_,                                                                                     \
        version_,                                                                                  \
        POSTERN_SDK_BUILD_ID,                                                                      \
        balancer_,                                                                                 \
        discovery_,                                                                                \
        probe_,                                                                                    \
    };                                                                                             \
    static_assert(true, "")
