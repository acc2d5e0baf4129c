// The Windows Event Log as the destination of postern's log lines while it runs as a service
// (Application log, source "Postern"; messages from the table in messages.mc, compiled into
// postern.exe, which the MSI registers as the source's EventMessageFile).
#pragma once

#include <string_view>

#include "common/log.h"

namespace postern::service::eventlog {

inline constexpr const wchar_t* kSource = L"Postern";

/** Registers the event source when the MSI has not (postern.exe /registerService), opens it and
 * routes every log line there (common::Log::setSink). Main thread, before other threads log. */
void install();

/** One event: Error, Warning or Information by level. Any thread. */
void write(common::LogLevel level, std::string_view line);

}  // namespace postern::service::eventlog
