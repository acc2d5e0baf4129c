// postern_out_of_tree_check <plugin file>: loads a plugin built outside postern's tree (against the
// installed SDK only) through the Registry and drives it through the C ABI: kind, name and version
// must be those of tests/support/out_of_tree_plugin, and one probe session must behave. Exit 0 on
// success, 1 with a message on the first failed check.
#include <cstdio>
#include <string>

#include "plugin/registry.h"
#include "support/plugins/fake_config.h"

using postern::testing::FakeConfig;
using postern::testing::Value;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++failures;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s <plugin file>\n", argv[0]);
        return 2;
    }
    postern::plugin::Registry registry;
    if (auto refused = registry.load(argv[1])) {
        std::printf("FAIL load: %s\n", refused->c_str());
        return 1;
    }
    auto plugins = registry.plugins();
    check(plugins.size() == 1, "exactly one plugin loaded");
    if (plugins.size() != 1) return 1;
    const auto& p = *plugins.front();
    check(p.kind == POSTERN_KIND_PROBE, "kind is probe");
    check(p.name == "oot_banner", "name is oot_banner (got " + p.name + ")");
    check(p.version == "0.3.1", "version is 0.3.1 (got " + p.version + ")");
    check(!p.build_id.empty(), "build id is set (" + p.build_id + ")");
    check(registry.find(POSTERN_KIND_PROBE, "oot_banner") == &p, "find() returns it");
    if (failures) return 1;

    // A bad config is reported through the host's config view, and no object comes back.
    {
        FakeConfig bad(Value::table({{"expect", Value::integer(3)}}));
        void* probe = p.descriptor->probe->create(bad.raw(), registry.host(p));
        check(probe == nullptr, "create() with expect = 3 returns NULL");
        check(bad.errors().size() == 1 && bad.errors()[0].position == "expect" &&
                  bad.errors()[0].message == "expect must be a non-empty string",
              "the error is reported at 'expect'");
    }

    FakeConfig config(Value::table({{"expect", Value::string("PONG")}}));
    void* raw = p.descriptor->probe->create(config.raw(), registry.host(p));
    check(raw != nullptr && config.errors().empty(), "create() with expect = \"PONG\" succeeds");
    if (!raw) return 1;
    postern::plugin::Probe probe(&p, raw);
    auto transport = probe.transport();
    check(transport.tls == 0, "transport is plain TCP");

    const std::string host = "127.0.0.1";
    postern_backend backend{1, {host.data(), host.size()}, {host.data(), host.size()}, 7, 1, 0, {nullptr, 0}};
    {
        auto session = probe.newSession(backend);
        check(session != nullptr, "newSession() works");
        if (!session) return 1;
        std::string send;
        check(session->onConnected(send) == POSTERN_VERDICT_NEED_MORE, "onConnected asks for more");
        check(send == "PING\r\n", "onConnected writes PING");
        send.clear();
        check(session->onData("PO", false, send) == POSTERN_VERDICT_NEED_MORE, "a partial reply needs more");
        check(session->onData("NG ready", false, send) == POSTERN_VERDICT_HEALTHY, "PONG is healthy");
    }
    {
        auto session = probe.newSession(backend);
        std::string send;
        session->onConnected(send);
        check(session->onData("NOPE", false, send) == POSTERN_VERDICT_UNHEALTHY, "NOPE is unhealthy");
        auto result = session->result();
        std::string reason(result.reason.data, result.reason.size);
        check(reason == "unexpected reply \"NOPE\"", "the reason says why (" + reason + ")");
    }
    std::printf("%s\n", failures ? "out-of-tree plugin check FAILED" : "out-of-tree plugin check passed");
    return failures ? 1 : 0;
}
