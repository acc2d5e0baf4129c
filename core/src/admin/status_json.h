// GET /status: a GatewaySnapshot as the JSON document the dashboard reads (schema: docs/
// operations.md "Status"). Strings are escaped per RFC 8259 (quote, backslash, control
// characters as \uXXXX) and bytes that are not UTF-8 become U+FFFD, so the document always
// parses; times are UTC, ISO 8601 with milliseconds ("2026-12-06T12:14:39.123Z"). Pure; any
// thread.
#pragma once

#include <string>
#include <string_view>

#include "admin/gateway_snapshot.h"

namespace postern::admin {

std::string writeStatusJson(const GatewaySnapshot& snapshot);

/** Appends `value` as a JSON string, quotes included. */
void appendJsonString(std::string& out, std::string_view value);

/** "YYYY-MM-DDThh:mm:ss.mmmZ". */
std::string utcText(WallClock::time_point t);

}  // namespace postern::admin
