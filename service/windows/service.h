// postern.exe's entry on Windows: started by the service control manager (no console), postern runs
// as the "postern" service through its own ServiceMain; from a console it takes the same command
// line as on Linux, plus Poco's /registerService and /unregisterService.
#pragma once

namespace postern::service {

int windowsMain(int argc, wchar_t** argv);

}  // namespace postern::service
