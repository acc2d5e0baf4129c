// postern: command line, signals and process glue. No logic worth a unit test lives here.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "common/log.h"
#include "config/loader.h"
#include "plugin/registry.h"
#include "server/demo.h"
#include "server/gateway.h"

namespace {

constexpr const char* kDefaultConfig = "/etc/postern/postern.toml";

int usage(std::FILE* out, int code) {
    std::fprintf(out,
                 "usage: postern <command> [options]\n"
                 "  run     [-c FILE]   run in the foreground (default config: %s;\n"
                 "                      without one, a built-in demo config)\n"
                 "  check    -c FILE    validate a config, print errors, exit 0 or 2\n"
                 "  plugins [-c FILE]   list the plugins found (kind, name, version, file)\n"
                 "  reload              ask the running instance to reload (not supported yet)\n"
                 "  version             print the version\n",
                 kDefaultConfig);
    return code;
}

postern::config::LoadOptions loadOptions() {
    postern::config::LoadOptions o;
    o.default_plugin_dirs = postern::plugin::defaultPluginDirs();
    unsigned n = std::thread::hardware_concurrency();
    o.cpu_count = n ? n : 1;
    return o;
}

void printErrors(const std::vector<postern::config::ConfigError>& errors) {
    for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.format().c_str());
}

int runGateway(const std::string& config_path, bool have_path) {
    auto registry = std::make_unique<postern::plugin::Registry>();
    auto options = loadOptions();
    postern::config::LoadResult loaded;
    bool demo = false;
    if (have_path || std::filesystem::exists(kDefaultConfig)) {
        loaded = postern::config::loadConfigFile(have_path ? config_path : kDefaultConfig, *registry, options);
    } else {
        demo = true;
        POSTERN_LOG(Info, "no config file given and none installed: running the built-in demo",
                    std::string("default_config=") + kDefaultConfig);
        loaded = postern::config::loadConfigText(postern::server::demoConfigText(), "<demo>",
                                                 std::filesystem::current_path(), *registry, options);
    }
    if (!loaded.errors.empty()) {
        printErrors(loaded.errors);
        return 2;
    }
    postern::server::DemoBackends demo_backends;
    if (demo) {
        std::string err;
        if (!demo_backends.start(&err)) {
            POSTERN_LOG(Error, "cannot start the demo backends", "error=" + postern::common::logfmtValue(err));
            return 1;
        }
    }
    postern::server::Gateway gateway(std::move(registry));
    std::string error;
    if (!gateway.start(loaded.config, &error)) {
        std::fprintf(stderr, "postern: %s\n", error.c_str());
        return 1;
    }
    if (demo) {
        std::fprintf(stderr,
                     "\nPostern demo is running: 127.0.0.1:8080 -> demo backends 127.0.0.1:9001, 127.0.0.1:9002\n"
                     "Try it from another terminal:\n"
                     "  curl http://127.0.0.1:8080/        (run it twice: round robin alternates backends)\n"
                     "  printf 'hello\\n' | nc -q1 127.0.0.1 8080\n"
                     "Stop with Ctrl-C.\n\n");
    }
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&set, s);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            POSTERN_LOG(Warn, "SIGHUP received: configuration reload is not supported yet; ignored", "");
            continue;
        }
        POSTERN_LOG(Info, "signal received", std::string("signal=") + strsignal(sig));
        break;
    }
    gateway.shutdown();
    return 0;
}

int checkConfig(const std::string& path) {
    postern::plugin::Registry registry;
    auto loaded = postern::config::loadConfigFile(path, registry, loadOptions());
    if (!loaded.errors.empty()) {
        printErrors(loaded.errors);
        return 2;
    }
    std::printf("configuration ok\n");
    return 0;
}

int listPlugins(const std::string& path, bool have_path) {
    postern::plugin::Registry registry;
    std::vector<std::string> refused;
    if (have_path) {
        auto loaded = postern::config::loadConfigFile(path, registry, loadOptions());
        if (!loaded.errors.empty()) {
            printErrors(loaded.errors);
            return 2;
        }
    } else {
        refused = registry.scan(postern::plugin::defaultPluginDirs());
    }
    std::printf("%-10s %-20s %-10s %s\n", "KIND", "NAME", "VERSION", "FILE");
    for (const auto* p : registry.plugins())
        std::printf("%-10s %-20s %-10s %s\n", std::string(postern::plugin::kindName(p->kind)).c_str(),
                    p->name.c_str(), p->version.c_str(), p->file.string().c_str());
    for (const auto& r : refused) std::fprintf(stderr, "refused: %s\n", r.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // Before any thread exists: signals are taken by sigwait() in runGateway, never delivered
    // asynchronously, and SIGPIPE never kills the process.
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE}) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    if (argc < 2) return usage(stderr, 2);
    std::string cmd = argv[1];
    std::string config;
    bool have_config = false;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if ((a == "-c" || a == "--config") && i + 1 < argc) {
            config = argv[++i];
            have_config = true;
        } else if (a.rfind("--config=", 0) == 0) {
            config = a.substr(9);
            have_config = true;
        } else if (a == "-h" || a == "--help") {
            return usage(stdout, 0);
        } else {
            std::fprintf(stderr, "postern: unknown argument '%s'\n", a.c_str());
            return usage(stderr, 2);
        }
    }
    try {
        if (cmd == "run") return runGateway(config, have_config);
        if (cmd == "check") {
            if (!have_config) {
                std::fprintf(stderr, "postern: check needs -c FILE\n");
                return 2;
            }
            return checkConfig(config);
        }
        if (cmd == "plugins") return listPlugins(config, have_config);
        if (cmd == "version" || cmd == "--version") {
            std::printf("postern %s\n", POSTERN_VERSION);
            return 0;
        }
        if (cmd == "reload") {
            std::fprintf(stderr, "postern: reload is not supported yet (send SIGHUP later releases)\n");
            return 2;
        }
        if (cmd == "help" || cmd == "-h" || cmd == "--help") return usage(stdout, 0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "postern: fatal: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "postern: unknown command '%s'\n", cmd.c_str());
    return usage(stderr, 2);
}
