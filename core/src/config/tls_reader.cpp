#include "config/tls_reader.h"

#include <optional>

#include "postern/plugin/str.h"
#include "tls/client_tls_context.h"
#include "tls/server_tls_context.h"

namespace postern::config {

namespace {

/** A required, non-empty string key. */
std::optional<std::string> requiredText(TableReader& r, std::string_view key, Diagnostics& diag) {
    if (!r.require(key)) return std::nullopt;
    auto v = r.string(key);
    if (v && v->empty()) {
        diag.error(r.valuePos(key), "'" + std::string(key) + "' must not be empty");
        return std::nullopt;
    }
    return v;
}

}  // namespace

tls::FileRef TlsReader::file(const std::string& written) const {
    std::filesystem::path p(written);
    if (p.is_relative()) p = base_dir_ / p;
    return tls::FileRef{p.lexically_normal().string(), written};
}

void TlsReader::report(const tls::TlsProblem& problem, SourcePos where, std::string_view key) {
    diag_.error(where, key.empty() ? problem.message : "'" + std::string(key) + "': " + problem.message);
}

void TlsReader::readListener(TableReader& r, ListenerConfig& l, std::size_t index) {
    const toml::node* node = r.get("tls");
    const toml::table* table = r.table("tls");
    const bool https = l.protocol == ListenerProtocol::Https;
    if (!terminatesTls(l.protocol)) {
        // Only a known plain protocol is certainly wrong; an invalid one is reported already.
        const toml::node* protocol = r.get("protocol");
        const std::string written = protocol ? protocol->value_or(std::string()) : "tcp";
        if (node && (written == "tcp" || written == "http"))
            diag_.error(
                positionOf(*node, r.pos()),
                "[listener.tls] only applies to protocol = \"tls\" and \"https\" listeners");
        return;
    }
    if (!node) {
        diag_.error(r.valuePos("protocol"), std::string("protocol \"") + (https ? "https" : "tls") +
                                                "\" needs a [listener.tls] table with at least one "
                                                "certificate");
        return;
    }
    if (!table) return;  // not a table: reported by r.table()

    TableReader t(table, "[listener.tls]", positionOf(*table, r.pos()), diag_);
    ListenerUse use;
    use.listener = index;
    use.table = t.pos();
    ListenerTlsConfig cfg;
    cfg.settings.name = l.name;

    if (t.require("certificates")) {
        const toml::node* certs_node = t.get("certificates");
        if (const toml::array* certs = t.arrayOfTables("certificates")) {
            if (certs->empty()) {
                diag_.error(*certs_node, "'certificates' must list at least one { cert = \"...\", key = \"...\" }");
                use.valid = false;
            }
            for (const auto& element : *certs) {
                const toml::table& entry = *element.as_table();
                TableReader e(&entry, "'certificates' entry", positionOf(entry, t.pos()), diag_);
                auto cert = requiredText(e, "cert", diag_);
                auto key = requiredText(e, "key", diag_);
                e.finish();
                // Reported; the other entries are still checked so every problem shows at once.
                if (!cert || !key) continue;
                cfg.settings.certificates.push_back({file(*cert), file(*key)});
                use.files.emplace_back(e.valuePos("cert"), e.valuePos("key"));
            }
        } else {
            use.valid = false;
        }
    } else {
        use.valid = false;
    }

    if (auto version = t.string("min_version")) {
        if (*version == "1.2")
            cfg.settings.min_version = tls::TlsVersion::Tls12;
        else if (*version == "1.3")
            cfg.settings.min_version = tls::TlsVersion::Tls13;
        else
            t.invalidChoice("min_version", *version, {"1.2", "1.3"});
    }
    if (auto ciphers = t.string("ciphers")) {
        cfg.settings.ciphers = *ciphers;
        use.ciphers = t.valuePos("ciphers");
    }
    if (t.get("alpn")) {
        if (auto alpn = t.stringArray("alpn")) {
            for (const auto& item : *alpn) {
                // Postern speaks HTTP/1.1 to an https listener's clients: offering another
                // protocol (h2) would have a client speak what the listener does not.
                if (https && item.value != "http/1.1" && item.value != "http/1.0") {
                    diag_.error(item.pos,
                                "'alpn' of an https listener may offer only \"http/1.1\" "
                                "and \"http/1.0\", not \"" +
                                    item.value + "\"");
                    use.valid = false;
                    continue;
                }
                cfg.settings.alpn.push_back(item.value);
                use.alpn.push_back(item.pos);
            }
        } else {
            use.valid = false;
        }
    } else if (https) {
        cfg.settings.alpn.push_back("http/1.1");  // SPEC: https = TLS + ALPN http/1.1
        use.alpn.push_back(t.pos());
    }
    if (auto ca = t.string("client_ca"); ca && !ca->empty()) {
        cfg.settings.client_ca = file(*ca);
        use.client_ca = t.valuePos("client_ca");
    }
    if (auto timeout = t.duration("handshake_timeout", {.positive = true})) cfg.handshake_timeout = *timeout;
    t.finish();
    l.tls = std::move(cfg);
    listeners_.push_back(std::move(use));
}

void TlsReader::readBackend(TableReader& r, BackendSettings& b, std::size_t index) {
    PoolUse use;
    use.pool = index;
    use.table = r.pos();
    auto text = [&](std::string_view key) -> std::optional<std::string> {
        auto v = r.string(key);
        if (!r.get(key)) return std::nullopt;
        if (!v) {
            use.valid = false;  // wrong type, reported
            return std::nullopt;
        }
        if (v->empty()) return std::nullopt;
        use.keys_set.emplace_back(std::string(key), r.valuePos(key));
        return v;
    };
    if (auto sni = text("tls_sni")) {
        if (tls::isIpLiteral(*sni)) {
            diag_.error(r.valuePos("tls_sni"),
                        "'tls_sni' must be a host name, not an IP address (SNI carries names only; "
                        "leave it empty to check an IP target against the certificate's IP addresses)");
        } else if (!sdk::isHostName(*sni)) {
            diag_.error(r.valuePos("tls_sni"), "'tls_sni' must be a host name (letters, digits, '-' and '_' in "
                                               "dot-separated labels), not \"" + *sni + "\"");
        } else {
            b.tls.sni = *sni;
        }
    }
    if (auto ca = text("tls_ca")) {
        b.tls.ca = file(*ca);
        use.ca = r.valuePos("tls_ca");
    }
    auto cert = text("tls_client_cert");
    auto key = text("tls_client_key");
    if (cert) {
        b.tls.client_cert = file(*cert);
        use.client_cert = r.valuePos("tls_client_cert");
    }
    if (key) {
        b.tls.client_key = file(*key);
        use.client_key = r.valuePos("tls_client_key");
    }
    // Reported; the rest (the CA) is still checked, without the half of a client certificate.
    if (cert && !key) {
        diag_.error(use.client_cert, "'tls_client_cert' needs 'tls_client_key' (the certificate's private key)");
        b.tls.client_cert = {};
    } else if (key && !cert) {
        diag_.error(use.client_key, "'tls_client_key' needs 'tls_client_cert' (the certificate it belongs to)");
        b.tls.client_key = {};
    }
    if (auto verify = r.boolean("tls_verify")) {
        b.tls.verify = *verify;
        if (!*verify) use.keys_set.emplace_back("tls_verify", r.valuePos("tls_verify"));
    }
    pools_.push_back(std::move(use));
}

void TlsReader::build(Config& config) {
    for (const auto& use : listeners_) {
        if (use.listener >= config.listeners.size()) continue;
        auto& l = config.listeners[use.listener];
        if (!use.valid || !l.tls) continue;
        std::vector<tls::TlsProblem> problems;
        l.tls->context = tls::ServerTlsContext::create(l.tls->settings, &problems);
        for (const auto& p : problems) {
            switch (p.field) {
                case tls::TlsField::Certificate:
                    if (p.index < use.files.size()) report(p, use.files[p.index].first, "cert");
                    else report(p, use.table, "certificates");
                    break;
                case tls::TlsField::Key: report(p, use.files.at(p.index).second, "key"); break;
                case tls::TlsField::Ciphers: report(p, use.ciphers, "ciphers"); break;
                case tls::TlsField::ClientCa: report(p, use.client_ca, "client_ca"); break;
                case tls::TlsField::Alpn: report(p, use.alpn.at(p.index), "alpn"); break;
                default: report(p, use.table, ""); break;
            }
        }
    }
    for (const auto& use : pools_) {
        if (use.pool >= config.pools.size()) continue;
        auto& pool = config.pools[use.pool];
        auto& b = pool.backend;
        b.tls.name = pool.name;
        bool probe_tls = false;
        if (pool.probe) {
            if (!pool.probe->instance) continue;  // the probe plugin failed: its error is reported
            probe_tls = pool.probe->instance->transport().tls != 0;
        }
        if (b.protocol != BackendProtocol::Tls && !probe_tls) {
            for (const auto& [key, pos] : use.keys_set)
                diag_.error(pos, "'" + key + "' has no effect: [pool.backend] protocol is \"tcp\" and the "
                                             "probe does not use TLS");
            continue;
        }
        if (!use.valid) continue;
        std::vector<tls::TlsProblem> problems;
        b.tls_context = tls::ClientTlsContext::create(b.tls, &problems);
        for (const auto& p : problems) {
            switch (p.field) {
                case tls::TlsField::Ca: report(p, use.ca, "tls_ca"); break;
                case tls::TlsField::ClientCert: report(p, use.client_cert, "tls_client_cert"); break;
                case tls::TlsField::ClientKey: report(p, use.client_key, "tls_client_key"); break;
                default: report(p, use.table, ""); break;
            }
        }
    }
}

}  // namespace postern::config
