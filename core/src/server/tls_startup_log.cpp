#include "server/tls_startup_log.h"

#include <string>

#include "common/log.h"
#include "tls/client_tls_context.h"
#include "tls/server_tls_context.h"

namespace postern::server {

namespace {

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
    return out.empty() ? "-" : out;
}

/** Warns about a certificate outside its validity window or close to its end. */
void checkValidity(const tls::CertificateInfo& info, const std::string& fields,
                   std::chrono::system_clock::time_point now) {
    using namespace std::chrono;
    const std::string expires = " expires=" + tls::formatUtc(info.not_after);
    if (info.not_after <= now) {
        POSTERN_LOG(Warn, "tls certificate has expired", fields + expires);
    } else if (info.not_after - now < kCertificateExpiryWarning) {
        const auto days = duration_cast<hours>(info.not_after - now).count() / 24;
        POSTERN_LOG(Warn, "tls certificate expires soon", fields + expires + " days_left=" + std::to_string(days));
    }
    if (info.not_before > now)
        POSTERN_LOG(Warn, "tls certificate is not valid yet",
                    fields + " valid_from=" + tls::formatUtc(info.not_before));
}

}  // namespace

void logTlsSetup(const config::Config& config, std::chrono::system_clock::time_point now) {
    for (const auto& l : config.listeners) {
        if (!l.tls || !l.tls->context) continue;
        const auto& ctx = *l.tls->context;
        const auto& files = ctx.settings().certificates;
        for (std::size_t i = 0; i < ctx.certificates().size() && i < files.size(); ++i) {
            const auto& info = ctx.certificates()[i];
            const std::string fields = "listener=" + common::logfmtValue(l.name) +
                                       " cert=" + common::logfmtValue(files[i].cert.shown);
            POSTERN_LOG(Info, "tls certificate",
                        fields + " names=" + common::logfmtValue(joined(tls::serverNamesOf(info))) +
                            " key=" + common::logfmtValue(info.key_type) +
                            " expires=" + tls::formatUtc(info.not_after) + (i == 0 ? " default=true" : ""));
            checkValidity(info, fields, now);
        }
        for (const auto& d : ctx.sni().duplicates()) {
            POSTERN_LOG(Warn, "tls certificate name already served by an earlier certificate",
                        "listener=" + common::logfmtValue(l.name) + " name=" + common::logfmtValue(d.name) +
                            " cert=" + common::logfmtValue(files.at(d.ignored).cert.shown) +
                            " served_by=" + common::logfmtValue(files.at(d.kept).cert.shown));
        }
        if (!ctx.settings().client_ca.empty())
            POSTERN_LOG(Info, "tls client certificates required",
                        "listener=" + common::logfmtValue(l.name) +
                            " client_ca=" + common::logfmtValue(ctx.settings().client_ca.shown));
    }
    for (const auto& p : config.pools) {
        if (!p.backend.tls_context) continue;
        const auto& ctx = *p.backend.tls_context;
        const std::string fields = "pool=" + common::logfmtValue(p.name);
        if (!ctx.settings().verify)
            POSTERN_LOG(Warn, "backend TLS certificates are not verified (tls_verify = false)", fields);
        if (const auto& cert = ctx.clientCertificate())
            checkValidity(*cert, fields + " cert=" + common::logfmtValue(ctx.settings().client_cert.shown), now);
    }
}

}  // namespace postern::server
