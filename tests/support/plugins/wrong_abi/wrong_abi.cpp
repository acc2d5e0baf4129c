// Test plugin: a descriptor from a future ABI (99) whose layout this host cannot know. Only the two
// frozen first fields are meaningful; the host must refuse it without reading further.
// (abi.h is not included: its typedef has the same name as the symbol defined here.)
#include <cstdint>

#if defined(_WIN32) || defined(__CYGWIN__)
#define TEST_EXPORT __declspec(dllexport)
#else
#define TEST_EXPORT __attribute__((visibility("default")))
#endif

struct FutureDescriptor {
    std::uint32_t abi_version;
    std::uint32_t descriptor_size;
    std::uint64_t something_else;  // not a postern_kind: a host reading on would misinterpret it
};

extern "C" TEST_EXPORT const FutureDescriptor postern_plugin_descriptor = {
    99u, static_cast<std::uint32_t>(sizeof(FutureDescriptor)), 0xdeadbeefu};
