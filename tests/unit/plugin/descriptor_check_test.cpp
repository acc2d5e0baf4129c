#include "plugin/descriptor_check.h"

#include <gtest/gtest.h>

using postern::plugin::checkDescriptor;

namespace {

void* createStub(const postern_config*, const postern_host*) noexcept { return nullptr; }
void destroyStub(void*) noexcept {}
void* buildStub(void*, const postern_backend*, uint32_t, const postern_backend_load*) noexcept {
    return nullptr;
}
uint32_t pickStub(void*, const postern_pick_context*, uint32_t*, uint32_t) noexcept { return 0; }
void discoverStub(void*, const postern_discovery_sink*, int64_t) noexcept {}
void transportStub(void*, postern_probe_transport*) noexcept {}
void* sessionStub(void*, const postern_backend*) noexcept { return nullptr; }
postern_verdict connectedStub(void*, const postern_output*) noexcept { return POSTERN_VERDICT_HEALTHY; }
postern_verdict dataStub(void*, const char*, size_t, int, const postern_output*) noexcept {
    return POSTERN_VERDICT_HEALTHY;
}

postern_balancer_ops balancerOps() {
    return {&createStub, &destroyStub, &buildStub, &destroyStub, &pickStub, nullptr, nullptr};
}
postern_discovery_ops discoveryOps() { return {&createStub, &destroyStub, &discoverStub, nullptr}; }
postern_probe_ops probeOps() {
    return {&createStub, &destroyStub, &transportStub, &sessionStub, &destroyStub, &connectedStub,
            &dataStub, nullptr};
}

postern_descriptor valid(postern_kind kind, const postern_balancer_ops* b,
                                const postern_discovery_ops* d, const postern_probe_ops* p) {
    return postern_descriptor{POSTERN_PLUGIN_ABI_VERSION,
                                     sizeof(postern_descriptor),
                                     static_cast<uint32_t>(kind),
                                     "my_plugin_2",
                                     "1.2.3-beta+4",
                                     nullptr,
                                     b,
                                     d,
                                     p};
}

std::string problem(const postern_descriptor& d) {
    auto p = checkDescriptor(d);
    return p ? *p : std::string("<accepted>");
}

}  // namespace

TEST(DescriptorCheck, AcceptsOneValidDescriptorOfEachKind) {
    auto b = balancerOps();
    auto d = discoveryOps();
    auto p = probeOps();
    EXPECT_EQ(problem(valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr)), "<accepted>");
    EXPECT_EQ(problem(valid(POSTERN_KIND_DISCOVERY, nullptr, &d, nullptr)), "<accepted>");
    EXPECT_EQ(problem(valid(POSTERN_KIND_PROBE, nullptr, nullptr, &p)), "<accepted>");
    // Optional entries may be set too.
    b.on_open = [](void*, uint32_t) noexcept {};
    d.next_refresh_ms = [](void*) noexcept -> int64_t { return 0; };
    p.result = [](void*, postern_probe_result*) noexcept {};
    EXPECT_EQ(problem(valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr)), "<accepted>");
    EXPECT_EQ(problem(valid(POSTERN_KIND_DISCOVERY, nullptr, &d, nullptr)), "<accepted>");
    EXPECT_EQ(problem(valid(POSTERN_KIND_PROBE, nullptr, nullptr, &p)), "<accepted>");
}

TEST(DescriptorCheck, AbiVersionIsCheckedFirst) {
    auto desc = valid(POSTERN_KIND_BALANCER, nullptr, nullptr, nullptr);  // also broken otherwise
    desc.abi_version = POSTERN_PLUGIN_ABI_VERSION + 1;
    desc.descriptor_size = 4;
    EXPECT_EQ(problem(desc), "built for plugin ABI 3 (this postern uses 2)");
    desc.abi_version = 0;
    EXPECT_EQ(problem(desc), "built for plugin ABI 0 (this postern uses 2)");
}

TEST(DescriptorCheck, RefusesATruncatedDescriptor) {
    auto b = balancerOps();
    auto desc = valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr);
    desc.descriptor_size = sizeof(postern_descriptor) - 8;
    EXPECT_NE(problem(desc).find("needs at least " + std::to_string(sizeof(postern_descriptor))),
              std::string::npos)
        << problem(desc);
    desc.descriptor_size = sizeof(postern_descriptor) + 16;  // a later minor ABI: fine
    EXPECT_EQ(problem(desc), "<accepted>");
}

TEST(DescriptorCheck, RefusesAnUnknownKind) {
    auto b = balancerOps();
    auto desc = valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr);
    desc.kind = 4;
    EXPECT_EQ(problem(desc), "unknown plugin kind 4 (expected 1 = balancer, 2 = discovery or 3 = probe)");
    desc.kind = 0;
    EXPECT_NE(problem(desc).find("unknown plugin kind 0"), std::string::npos);
}

TEST(DescriptorCheck, RefusesBadNames) {
    auto b = balancerOps();
    auto desc = valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr);
    desc.name = nullptr;
    EXPECT_EQ(problem(desc), "descriptor has no name");
    for (const char* bad : {"", "Round_Robin", "round-robin", "a b", "x.y", "\xc3\xa9t\xc3\xa9"}) {
        desc.name = bad;
        EXPECT_NE(problem(desc).find("invalid plugin name \"" + std::string(bad) + "\""), std::string::npos)
            << bad << ": " << problem(desc);
    }
    std::string too_long(65, 'a');
    desc.name = too_long.c_str();
    EXPECT_NE(problem(desc).find("longer than 64"), std::string::npos) << problem(desc);
    std::string longest(64, 'a');
    desc.name = longest.c_str();
    EXPECT_EQ(problem(desc), "<accepted>");
}

TEST(DescriptorCheck, RefusesAMissingOrBadVersion) {
    auto b = balancerOps();
    auto desc = valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr);
    desc.version = nullptr;
    EXPECT_EQ(problem(desc), "plugin \"my_plugin_2\" has no version");
    desc.version = "";
    EXPECT_NE(problem(desc).find("empty or over-long version"), std::string::npos);
    desc.version = "1.0\n";
    EXPECT_NE(problem(desc).find("non-printable"), std::string::npos);
}

TEST(DescriptorCheck, TheTableOfTheKindMustBeThereAndTheOthersNot) {
    auto b = balancerOps();
    auto d = discoveryOps();
    auto p = probeOps();
    EXPECT_EQ(problem(valid(POSTERN_KIND_BALANCER, nullptr, &d, nullptr)),
              "balancer plugin \"my_plugin_2\" has no balancer function table");
    EXPECT_EQ(problem(valid(POSTERN_KIND_DISCOVERY, &b, nullptr, nullptr)),
              "discovery plugin \"my_plugin_2\" has no discovery function table");
    EXPECT_EQ(problem(valid(POSTERN_KIND_PROBE, nullptr, nullptr, nullptr)),
              "probe plugin \"my_plugin_2\" has no probe function table");
    EXPECT_EQ(problem(valid(POSTERN_KIND_PROBE, &b, nullptr, &p)),
              "probe plugin \"my_plugin_2\" sets more than one function table (exactly one allowed)");
}

TEST(DescriptorCheck, EveryRequiredFunctionMustBeSet) {
    {
        auto b = balancerOps();
        b.pick = nullptr;
        EXPECT_EQ(problem(valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr)),
                  "balancer plugin \"my_plugin_2\": required function 'pick' is NULL in its function table");
        b = balancerOps();
        b.destroy_selector = nullptr;
        EXPECT_NE(problem(valid(POSTERN_KIND_BALANCER, &b, nullptr, nullptr)).find("'destroy_selector'"),
                  std::string::npos);
    }
    {
        auto d = discoveryOps();
        d.discover = nullptr;
        EXPECT_NE(problem(valid(POSTERN_KIND_DISCOVERY, nullptr, &d, nullptr)).find("'discover'"),
                  std::string::npos);
        d = discoveryOps();
        d.create = nullptr;
        EXPECT_NE(problem(valid(POSTERN_KIND_DISCOVERY, nullptr, &d, nullptr)).find("'create'"),
                  std::string::npos);
    }
    {
        auto p = probeOps();
        p.on_data = nullptr;
        EXPECT_NE(problem(valid(POSTERN_KIND_PROBE, nullptr, nullptr, &p)).find("'on_data'"),
                  std::string::npos);
        p = probeOps();
        p.session_destroy = nullptr;
        EXPECT_NE(problem(valid(POSTERN_KIND_PROBE, nullptr, nullptr, &p)).find("'session_destroy'"),
                  std::string::npos);
    }
}
