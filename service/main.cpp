// postern: the process entry. Everything the command line does is in cli.cpp; what differs between
// Linux and Windows sits behind Platform (posix/, windows/).
#include <string>
#include <vector>

#include "cli.h"

#ifdef _WIN32
#include "windows/service.h"

// A Unicode entry point (linked with -municode): arguments arrive as UTF-16 from the SCM and the
// console alike; windows/service.cpp hands them to Poco's ServerApplication.
int wmain(int argc, wchar_t** argv) { return postern::service::windowsMain(argc, argv); }

#else
#include "posix/posix_platform.h"
#include "posix/signals.h"

int main(int argc, char** argv) {
    // Before any thread exists: signals are taken by sigwait() (Platform::waitForStop), never
    // delivered asynchronously, and SIGPIPE never kills the process.
    postern::service::blockSignals();
    postern::service::PosixPlatform platform;
    return postern::service::runCli(std::vector<std::string>(argv + 1, argv + argc), platform);
}
#endif
