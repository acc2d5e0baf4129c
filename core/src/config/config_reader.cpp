#include "config/config_reader.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <sstream>
#include <system_error>
#include <vector>

#ifndef _WIN32
#include <pwd.h>
#endif

#include "common/host_pattern.h"
#include "common/host_port.h"
#include "common/log.h"
#include "net/socket_address.h"
#include "tls/client_tls_context.h"

namespace postern::config {

namespace {

constexpr std::int64_t kMaxWorkers = 1024;
constexpr std::int64_t kMaxRetries = 100;
constexpr std::int64_t kMaxUint32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kMaxKeepalive = 1'000'000;

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.x.x) or "localhost": reachable from this host only. */
bool isLoopbackHost(const std::string& host) {
    if (host == "localhost") return true;
    auto addr = net::SocketAddress::fromIp(host, 0);
    if (!addr) return false;
    const std::string ip = addr->ip();
    if (!addr->isIpv6()) return ip.rfind("127.", 0) == 0;
    return ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}
constexpr std::size_t kMaxRoutes = 10'000;

const char* protocolName(ListenerProtocol p) {
    switch (p) {
        case ListenerProtocol::Tcp:
            return "tcp";
        case ListenerProtocol::Tls:
            return "tls";
        case ListenerProtocol::Http:
            return "http";
        case ListenerProtocol::Https:
            return "https";
    }
    return "?";
}

/** Whether a request or connection that `inner` matches is always taken by `outer` first. */
bool routeCovers(const RouteConfig& outer, const RouteConfig& inner) {
    auto covers = [](const std::string& o, const std::string& i) {
        return o.empty() || (!i.empty() && common::patternCovers(o, i));
    };
    return covers(outer.host, inner.host) && covers(outer.sni, inner.sni) &&
           inner.path_prefix.compare(0, outer.path_prefix.size(), outer.path_prefix) == 0;
}

bool isValidName(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    });
}

std::string lowercase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

template <typename V>
std::vector<std::string> keysOf(const std::map<std::string, V>& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
}

/** Why `run` could not open (create) the log file of `key` at `path` (`written` as the config has
 * it, for the message), found without creating anything; nullopt when it can. Whether the user
 * postern runs as may write there is not decided here: `check` may run as another user, and
 * `run` opens the file before it drops privileges. */
std::optional<std::string> logPathProblem(std::string_view key, const std::filesystem::path& path,
                                          const std::string& written) {
    const std::string k = "'" + std::string(key) + "'";
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (std::filesystem::is_directory(status))
        return k + ": \"" + written + "\" is a directory (name a file in it)";
    if (std::filesystem::exists(status)) return std::nullopt;  // appended to
    const std::filesystem::path dir = path.parent_path();
    std::string dir_written = std::filesystem::path(written).parent_path().string();
    if (dir_written.empty()) dir_written = dir.string();
    const auto dir_status = std::filesystem::status(dir, ec);
    if (!std::filesystem::exists(dir_status))
        return k + ": directory \"" + dir_written +
               "\" does not exist (create it, writable by the user postern runs as)";
    if (!std::filesystem::is_directory(dir_status))
        return k + ": \"" + dir_written + "\" is not a directory";
    return std::nullopt;
}

std::string formatNumber(double v) {
    std::ostringstream out;
    out << v;
    return out.str();
}

}  // namespace

ConfigReader::ConfigReader(const toml::table& root, std::filesystem::path base_dir,
                           plugin::Registry& registry, const LoadOptions& options,
                           Diagnostics& diag)
    : root_(root),
      base_dir_(std::move(base_dir)),
      registry_(registry),
      options_(options),
      diag_(diag),
      config_(std::make_shared<Config>()),
      tls_(base_dir_, diag) {}

std::shared_ptr<Config> ConfigReader::read() {
    TableReader root(&root_, "", SourcePos{1, 1}, diag_);
    const toml::table* gateway = root.table("gateway");
    readGateway(gateway, root.valuePos("gateway"));
    const toml::table* log = root.table("log");
    readLog(log, root.valuePos("log"));
    const toml::table* admin = root.table("admin");
    readAdmin(admin, root.valuePos("admin"));
    readPools(root);
    readListeners(root);
    root.finish();
    resolvePoolReferences();
    createPlugins();
    tls_.build(*config_);
    if (!diag_.empty()) return nullptr;
    return config_;
}

std::filesystem::path ConfigReader::resolvePath(const std::string& path) const {
    std::filesystem::path p(path);
    if (p.is_relative()) p = base_dir_ / p;
    return p.lexically_normal();
}

// ---- [gateway] [log] [admin] -------------------------------------------------------------------

void ConfigReader::readGateway(const toml::table* table, SourcePos pos) {
    TableReader r(table, "[gateway]", pos, diag_);
    GatewayConfig& g = config_->gateway;

    g.workers = options_.cpu_count > 0 ? options_.cpu_count : 1;
    if (auto workers = r.integer("workers", 0, kMaxWorkers); workers && *workers > 0)
        g.workers = static_cast<unsigned>(*workers);

    if (const toml::node* dirs_node = r.get("plugin_dirs")) {
        auto dirs = r.stringArray("plugin_dirs");
        if (!dirs) {
            plugin_dirs_valid_ = false;
        } else if (dirs->empty()) {
            diag_.error(*dirs_node,
                        "'plugin_dirs' must not be empty (leave it out to use the built-in "
                        "plugin directory)");
            plugin_dirs_valid_ = false;
        } else {
            for (const auto& dir : *dirs) {
                if (dir.value.empty()) {
                    diag_.error(dir.pos, "'plugin_dirs' entries must not be empty");
                    plugin_dirs_valid_ = false;
                    continue;
                }
                g.plugin_dirs.push_back(resolvePath(dir.value));
            }
        }
    } else {
        // The defaults come from the program (next to the binary), not from the file: a relative
        // one is relative to the current directory.
        for (const auto& dir : options_.default_plugin_dirs) {
            std::error_code ec;
            std::filesystem::path absolute = std::filesystem::absolute(dir, ec);
            g.plugin_dirs.push_back((ec ? dir : absolute).lexically_normal());
        }
    }

    if (auto max = r.integer("max_connections", 1))
        g.max_connections = static_cast<std::uint64_t>(*max);
    if (auto region = r.string("region")) g.region = *region;
    // Accepted on Windows too (one file for both); there it changes nothing.
    if (auto splice = r.boolean("splice")) g.splice = *splice;
    if (auto socket = r.string("control_socket")) readControlSocket(r, *socket, g);
    if (auto user = r.string("user"); user && !user->empty()) {
#ifdef _WIN32
        diag_.error(r.valuePos("user"),
                    "'user' is not supported on Windows (the service runs as the account its "
                    "service configuration names)");
#else
        // Checked here so `postern check` finds it; the switch itself happens after binding.
        std::vector<char> buf(16384);
        passwd pw{};
        passwd* found = nullptr;
        if (::getpwnam_r(user->c_str(), &pw, buf.data(), buf.size(), &found) != 0 || !found)
            diag_.error(r.valuePos("user"), "user '" + *user + "' does not exist");
        else
            g.user = *user;
#endif
    }
    r.finish();
}

void ConfigReader::readControlSocket(TableReader& r, const std::string& value, GatewayConfig& g) {
    g.control_socket_set = true;
    if (value == "off") {
        g.control_socket.clear();
        return;
    }
    if (value.empty()) {
        diag_.error(r.valuePos("control_socket"),
                    "'control_socket' must not be empty (use \"off\" for no control socket)");
        return;
    }
#ifdef _WIN32
    constexpr std::string_view kPipePrefix = "\\\\.\\pipe\\";
    const bool is_pipe =
        value.size() > kPipePrefix.size() &&
        std::equal(kPipePrefix.begin(), kPipePrefix.end(), value.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
        });
    if (!is_pipe) {
        diag_.error(
            r.valuePos("control_socket"),
            "'control_socket' on Windows is a named pipe, \\\\.\\pipe\\NAME (got '" + value + "')");
        return;
    }
    g.control_socket = value;
#else
    const std::string path = resolvePath(value).string();
    // sockaddr_un::sun_path: 108 bytes with the terminating NUL.
    constexpr std::size_t kMaxSocketPath = 107;
    if (path.size() > kMaxSocketPath) {
        diag_.error(r.valuePos("control_socket"),
                    "'control_socket' path '" + path + "' is " + std::to_string(path.size()) +
                        " bytes long; a Unix socket path has at most " +
                        std::to_string(kMaxSocketPath));
        return;
    }
    g.control_socket = path;
#endif
}

void ConfigReader::readLog(const toml::table* table, SourcePos pos) {
    TableReader r(table, "[log]", pos, diag_);
    LogConfig& l = config_->log;
    if (auto level = r.string("level")) {
        if (auto parsed = common::parseLogLevel(*level))
            l.level = *parsed;
        else
            r.invalidChoice("level", *level, {"trace", "debug", "info", "warn", "error"});
    }
    if (auto file = r.string("file")) {
        if (file->empty())
            diag_.error(r.valuePos("file"),
                        "'file' must not be empty (leave it out to log to stderr)");
        else if (auto problem = logPathProblem("file", resolvePath(*file), *file))
            diag_.error(r.valuePos("file"), *problem);
        else
            l.file = resolvePath(*file).string();
    }
    if (auto access = r.string("access")) {
        if (access->empty())
            diag_.error(r.valuePos("access"),
                        "'access' must not be empty (use \"off\" to disable the access log)");
        else if (*access == "syslog")
#ifdef _WIN32
            diag_.error(r.valuePos("access"),
                        "access log \"syslog\" is not available on Windows (use a file path or "
                        "\"off\"; postern's own log goes to the Event Log)");
#else
            l.access = *access;
#endif
        else if (*access == "stdout" || *access == "stderr" || *access == "off")
            l.access = *access;
        else if (auto problem = logPathProblem("access", resolvePath(*access), *access))
            diag_.error(r.valuePos("access"), *problem);
        else
            l.access = resolvePath(*access).string();
    }
    if (auto format = r.string("format")) {
        if (*format == "logfmt")
            l.format = AccessFormat::Logfmt;
        else if (*format == "json")
            l.format = AccessFormat::Json;
        else
            r.invalidChoice("format", *format, {"logfmt", "json"});
    }
    if (auto fields = r.stringArray("fields")) {
        std::vector<AccessField> chosen;
        bool ok = true;
        for (const auto& item : *fields) {
            std::size_t i = 0;
            while (i < kAccessFieldCount && item.value != kAccessFieldNames[i]) ++i;
            if (i == kAccessFieldCount) {
                std::string names;
                for (const char* name : kAccessFieldNames)
                    names += std::string(names.empty() ? "" : ", ") + name;
                diag_.error(item.pos, "unknown access log field \"" + item.value +
                                          "\" in 'fields'; the fields are: " + names);
                ok = false;
                continue;
            }
            const auto field = static_cast<AccessField>(i);
            if (std::find(chosen.begin(), chosen.end(), field) != chosen.end()) {
                diag_.error(item.pos,
                            "access log field \"" + item.value + "\" is listed twice in 'fields'");
                ok = false;
                continue;
            }
            chosen.push_back(field);
        }
        if (ok && chosen.empty())
            diag_.error(r.valuePos("fields"),
                        "'fields' must name at least one field (use access = \"off\" to "
                        "disable the access log)");
        else if (ok)
            l.fields = std::move(chosen);
    }
    r.finish();
}

void ConfigReader::readAdmin(const toml::table* table, SourcePos pos) {
    TableReader r(table, "[admin]", pos, diag_);
    AdminConfig& a = config_->admin;
    a.bind_pos = r.valuePos("bind");
    bool bind_valid = false;
    if (auto bind = r.string("bind")) {
        std::string why;
        if (auto hp = common::parseHostPort(*bind, true, &why)) {
            a.enabled = true;
            a.bind = BindAddress{hp->host, hp->port, *bind};
            bind_valid = true;
        } else {
            diag_.error(r.valuePos("bind"), "'bind': " + why);
        }
    }
    bool token_valid = true;
    if (auto token = r.string("token")) {
        // Sent in an HTTP field: visible ASCII only (a space, tab or control character would be
        // cut or refused on the way, and the token could never match).
        const auto bad = std::find_if(token->begin(), token->end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u <= 0x20 || u >= 0x7f;
        });
        if (bad != token->end()) {
            diag_.error(r.valuePos("token"),
                        "'token' must be visible ASCII characters only (no spaces, tabs or "
                        "control characters)");
            token_valid = false;
        } else {
            a.token = *token;
        }
    }
    if (auto protect = r.boolean("protect_reads")) a.protect_reads = *protect;
    if (bind_valid && token_valid && a.token.empty()) {
        if (!isLoopbackHost(a.bind.host))
            diag_.error(r.valuePos("bind"),
                        "[admin] token is required when bind is not loopback (\"" + a.bind.text +
                            "\" lets other hosts drain backends and reload)");
        else if (a.protect_reads)
            diag_.error(r.valuePos("protect_reads"),
                        "'protect_reads' needs a 'token' (there is nothing to require)");
    }
    r.finish();
}

// ---- names and references ----------------------------------------------------------------------

std::optional<std::string> ConfigReader::readName(TableReader& r, std::string_view kind,
                                                  std::map<std::string, NameDef>& seen,
                                                  std::size_t index) {
    if (!r.require("name")) return std::nullopt;
    auto name = r.string("name");
    if (!name) return std::nullopt;
    if (!isValidName(*name)) {
        diag_.error(r.valuePos("name"),
                    std::string(kind) + " name '" + *name +
                        "' must be non-empty and use only letters, digits, '_', '.' and '-'");
        return std::nullopt;
    }
    auto [it, inserted] = seen.emplace(*name, NameDef{r.pos(), index});
    if (!inserted) {
        diag_.error(r.valuePos("name"), "duplicate " + std::string(kind) + " name '" + *name +
                                            "' (first defined at " +
                                            formatPosition(it->second.defined_at) + ")");
    }
    return name;
}

void ConfigReader::resolvePoolReferences() {
    const std::vector<std::string> pool_names = keysOf(pool_names_);
    for (const PoolRef& ref : pool_refs_) {
        ListenerConfig& l = config_->listeners[ref.listener];
        const std::string& name = ref.route ? l.routes[*ref.route].pool : l.pool;
        auto it = pool_names_.find(name);
        if (it != pool_names_.end()) {
            (ref.route ? l.routes[*ref.route].pool_index : l.pool_index) = it->second.index;
            continue;
        }
        std::string message =
            (l.name.empty() ? std::string("listener") : "listener '" + l.name + "'") +
            (ref.route ? std::string(" route") : std::string()) + " refers to unknown pool '" +
            name + "'";
        if (auto suggestion = suggestKey(name, pool_names); !suggestion.empty())
            message += "; did you mean '" + suggestion + "'?";
        diag_.error(ref.pos, std::move(message));
    }
}

// ---- [[listener]] ------------------------------------------------------------------------------

void ConfigReader::readListeners(TableReader& root) {
    const toml::node* node = root.get("listener");
    const toml::array* listeners = root.arrayOfTables("listener");
    if (!node) {
        diag_.error(SourcePos{1, 1}, "no [[listener]] defined: at least one is required");
        return;
    }
    if (!listeners) return;
    if (listeners->empty()) {
        diag_.error(*node, "no [[listener]] defined: at least one is required");
        return;
    }
    for (const auto& element : *listeners) readListener(*element.as_table());
}

void ConfigReader::readListener(const toml::table& table) {
    TableReader r(&table, "[[listener]]", positionOf(table), diag_);
    const std::size_t index = config_->listeners.size();
    ListenerConfig& l = config_->listeners.emplace_back();
    l.pos = r.pos();

    if (auto name = readName(r, "listener", listener_names_, index)) l.name = *name;

    if (r.require("bind")) {
        const toml::node* bind_node = r.get("bind");
        if (auto binds = r.stringArray("bind")) {
            if (binds->empty()) diag_.error(*bind_node, "'bind' must list at least one address");
            for (const auto& item : *binds) {
                std::string why;
                auto hp = common::parseHostPort(item.value, true, &why);
                if (!hp) {
                    diag_.error(item.pos, "'bind': " + why);
                    continue;
                }
                l.binds.push_back(BindAddress{hp->host, hp->port, item.value});
                if (hp->port == 0) continue;  // "any free port": never a conflict
                const std::string normalised =
                    common::formatHostPort(lowercase(hp->host), hp->port);
                auto [it, inserted] = binds_.emplace(normalised, BindDef{l.name, item.pos});
                if (!inserted) {
                    std::string owner = it->second.listener.empty()
                                            ? std::string("a listener")
                                            : "listener '" + it->second.listener + "'";
                    diag_.error(item.pos, "duplicate bind address \"" + item.value +
                                              "\" (already used by " + owner + " at " +
                                              formatPosition(it->second.pos) + ")");
                }
            }
        }
    }

    bool protocol_known = true;
    if (auto protocol = r.string("protocol")) {
        if (*protocol == "tcp") {
            l.protocol = ListenerProtocol::Tcp;
        } else if (*protocol == "tls") {
            l.protocol = ListenerProtocol::Tls;
        } else if (*protocol == "http" || *protocol == "https") {
            l.protocol = *protocol == "http" ? ListenerProtocol::Http : ListenerProtocol::Https;
        } else {
            r.invalidChoice("protocol", *protocol, {"tcp", "tls", "http", "https"});
            protocol_known = false;
        }
    } else if (r.get("protocol")) {
        protocol_known = false;  // wrong type, reported
    }

    if (r.get("pool")) {
        if (auto pool = r.string("pool")) {
            l.pool = *pool;
            pool_refs_.push_back(PoolRef{index, std::nullopt, r.valuePos("pool")});
        }
    }
    readRoutes(r, l, index, protocol_known);
    if (!r.get("pool") && !r.get("route"))
        diag_.error(r.pos(), "[[listener]] needs 'pool' or at least one [[listener.route]]");

    if (auto idle = r.duration("idle_timeout", {.positive = true})) l.idle_timeout = *idle;
    if (auto max = r.integer("max_connections", 1))
        l.max_connections = static_cast<std::uint64_t>(*max);

    // A CIDR list key; false when an entry was invalid (each reported at its position).
    auto readCidrs = [&](std::string_view key, net::CidrList& list) {
        bool valid = true;
        if (auto items = r.stringArray(key)) {
            for (const auto& item : *items) {
                std::string why;
                if (auto cidr = net::Cidr::parse(item.value, &why)) {
                    list.add(*cidr);
                } else {
                    valid = false;
                    diag_.error(item.pos, "invalid '" + std::string(key) + "' entry \"" +
                                              item.value + "\": " + why);
                }
            }
        }
        return valid;
    };
    if (auto accept = r.boolean("accept_proxy")) l.accept_proxy = *accept;
    const bool trusted_valid = readCidrs("trusted_proxies", l.trusted_proxies);
    // Accepting a header from anyone would let any client claim any address.
    if (l.accept_proxy && l.trusted_proxies.empty() && trusted_valid)
        diag_.error(r.valuePos("accept_proxy"),
                    "'accept_proxy' = true needs 'trusted_proxies': the addresses allowed to send "
                    "a PROXY header");

    // Access control (SPEC §3): on the client address, the carried one with accept_proxy.
    readCidrs("allow", l.allow);
    readCidrs("deny", l.deny);
    if (auto max = r.integer("max_connections_per_client", 0, kMaxConnectionsPerClient))
        l.max_connections_per_client = static_cast<std::uint32_t>(*max);
    if (auto rate = r.integer("new_connections_per_client", 0, kMaxNewConnectionsPerClient))
        l.new_connections_per_client = static_cast<std::uint32_t>(*rate);

    tls_.readListener(r, l, index);
    readHttpTimeouts(r, l, protocol_known);
    r.finish();
}

void ConfigReader::readHttpTimeouts(TableReader& r, ListenerConfig& l, bool protocol_known) {
    const bool http = isHttp(l.protocol);
    // On another protocol the key would change nothing: an error, never silently ignored.
    auto misplaced = [&](std::string_view key) {
        if (!r.get(key) || !protocol_known || http) return false;
        diag_.error(r.valuePos(key), "'" + std::string(key) +
                                         "' applies to protocol \"http\" and \"https\" listeners, "
                                         "not \"" +
                                         protocolName(l.protocol) + "\"");
        return true;
    };
    if (!misplaced("request_timeout"))
        if (auto t = r.duration("request_timeout", {.positive = true})) l.request_timeout = *t;
    l.ws_idle_timeout = l.request_timeout;  // SPEC: the default is the listener's request_timeout
    if (!misplaced("ws_idle_timeout"))
        if (auto t = r.duration("ws_idle_timeout", {.positive = true})) l.ws_idle_timeout = *t;
    // ws_max_session = "0s" is "no cap", which every listener has: accepted anywhere, as the
    // reference documented it before HTTP listeners existed.
    if (const toml::node* max_session = r.get("ws_max_session"); max_session && !http) {
        Diagnostics scratch(diag_.file());
        auto d = readDuration(*max_session, "ws_max_session", scratch);
        if (d && d->count() == 0) return;
    }
    if (!misplaced("ws_max_session"))
        if (auto t = r.duration("ws_max_session")) l.ws_max_session = *t;
}

void ConfigReader::readRoutes(TableReader& r, ListenerConfig& l, std::size_t index,
                              bool protocol_known) {
    if (!r.get("route")) return;
    const toml::array* routes = r.arrayOfTables("route");
    if (!routes) return;  // wrong type, reported
    const toml::node* node = r.get("route");
    if (routes->empty()) {
        diag_.error(*node,
                    "'route' must list at least one route (leave it out to send everything "
                    "to 'pool')");
        return;
    }
    if (routes->size() > kMaxRoutes) {
        diag_.error(*node, "too many routes: " + std::to_string(routes->size()) + " (at most " +
                               std::to_string(kMaxRoutes) + " per listener)");
        return;
    }
    const bool http = isHttp(l.protocol);
    const char* protocol = protocolName(l.protocol);
    std::vector<bool> complete;  ///< per route: every match key valid (judged for shadowing)
    for (const auto& element : *routes) {
        const toml::table& table = *element.as_table();
        TableReader t(&table, "[[listener.route]]", positionOf(table, r.pos()), diag_);
        RouteConfig route;
        route.pos = t.pos();
        bool valid = true;
        // host / sni: a name pattern, on the protocols it belongs to.
        auto pattern = [&](std::string_view key, bool applies, const char* instead,
                           std::string& out) {
            if (!t.get(key)) return;
            auto value = t.string(key);
            if (!value) {
                valid = false;
                return;
            }
            if (protocol_known && !applies) {
                diag_.error(t.valuePos(key),
                            "'" + std::string(key) + "' routes apply to " +
                                (http ? std::string("tls and tcp") : "http and https") +
                                " listeners, not \"" + protocol + "\" (" + instead + ")");
                valid = false;
                return;
            }
            std::string why;
            auto normalised = common::normalisePattern(*value, &why);
            if (normalised && key == "sni" && tls::isIpLiteral(*normalised)) {
                why =
                    "must be a host name, not an IP address (a client sends no SNI for an IP "
                    "address)";
                normalised.reset();
            }
            if (!normalised) {
                diag_.error(t.valuePos(key), "'" + std::string(key) + "' " + why);
                valid = false;
                return;
            }
            out = std::move(*normalised);
        };
        pattern("host", http, "route them by 'sni'", route.host);
        pattern("sni", !http,
                "route them by 'host'; an https listener still chooses its certificate by SNI",
                route.sni);
        if (t.get("path_prefix")) {
            auto prefix = t.string("path_prefix");
            if (!prefix) {
                valid = false;
            } else if (protocol_known && !http) {
                diag_.error(t.valuePos("path_prefix"),
                            "'path_prefix' routes apply to http and https listeners, not \"" +
                                std::string(protocol) + "\"");
                valid = false;
            } else if (prefix->empty() || prefix->front() != '/') {
                diag_.error(t.valuePos("path_prefix"),
                            "'path_prefix' must start with '/', not \"" + *prefix + "\"");
                valid = false;
            } else if (std::any_of(prefix->begin(), prefix->end(), [](char c) {
                           const auto u = static_cast<unsigned char>(c);
                           return u <= 0x20 || u >= 0x7f;
                       })) {
                diag_.error(t.valuePos("path_prefix"),
                            "'path_prefix' must not contain spaces, control or non-ASCII "
                            "characters (a request path carries them percent-encoded)");
                valid = false;
            } else {
                route.path_prefix = *prefix;
            }
        }
        if (t.require("pool")) {
            if (auto pool = t.string("pool")) {
                route.pool = *pool;
                pool_refs_.push_back(PoolRef{index, l.routes.size(), t.valuePos("pool")});
            }
        }
        t.finish();
        l.routes.push_back(std::move(route));
        complete.push_back(valid);
    }

    // A route that an earlier one always takes first is a mistake: report it, do not let it sit
    // there unused (the first match wins, as listed).
    for (std::size_t j = 0; j < l.routes.size(); ++j) {
        if (!complete[j]) continue;
        for (std::size_t i = 0; i < j; ++i) {
            if (!complete[i] || !routeCovers(l.routes[i], l.routes[j])) continue;
            const std::string earlier = formatPosition(l.routes[i].pos);
            diag_.error(l.routes[j].pos,
                        l.routes[i].catchAll()
                            ? "this route is never used: the catch-all route at " + earlier +
                                  " (no 'host', 'path_prefix' or 'sni') takes everything first; "
                                  "the first match wins, so put the catch-all last"
                            : "this route is never used: the route at " + earlier +
                                  " matches everything it matches, and the first match wins (put "
                                  "the more specific route first)");
            break;
        }
    }
    // The listener's pool is the catch-all (SPEC §2): a catch-all route as well leaves one unused.
    if (r.get("pool")) {
        for (std::size_t j = 0; j < l.routes.size(); ++j) {
            if (!complete[j] || !l.routes[j].catchAll()) continue;
            diag_.error(l.routes[j].pos,
                        "a catch-all route (no 'host', 'path_prefix' or 'sni') and the listener's "
                        "'pool' at " +
                            formatPosition(r.valuePos("pool")) +
                            " both take what no other route matches: keep one of them");
            break;
        }
    }
}

// ---- [[pool]] ----------------------------------------------------------------------------------

void ConfigReader::readPools(TableReader& root) {
    const toml::array* pools = root.arrayOfTables("pool");
    if (!pools) return;
    for (const auto& element : *pools) readPool(*element.as_table());
}

std::optional<std::string> ConfigReader::pluginName(TableReader& r, std::string_view fallback) {
    if (!r.get("plugin")) return std::string(fallback);
    auto name = r.string("plugin");
    if (!name) return std::nullopt;
    if (name->empty()) {
        diag_.error(r.valuePos("plugin"), "'plugin' must not be empty");
        return std::nullopt;
    }
    return name;
}

void ConfigReader::readPool(const toml::table& table) {
    TableReader r(&table, "[[pool]]", positionOf(table), diag_);
    const std::size_t index = config_->pools.size();
    PoolConfig& p = config_->pools.emplace_back();
    p.pos = r.pos();
    PoolPlugins plugins;
    plugins.pool = index;

    if (auto name = readName(r, "pool", pool_names_, index)) p.name = *name;

    if (!r.get("balancer")) {
        plugins.balancer =
            PluginUse{p.balancer, r.pos(), nullptr, "[[pool]] balancer", r.pos(), {}};
    } else if (auto balancer = r.string("balancer")) {
        if (balancer->empty()) {
            diag_.error(r.valuePos("balancer"), "'balancer' must not be empty");
        } else {
            p.balancer = *balancer;
            plugins.balancer = PluginUse{p.balancer,          r.valuePos("balancer"), nullptr,
                                         "[[pool]] balancer", r.valuePos("balancer"), {}};
        }
    }

    if (auto affinity = r.string("affinity")) {
        if (*affinity == "client_ip")
            p.affinity = Affinity::ClientIp;
        else if (*affinity != "none")
            r.invalidChoice("affinity", *affinity, {"none", "client_ip"});
    }
    if (auto drain = r.duration("drain_timeout", {.allow_unlimited = true}))
        p.drain_timeout = *drain;
    bool mode_valid = true;
    if (auto mode = r.string("balancing_mode")) {
        if (*mode == "utilization") {
            p.balancing_mode = BalancingMode::Utilization;
        } else if (*mode != "connection") {
            r.invalidChoice("balancing_mode", *mode, {"connection", "utilization"});
            mode_valid = false;
        }
    } else if (r.get("balancing_mode")) {
        mode_valid = false;  // wrong type, already reported
    }
    if (auto max = r.integer("max_connections_per_backend", 0, kMaxUint32))
        p.max_connections_per_backend = static_cast<std::uint32_t>(*max);
    if (auto utilization = r.floating("max_utilization")) {
        if (!(*utilization > 0.0 && *utilization <= 1.0))
            diag_.error(r.valuePos("max_utilization"),
                        "'max_utilization' must be greater than 0 and at most 1, got " +
                            formatNumber(*utilization));
        else if (mode_valid && p.balancing_mode != BalancingMode::Utilization)
            diag_.error(r.valuePos("max_utilization"),
                        "'max_utilization' only applies with balancing_mode = \"utilization\"");
        else
            p.max_utilization = *utilization;
    }
    if (auto order = r.stringArray("region_order")) {
        for (const auto& item : *order) {
            if (item.value.empty()) {
                diag_.error(item.pos, "'region_order' entries must not be empty");
                continue;
            }
            if (std::find(p.region_order.begin(), p.region_order.end(), item.value) !=
                p.region_order.end()) {
                diag_.error(item.pos, "'region_order' lists \"" + item.value + "\" twice");
                continue;
            }
            p.region_order.push_back(item.value);
        }
    }
    p.local_region = config_->gateway.region;

    const toml::table* backend = r.table("backend");
    readBackend(backend, backend ? positionOf(*backend, r.pos()) : r.pos(), p.backend);

    const bool has_discovery_key = r.get("discovery") != nullptr;
    const toml::table* discovery = r.table("discovery");
    if (!has_discovery_key || discovery) {
        plugins.discovery = readDiscovery(
            discovery, discovery ? positionOf(*discovery, r.pos()) : r.pos(), p.discovery);
    }

    if (const toml::table* probe = r.table("probe")) {
        p.probe.emplace();
        plugins.probe = readProbe(*probe, *p.probe);
    }
    if (p.balancing_mode == BalancingMode::Utilization && !r.get("probe"))
        diag_.error(r.valuePos("balancing_mode"),
                    "balancing_mode = \"utilization\" needs a [pool.probe] whose plugin reports "
                    "utilization (e.g. \"http\" or \"agent\")");
    r.finish();
    pool_plugins_.push_back(std::move(plugins));
}

void ConfigReader::readBackend(const toml::table* table, SourcePos pos, BackendSettings& b) {
    TableReader r(table, "[pool.backend]", pos, diag_);
    if (auto protocol = r.string("protocol")) {
        if (*protocol == "tls")
            b.protocol = BackendProtocol::Tls;
        else if (*protocol != "tcp")
            r.invalidChoice("protocol", *protocol, {"tcp", "tls"});
    }
    if (auto port = r.integer("port", 1, 65535)) b.port = static_cast<std::uint16_t>(*port);
    if (auto timeout = r.duration("connect_timeout", {.positive = true}))
        b.connect_timeout = *timeout;
    if (auto retries = r.integer("retries", 0, kMaxRetries))
        b.retries = static_cast<std::uint32_t>(*retries);
    if (auto pp = r.string("proxy_protocol")) {
        if (*pp == "v1")
            b.proxy_protocol = ProxyProtocol::V1;
        else if (*pp == "v2")
            b.proxy_protocol = ProxyProtocol::V2;
        else if (*pp != "off")
            r.invalidChoice("proxy_protocol", *pp, {"off", "v1", "v2"});
    }
    if (auto crc = r.boolean("proxy_protocol_crc")) {
        b.proxy_protocol_crc = *crc;
        if (*crc && b.proxy_protocol != ProxyProtocol::V2)
            diag_.error(r.valuePos("proxy_protocol_crc"),
                        "'proxy_protocol_crc' = true needs proxy_protocol = \"v2\"");
    }
    if (auto n = r.integer("passive_failures", 0, kMaxUint32))
        b.passive_failures = static_cast<std::uint32_t>(*n);
    if (auto idle = r.duration("keepalive_idle", {.positive = true})) b.keepalive_idle = *idle;
    if (auto max = r.integer("keepalive_max", 0, kMaxKeepalive))
        b.keepalive_max = static_cast<std::uint32_t>(*max);
    tls_.readBackend(r, b, config_->pools.size() - 1);
    r.finish();
}

std::optional<PluginUse> ConfigReader::readDiscovery(const toml::table* table, SourcePos pos,
                                                     DiscoveryConfig& d) {
    TableReader r(table, "[pool.discovery]", pos, diag_);
    auto name = pluginName(r, d.plugin);
    if (auto refresh = r.duration("refresh", {.positive = true})) d.refresh = *refresh;
    // Every other key belongs to the plugin, which reports the ones it does not know.
    if (!name) return std::nullopt;
    d.plugin = *name;
    return PluginUse{d.plugin, r.valuePos("plugin"), table, "[pool.discovery]",
                     pos,      {"plugin", "refresh"}};
}

std::optional<PluginUse> ConfigReader::readProbe(const toml::table& table, ProbeConfig& p) {
    const SourcePos pos = positionOf(table);
    TableReader r(&table, "[pool.probe]", pos, diag_);
    auto name = pluginName(r, p.plugin);
    if (auto interval = r.duration("interval", {.positive = true})) p.interval = *interval;
    if (auto timeout = r.duration("timeout", {.positive = true})) p.timeout = *timeout;
    if (auto healthy = r.integer("healthy_threshold", 1, kMaxUint32))
        p.healthy_threshold = static_cast<std::uint32_t>(*healthy);
    if (auto unhealthy = r.integer("unhealthy_threshold", 1, kMaxUint32))
        p.unhealthy_threshold = static_cast<std::uint32_t>(*unhealthy);
    if (auto port = r.integer("port", 0, 65535)) p.port = static_cast<std::uint16_t>(*port);
    if (auto pp = r.boolean("proxy_protocol")) p.proxy_protocol_explicit = *pp;
    if (!name) return std::nullopt;
    p.plugin = *name;
    return PluginUse{p.plugin,
                     r.valuePos("plugin"),
                     &table,
                     "[pool.probe]",
                     pos,
                     {"plugin", "interval", "timeout", "healthy_threshold", "unhealthy_threshold",
                      "port", "proxy_protocol"}};
}

// ---- plugins -----------------------------------------------------------------------------------

void ConfigReader::createPlugins() {
    // With unusable plugin_dirs every lookup would fail for the same reason already reported.
    if (!plugin_dirs_valid_) return;
    PluginBinder binder(registry_, config_->gateway.plugin_dirs, diag_, base_dir_);
    const Config* previous = options_.previous;
    for (const PoolPlugins& uses : pool_plugins_) {
        PoolConfig& pool = config_->pools[uses.pool];
        // On a reload, the running pool of the same name, if any: its instances are taken over
        // when their plugin and table are unchanged.
        const PoolConfig* before = nullptr;
        if (previous)
            for (const auto& p : previous->pools)
                if (p.name == pool.name) before = &p;
        if (uses.balancer) {
            pool.balancer_fingerprint = pluginFingerprint(*uses.balancer);
            if (before && before->balancer_factory &&
                before->balancer_fingerprint == pool.balancer_fingerprint)
                pool.balancer_factory = before->balancer_factory;
            else
                pool.balancer_factory = binder.balancer(*uses.balancer);
        }
        if (uses.discovery) {
            pool.discovery.fingerprint = pluginFingerprint(*uses.discovery);
            if (before && before->discovery.instance &&
                before->discovery.fingerprint == pool.discovery.fingerprint)
                pool.discovery.instance = before->discovery.instance;
            else
                pool.discovery.instance = binder.discovery(*uses.discovery);
        }
        if (uses.probe && pool.probe) {
            pool.probe->fingerprint = pluginFingerprint(*uses.probe);
            if (before && before->probe && before->probe->instance &&
                before->probe->fingerprint == pool.probe->fingerprint)
                pool.probe->instance = before->probe->instance;
            else
                pool.probe->instance = binder.probe(*uses.probe);
        }
    }
}

}  // namespace postern::config
