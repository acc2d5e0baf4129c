// libFuzzer target for the TOML config loader, the code `postern check` and every reload run on a
// file someone wrote: the fuzz input is the file's text. It is loaded the way the service loads it
// (loadConfigText: toml++, every table reader, the TLS checks that read certificate files, the
// plugin binder that scans the built-in plugins of this tree and lets each validate its table),
// relative paths resolving in a private temporary directory that holds a small PKI under certs/.
// Errors are expected; besides "no crash, no sanitizer report, no leak, no hang" it checks the
// loader's contract: a config xor errors, every error positioned (line and column from 1) and
// worded, the list sorted by position.
//
// POSTERN_FUZZ_VERBOSE=1 prints each input's errors (or "valid"), to check what seeds reach:
//   POSTERN_FUZZ_VERBOSE=1 build-fuzz/bin/config_loader_fuzz tests/fuzz/corpus/config_loader/*
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/log.h"
#include "config/loader.h"
#include "fuzz_pki.h"
#include "plugin/registry.h"

namespace {

namespace fs = std::filesystem;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "contract violated: %s\n", what);
        std::abort();
    }
}

struct Fixture {
    fs::path dir;  ///< base directory of the "file"; certs/ inside
    postern::plugin::Registry registry;
    postern::config::LoadOptions options;
};

/** The base directory with its certificates: server.pem/.key (ECDSA; example.com and
 * *.example.com), rsa.pem/.key, ed25519.pem/.key, client.pem/.key (clientAuth), ca.pem (the CA of
 * all of them), a key that matches none of them (stray.key), server's chain (chain.pem: leaf + CA)
 * and its key encrypted (encrypted.key); plugins/ links to the built-in
 * plugins. One Registry for the process:
 * plugin libraries stay loaded anyway, as in the service across reloads. */
Fixture& fixture() {
    static Fixture* f = [] {
        postern::common::Log::setLevel(postern::common::LogLevel::Error);
        auto* fx = new Fixture();
        fx->dir = postern::fuzz::makeTempDir("postern-config-fuzz-");
        const fs::path certs = fx->dir / "certs";
        fs::create_directory(certs);
        using postern::fuzz::KeyKind;
        postern::fuzz::FuzzPki pki;
        auto write = [&](const std::string& name, const postern::fuzz::PemPair& pair) {
            postern::fuzz::writeFile(certs / (name + ".pem"), pair.cert);
            postern::fuzz::writeFile(certs / (name + ".key"), pair.key);
        };
        const auto server = pki.issue({"example.com", "*.example.com"}, KeyKind::EcdsaP256);
        write("server", server);
        postern::fuzz::writeFile(certs / "chain.pem", server.cert + pki.ca().cert);
        postern::fuzz::writeFile(certs / "encrypted.key",
                                 postern::fuzz::encryptedKey(server.key, "secret"));
        write("rsa", pki.issue({"rsa.example.org"}, KeyKind::Rsa2048));
        write("ed25519", pki.issue({"ed.example.net"}, KeyKind::Ed25519));
        write("client", pki.issue({"client"}, KeyKind::EcdsaP256, /*server=*/false));
        postern::fuzz::writeFile(certs / "ca.pem", pki.ca().cert);
        postern::fuzz::writeFile(certs / "stray.key", pki.issue({}, KeyKind::EcdsaP256).key);
        // plugin_dirs = ["plugins"] finds the built-in plugins, as the default directory does.
        fs::create_directory_symlink(POSTERN_FUZZ_PLUGIN_DIR, fx->dir / "plugins");
        fx->options.default_plugin_dirs = {POSTERN_FUZZ_PLUGIN_DIR};
        fx->options.cpu_count = 2;
        return fx;
    }();
    return *f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fixture();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Fixture& fx = fixture();
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto result =
        postern::config::loadConfigText(text, "fuzz.toml", fx.dir, fx.registry, fx.options);
    check((result.config != nullptr) != !result.errors.empty(), "a config xor errors");
    for (std::size_t i = 0; i < result.errors.size(); ++i) {
        const auto& e = result.errors[i];
        check(e.line >= 1 && e.column >= 1, "an error without a position");
        check(!e.message.empty(), "an error without a message");
        check(e.file == "fuzz.toml", "an error names another file");
        if (i > 0) {
            const auto& p = result.errors[i - 1];
            check(p.line < e.line || (p.line == e.line && p.column <= e.column),
                  "errors not sorted");
        }
        check(!e.format().empty(), "format");
    }
    if (result.config) check(result.config->file.empty(), "a config from text names a file");
    static const bool verbose = std::getenv("POSTERN_FUZZ_VERBOSE") != nullptr;
    if (verbose) {
        if (result.config) std::fprintf(stderr, "valid\n");
        for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.format().c_str());
    }
    return 0;
}
