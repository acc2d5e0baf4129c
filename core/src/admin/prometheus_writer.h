// GET /metrics: a GatewaySnapshot in the Prometheus text exposition format 0.0.4 — `# HELP` and
// `# TYPE` for every family, label values escaped (`\\`, `\"`, `\n`), histograms as cumulative
// `_bucket{le}` series with `_sum` and `_count`. Names and labels: SPEC §6 and
// docs/operations.md "Metrics". Labels stay bounded: listener, pool, backend address, and fixed
// sets (reason, cause, result, direction); never a client address. Two backends of a pool with
// the same address (a removed one still draining beside its successor) are one series, their
// counts summed: a scrape never has two series with the same labels. Pure; any thread.
#pragma once

#include <string>
#include <string_view>

#include "admin/gateway_snapshot.h"

namespace postern::admin {

std::string writePrometheus(const GatewaySnapshot& snapshot);

/** Appends `value` escaped for a label value (backslash, double quote, line feed). */
void appendLabelValue(std::string& out, std::string_view value);

/** The refusal reasons of postern_connections_refused_total, in the order written. */
inline constexpr std::string_view kRefusalReasons[] = {
    "max_connections", "no_backend",      "no_capacity",   "acl",          "client_rate",
    "client_limit",    "proxy_untrusted", "proxy_invalid", "proxy_timeout"};

}  // namespace postern::admin
