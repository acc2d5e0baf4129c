#include "cli.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "build_info.h"
#include "common/log.h"
#include "config/control_socket_lookup.h"
#include "config/loader.h"
#include "plugin/registry.h"
#include "server/control_protocol.h"
#include "server/demo.h"
#include "server/gateway.h"

namespace postern::service {

void Platform::error(std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
}

namespace {

int usage(std::FILE* out, int code, const Platform& platform) {
    std::fprintf(out,
                 "usage: postern <command> [options]\n"
                 "  run     [-c FILE]   run in the foreground (default config: %s;\n"
                 "                      without one, a built-in demo config)\n"
                 "  check    -c FILE    validate a config, print errors, exit 0 or 2\n"
                 "  plugins [-c FILE]   list the plugins found (kind, name, version, file)\n"
                 "  reload  [-c FILE] [--socket PATH]\n"
                 "                      ask the running instance to re-read its config, through\n"
                 "                      its control socket ([gateway] control_socket of FILE, or\n"
                 "                      of the default config; default %s);\n"
                 "                      exit 0 applied, 2 rejected (errors printed), 1 no\n"
                 "                      running instance\n"
                 "  status  [-c FILE] [--socket PATH]\n"
                 "                      print the running instance's /status JSON, read through\n"
                 "                      its control socket (found as for reload); exit 0, or 1\n"
                 "                      no running instance\n"
                 "  metrics [-c FILE] [--socket PATH]\n"
                 "                      print its /metrics (Prometheus text) the same way\n"
                 "  version [-v]        print the version (-v: with the compiler, the build\n"
                 "                      type, the library versions and the plugin ABI)\n",
                 platform.defaultConfigPath().string().c_str(), config::kDefaultControlSocket);
    auto extra = platform.usageExtra();
    if (!extra.empty()) std::fprintf(out, "%.*s", static_cast<int>(extra.size()), extra.data());
    return code;
}

config::LoadOptions loadOptions() {
    config::LoadOptions o;
    o.default_plugin_dirs = plugin::defaultPluginDirs();
    unsigned n = std::thread::hardware_concurrency();
    o.cpu_count = n ? n : 1;
    return o;
}

void printErrors(const std::vector<config::ConfigError>& errors, Platform& platform) {
    for (const auto& e : errors) platform.error(e.format());
}

int checkConfig(const std::string& path, Platform& platform) {
    plugin::Registry registry;
    auto loaded = config::loadConfigFile(path, registry, loadOptions());
    if (!loaded.errors.empty()) {
        printErrors(loaded.errors, platform);
        return 2;
    }
    std::printf("configuration ok\n");
    return 0;
}

int listPlugins(const std::string& path, bool have_path, Platform& platform) {
    plugin::Registry registry;
    std::vector<std::string> refused;
    if (have_path) {
        auto loaded = config::loadConfigFile(path, registry, loadOptions());
        if (!loaded.errors.empty()) {
            printErrors(loaded.errors, platform);
            return 2;
        }
    } else {
        refused = registry.scan(plugin::defaultPluginDirs());
    }
    std::printf("%-10s %-20s %-10s %s\n", "KIND", "NAME", "VERSION", "FILE");
    for (const auto* p : registry.plugins())
        std::printf("%-10s %-20s %-10s %s\n", std::string(plugin::kindName(p->kind)).c_str(),
                    p->name.c_str(), p->version.c_str(), p->file.string().c_str());
    for (const auto& r : refused) std::fprintf(stderr, "refused: %s\n", r.c_str());
    return 0;
}

/** ReloadResult::warnings (keys that need a restart), when this build's ReloadResult has them. */
template <class Result>
std::vector<std::string> reloadWarnings(const Result& r) {
    if constexpr (requires { r.warnings; })
        return std::vector<std::string>(r.warnings.begin(), r.warnings.end());
    else
        return {};
}

/** The running instance's control socket, as `postern reload | status | metrics` find it:
 * --socket, else [gateway] control_socket of -c FILE (or of the default config), else the
 * default. False (message printed) when that config turns the socket off. */
bool findControlSocket(std::string_view command, const std::string& config_path, bool have_config,
                       const std::string& socket, bool have_socket, Platform& platform,
                       std::string* path, std::string* origin) {
    *path = socket;
    *origin = "--socket";
    if (have_socket) return true;
    const std::filesystem::path file =
        have_config ? std::filesystem::path(config_path) : platform.defaultConfigPath();
    std::error_code ec;
    if (have_config || std::filesystem::exists(file, ec)) {
        std::string why;
        auto found = config::lookupControlSocket(file, &why);
        if (!found) {
            // The file being reloaded may be the broken one: the running instance reports
            // its errors. Only its control_socket key is unknown: try the default.
            *path = config::kDefaultControlSocket;
            *origin = "the default; [gateway] control_socket could not be read from " + why;
        } else if (found->off) {
            platform.error("postern: " + file.string() +
                           " sets [gateway] control_socket = \"off\": the running instance "
                           "has no control socket (" +
                           (command == "reload" ? std::string("send it SIGHUP to reload")
                                                : "read /" + std::string(command) +
                                                      " from its admin endpoint, [admin] bind") +
                           ")");
            return false;
        } else {
            *path = found->path;
            *origin = found->from_default ? "the default; " + file.string() + " does not set it"
                                          : "[gateway] control_socket in " + file.string();
        }
    } else {
        *path = config::kDefaultControlSocket;
        *origin = "the default; no " + file.string();
    }
    return true;
}

/** Sends `request` (one line, no newline) on the control socket; the decoded reply, or nullopt
 * with the reason printed (no running instance, unreachable, a garbled reply). */
std::optional<server::ControlReply> askInstance(std::string_view request, const std::string& path,
                                                const std::string& origin, Platform& platform) {
    std::string error;
    bool no_instance = false;
    auto text = platform.controlRequest(path, std::string(request) + "\n", &error, &no_instance);
    if (!text) {
        if (no_instance)
            platform.error(
                "postern: no running instance found: nothing answers on the control "
                "socket " +
                path + " (" + origin + "): " + error);
        else
            platform.error("postern: cannot reach the running instance on the control socket " +
                           path + " (" + origin + "): " + error);
        return std::nullopt;
    }
    auto reply = server::decodeControlReply(*text, &error);
    if (!reply) {
        platform.error("postern: unexpected reply on the control socket " + path + ": " + error);
        return std::nullopt;
    }
    return reply;
}

/** `postern reload`: finds the control socket, asks, prints the answer. */
int reloadInstance(const std::string& config_path, bool have_config, const std::string& socket,
                   bool have_socket, Platform& platform) {
    std::string path;
    std::string origin;
    if (!findControlSocket("reload", config_path, have_config, socket, have_socket, platform, &path,
                           &origin))
        return 1;
    auto reply = askInstance(server::kControlReloadRequest, path, origin, platform);
    if (!reply) return 1;
    for (const auto& w : reply->warnings) platform.error("warning: " + w);
    switch (reply->status) {
        case server::ControlReply::Status::Applied:
            std::printf("configuration reloaded: generation %llu is serving%s\n",
                        static_cast<unsigned long long>(reply->generation),
                        reply->warnings.empty() ? "" : " (see the warnings)");
            break;
        case server::ControlReply::Status::Rejected:
            for (const auto& e : reply->errors) platform.error(e);
            platform.error("postern: reload rejected: " + std::to_string(reply->errors.size()) +
                           " error(s); the running configuration (generation " +
                           std::to_string(reply->generation) + ") is unchanged");
            break;
        case server::ControlReply::Status::Failed:
            for (const auto& e : reply->errors) platform.error("postern: " + e);
            break;
        case server::ControlReply::Status::Data:
            platform.error("postern: unexpected reply on the control socket " + path +
                           ": a document instead of a reload result");
            return 1;
    }
    return server::controlExitCode(*reply);
}

/** `postern status` / `postern metrics`: the document GET /status or /metrics answers, on
 * stdout (with a final newline when it has none). */
int readInstance(std::string_view command, const std::string& config_path, bool have_config,
                 const std::string& socket, bool have_socket, Platform& platform) {
    std::string path;
    std::string origin;
    if (!findControlSocket(command, config_path, have_config, socket, have_socket, platform, &path,
                           &origin))
        return 1;
    auto reply = askInstance(command, path, origin, platform);
    if (!reply) return 1;
    for (const auto& w : reply->warnings) platform.error("warning: " + w);
    if (reply->status != server::ControlReply::Status::Data) {
        for (const auto& e : reply->errors) platform.error("postern: " + e);
        if (reply->errors.empty())
            platform.error("postern: unexpected reply on the control socket " + path +
                           ": a reload result instead of the " + std::string(command));
        return 1;
    }
    const std::string& body = reply->body;
    if (std::fwrite(body.data(), 1, body.size(), stdout) != body.size() ||
        ((body.empty() || body.back() != '\n') && std::fputc('\n', stdout) == EOF) ||
        std::fflush(stdout) != 0) {
        platform.error("postern: cannot write the " + std::string(command) + " to stdout");
        return 1;
    }
    return 0;
}

}  // namespace

int runGateway(const std::string& config_path, bool have_path, Platform& platform) {
    auto registry = std::make_unique<plugin::Registry>();
    auto options = loadOptions();
    const std::filesystem::path default_config = platform.defaultConfigPath();
    config::LoadResult loaded;
    bool demo = false;
    if (have_path || std::filesystem::exists(default_config)) {
        loaded = config::loadConfigFile(
            have_path ? std::filesystem::path(config_path) : default_config, *registry, options);
    } else {
        demo = true;
        POSTERN_LOG(Info, "no config file given and none installed: running the built-in demo",
                    "default_config=" + common::logfmtValue(default_config.string()));
        loaded = config::loadConfigText(server::demoConfigText(), "<demo>",
                                        std::filesystem::current_path(), *registry, options);
    }
    if (!loaded.errors.empty()) {
        printErrors(loaded.errors, platform);
        return 2;
    }
    server::DemoBackends demo_backends;
    if (demo) {
        std::string err;
        if (!demo_backends.start(&err)) {
            POSTERN_LOG(Error, "cannot start the demo backends",
                        "error=" + common::logfmtValue(err));
            return 1;
        }
    }
    // The gateway owns the registry, so it must outlive every object made by a plugin: the config
    // (it holds the plugin instances) is declared after it and therefore released first.
    server::Gateway gateway(std::move(registry));
    std::shared_ptr<const config::Config> config = std::move(loaded.config);
    std::string error;
    if (!gateway.start(config, &error)) {
        platform.error("postern: " + error);
        return 1;
    }
    if (!platform.started(*config, &error)) {
        platform.error("postern: " + error);
        gateway.shutdown();
        return 1;
    }
    if (demo) {
        std::fprintf(
            stderr,
            "\nPostern demo is running: 127.0.0.1:8080 -> demo backends 127.0.0.1:9001, "
            "127.0.0.1:9002\n"
            "Try it from another terminal:\n"
            "  curl http://127.0.0.1:8080/        (run it twice: round robin alternates backends)\n"
            "  printf 'hello\\n' | nc -q1 127.0.0.1 8080\n"
            "Dashboard: http://127.0.0.1:9901/   metrics: curl http://127.0.0.1:9901/metrics\n"
            "Stop with Ctrl-C.\n\n");
    }
    const std::filesystem::path reload_path =
        demo ? std::filesystem::path() : have_path ? std::filesystem::path(config_path) : default_config;
    RunControl control;
    control.reload = [&](const std::string& origin) {
        server::ControlReply reply;
        if (demo) {
            reply.status = server::ControlReply::Status::Rejected;
            reply.generation = 1;
            reply.errors.push_back(
                "the built-in demo config has no file to re-read (start postern with -c FILE)");
            POSTERN_LOG(Warn, "reload ignored: the built-in demo config has no file to re-read",
                        "origin=" + common::logfmtValue(origin));
            return reply;
        }
        const server::ReloadResult r = gateway.reload(reload_path, options);
        reply.generation = r.generation;
        reply.warnings = reloadWarnings(r);
        reply.errors = r.errors;
        const std::string fields = "file=" + common::logfmtValue(reload_path.string()) +
                                   " origin=" + common::logfmtValue(origin) +
                                   " generation=" + std::to_string(r.generation);
        if (r.applied) {
            reply.status = server::ControlReply::Status::Applied;
            POSTERN_LOG(Info, "configuration reloaded", fields);
        } else {
            reply.status = server::ControlReply::Status::Rejected;
            POSTERN_LOG(Error,
                        "configuration reload rejected; the running configuration is unchanged",
                        fields + " errors=" + std::to_string(r.errors.size()));
            for (const auto& e : r.errors)
                POSTERN_LOG(Error, "reload error", "error=" + common::logfmtValue(e));
        }
        for (const auto& w : reply.warnings)
            POSTERN_LOG(Warn, "reload warning", "warning=" + common::logfmtValue(w));
        return reply;
    };
    control.reopen_logs = [&] {
        std::string e;
        if (gateway.reopenLogs(&e))
            POSTERN_LOG(Info, "log files reopened", "");
        else
            POSTERN_LOG(Error, "log file not reopened; its lines keep going to the old file",
                        "error=" + common::logfmtValue(e));
    };
    control.abort_drain = [&] { gateway.abortDrain(); };
    // `postern status | metrics`: read on the control channel's thread (Gateway::snapshot() is
    // any-thread), whether or not [admin] bind is set.
    control.status_json = [&gateway] { return gateway.statusJson(); };
    control.metrics_text = [&gateway] { return gateway.metricsText(); };
    // POST /reload of the admin endpoint: the same queue as SIGHUP and `postern reload`.
    gateway.setReloadRequester([&platform](std::function<void(const server::ControlReply&)> reply) {
        return platform.requests().post(
            {RequestQueue::Kind::Reload, "admin API", std::move(reply)});
    });
    platform.waitForStop(control);
    platform.stopping();
    gateway.shutdown();
    platform.stopped();
    return 0;
}

int runCli(const std::vector<std::string>& args, Platform& platform) {
    if (args.empty()) return usage(stderr, 2, platform);
    const std::string& cmd = args[0];
    std::string config;
    bool have_config = false;
    std::string socket;
    bool have_socket = false;
    std::string service;
    bool have_service = false;
    bool verbose = false;
    const bool talks_to_instance = cmd == "reload" || cmd == "status" || cmd == "metrics";
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        if ((a == "-c" || a == "--config") && i + 1 < args.size()) {
            config = args[++i];
            have_config = true;
        } else if (a.rfind("--config=", 0) == 0) {
            config = a.substr(9);
            have_config = true;
        } else if (talks_to_instance && a == "--socket" && i + 1 < args.size()) {
            socket = args[++i];
            have_socket = true;
        } else if (talks_to_instance && a.rfind("--socket=", 0) == 0) {
            socket = a.substr(9);
            have_socket = true;
        } else if (cmd == "reload" && a == "--service") {
            service = i + 1 < args.size() && args[i + 1].rfind("-", 0) != 0 ? args[++i] : "postern";
            have_service = true;
        } else if ((cmd == "version" || cmd == "--version") && (a == "-v" || a == "--verbose")) {
            verbose = true;
        } else if (a == "-h" || a == "--help") {
            return usage(stdout, 0, platform);
        } else {
            std::fprintf(stderr, "postern: unknown argument '%s'\n", a.c_str());
            return usage(stderr, 2, platform);
        }
    }
    try {
        if (cmd == "run") return runGateway(config, have_config, platform);
        if (cmd == "check") {
            if (!have_config) {
                std::fprintf(stderr, "postern: check needs -c FILE\n");
                return 2;
            }
            return checkConfig(config, platform);
        }
        if (cmd == "plugins") return listPlugins(config, have_config, platform);
        if (cmd == "version" || cmd == "--version") {
            if (verbose)
                std::fputs(buildDetails().c_str(), stdout);
            else
                std::printf("postern %s\n", POSTERN_VERSION);
            return 0;
        }
        if (cmd == "reload" && have_service) return platform.reloadService(service);
        if (cmd == "reload")
            return reloadInstance(config, have_config, socket, have_socket, platform);
        if (cmd == "status" || cmd == "metrics")
            return readInstance(cmd, config, have_config, socket, have_socket, platform);
        if (cmd == "help" || cmd == "-h" || cmd == "--help") return usage(stdout, 0, platform);
    } catch (const std::exception& e) {
        platform.error(std::string("postern: fatal: ") + e.what());
        return 1;
    }
    std::fprintf(stderr, "postern: unknown command '%s'\n", cmd.c_str());
    return usage(stderr, 2, platform);
}

}  // namespace postern::service
