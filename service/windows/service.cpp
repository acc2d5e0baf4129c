#include "windows/service.h"

#include <Poco/Net/Net.h>
#include <Poco/Util/ServerApplication.h>
// After Poco (which includes winsock2.h before windows.h).
#include <shlobj.h>
#include <windows.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "cli.h"
#include "common/log.h"
#include "platform.h"
#include "windows/event_log.h"

namespace postern::service {

namespace fs = std::filesystem;

namespace {

/** %ProgramData%\Postern (C:\ProgramData\Postern): the service's config and data. */
fs::path dataDir() {
    PWSTR known = nullptr;
    fs::path base;
    if (::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &known) == S_OK) base = known;
    if (known) ::CoTaskMemFree(known);
    if (base.empty()) base = L"C:\\ProgramData";
    return base / L"Postern";
}

fs::path exeDir() {
    std::wstring buf(MAX_PATH, L'\0');
    for (;;) {
        DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
        if (n == 0) return {};
        if (n < buf.size()) {
            buf.resize(n);
            return fs::path(buf).parent_path();
        }
        buf.resize(buf.size() * 2);
    }
}

class PosternApp final : public Poco::Util::ServerApplication {
public:
    /** SCM stop or shutdown; Ctrl-C, Ctrl-Break or closing the console. */
    void waitForStopRequest() { waitForTerminationRequest(); }

protected:
    int main(const std::vector<std::string>& args) override;

private:
    int serviceMain();
};

class WindowsPlatform final : public Platform {
public:
    WindowsPlatform(PosternApp& app, bool service) : app_(app), service_(service) {}

    fs::path defaultConfigPath() const override { return dataDir() / L"postern.toml"; }

    std::string_view usageExtra() const override {
        return "Windows service (as Administrator):\n"
               "  /registerService [/displayName=NAME] [/description=TEXT] [/startup=auto|manual]\n"
               "  /unregisterService\n"
               "  The service reads %ProgramData%\\Postern\\postern.toml (created from\n"
               "  config.default.toml next to postern.exe when missing) and logs to the Event Log\n"
               "  (Application, source \"Postern\").\n";
    }

    bool started(const config::Config&, std::string*) override { return true; }

    void waitForStop() override {
        app_.waitForStopRequest();
        POSTERN_LOG(Info, service_ ? "service stop requested" : "console stop requested", "");
    }

    void stopping() override {}

    void error(std::string_view line) override {
        if (service_)
            eventlog::write(common::LogLevel::Error, line);
        else
            Platform::error(line);
    }

private:
    PosternApp& app_;
    bool service_;
};

int PosternApp::main(const std::vector<std::string>& args) {
    if (config().getBool("application.runAsService", false)) return serviceMain();
    WindowsPlatform platform(*this, false);
    return runCli(args, platform);
}

// Services get no command line: the config is the ProgramData one, made from the default that the
// MSI installs next to postern.exe the first time (wixl cannot keep a user-edited file across
// upgrades, so the MSI never installs postern.toml itself).
int PosternApp::serviceMain() {
    eventlog::install();
    WindowsPlatform platform(*this, true);
    const fs::path config = platform.defaultConfigPath();
    std::error_code ec;
    if (!fs::exists(config, ec)) {
        const fs::path fallback = exeDir() / L"config.default.toml";
        fs::create_directories(config.parent_path(), ec);
        if (ec || !fs::copy_file(fallback, config, ec) || ec) {
            platform.error("postern: cannot create " + config.string() + " from " +
                           fallback.string() + ": " +
                           (ec ? ec.message() : std::string("unknown error")));
            return 1;
        }
        POSTERN_LOG(Info, "created the configuration from the default",
                    "config=" + common::logfmtValue(config.string()) +
                        " default=" + common::logfmtValue(fallback.string()));
    }
    POSTERN_LOG(Info, "service starting", "config=" + common::logfmtValue(config.string()));
    // Relative paths in the config (access log, plugin dirs) resolve against its folder; the
    // working directory of a service is System32.
    fs::current_path(config.parent_path(), ec);
    return runGateway(config.string(), true, platform);
}

}  // namespace

int windowsMain(int argc, wchar_t** argv) {
    Poco::Net::initializeNetwork();  // static Poco on MinGW: the auto-initialiser is MSVC-only
    PosternApp app;
    return app.run(argc, argv);
}

}  // namespace postern::service
