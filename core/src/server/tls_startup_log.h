// What the start-up log says about TLS: each listener certificate (names, key type, expiry), a
// warning for a certificate that has expired, expires within 30 days or is not valid yet, for a
// name two certificates claim, and for a pool whose backends are not verified (tls_verify =
// false). Main thread, at start.
#pragma once

#include <chrono>

#include "config/model.h"

namespace postern::server {

inline constexpr auto kCertificateExpiryWarning = std::chrono::hours(24 * 30);

void logTlsSetup(const config::Config& config, std::chrono::system_clock::time_point now);

}  // namespace postern::server
