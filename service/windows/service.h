// postern.exe's entry on Windows: Poco's ServerApplication decides between the service control
// manager (no console: postern runs as the "postern" service) and the console (the same command
// line as on Linux, plus /registerService and /unregisterService).
#pragma once

namespace postern::service {

int windowsMain(int argc, wchar_t** argv);

}  // namespace postern::service
