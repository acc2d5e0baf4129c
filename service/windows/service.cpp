#include "windows/service.h"

#include <Poco/Net/Net.h>
#include <Poco/Util/ServerApplication.h>
// After Poco (which includes winsock2.h before windows.h).
#include <shlobj.h>
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "cli.h"
#include "common/log.h"
#include "config/model.h"
#include "platform.h"
#include "request_queue.h"
#include "windows/control_pipe.h"
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

// ---- the service (started by the service control manager) -------------------------------------
//
// Our own ServiceMain instead of Poco's: Poco reports RUNNING before the gateway has bound its
// listeners, answers STOP at once and reports STOPPED from ServiceMain, after which the process
// still runs its return path (StartServiceCtrlDispatcher, the application's destructor, static
// destructors, DLL detach). An uninstall that deletes postern.exe right after the stop then finds
// the image still mapped (measured under wine, whose msiexec does not wait for STOPPED at all).
// Here:
//   - RUNNING is reported once the listeners are bound and the workers run;
//   - STOP/SHUTDOWN: the handler reports STOP_PENDING, wakes ServiceMain and waits (bounded by
//     kHandlerWaitMs) until the gateway has drained and everything is torn down (threads joined,
//     plugins unloaded, the last log line written), so the caller of ControlService gets its
//     answer only then;
//   - STOPPED is the last thing ServiceMain does, and the process ends right after
//     StartServiceCtrlDispatcher returns (ExitProcess: nothing is left to tear down).

/** How long the STOP/SHUTDOWN handler waits for the teardown before it answers anyway (Windows
 * allows a handler 30 s, wine's service manager 10 s). A longer drain goes on with STOP_PENDING. */
constexpr DWORD kHandlerWaitMs = 5000;

struct ServiceState {
    std::mutex mutex;  ///< guards status
    SERVICE_STATUS_HANDLE handle = nullptr;
    SERVICE_STATUS status{};
    HANDLE stop_requested = nullptr;  ///< manual reset: the handler asked for a stop
    HANDLE torn_down = nullptr;       ///< manual reset: runGateway returned, nothing runs any more
    std::atomic<DWORD> stop_wait_hint{30000 + 5000};  ///< set at RUNNING, read by the handler
    DWORD exit_code = 0;  ///< ServiceMain's result, for ExitProcess
    /** The main thread's requests: STOP and PARAMCHANGE are posted here by the handler. */
    RequestQueue queue;
};

ServiceState g_service;

/** From ServiceMain's thread and the handler's. SetServiceStatus is called outside the lock: under
 * wine a STOPPED report waits for a running handler to return. */
void reportStatus(DWORD state, DWORD wait_hint = 0) {
    SERVICE_STATUS st;
    {
        std::lock_guard lock(g_service.mutex);
        auto& s = g_service.status;
        s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
        s.dwCurrentState = state;
        // PARAMCHANGE (`sc control postern paramchange`) reloads the configuration.
        s.dwControlsAccepted =
            state == SERVICE_RUNNING
                ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
                : 0;
        s.dwWaitHint = wait_hint;
        s.dwCheckPoint =
            (state == SERVICE_RUNNING || state == SERVICE_STOPPED) ? 0 : s.dwCheckPoint + 1;
        st = s;
    }
    ::SetServiceStatus(g_service.handle, &st);
}

DWORD WINAPI serviceControl(DWORD control, DWORD, void*, void*) {
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        if (::WaitForSingleObject(g_service.stop_requested, 0) != WAIT_OBJECT_0) {
            reportStatus(SERVICE_STOP_PENDING, g_service.stop_wait_hint);
            ::SetEvent(g_service.stop_requested);
            g_service.queue.post({RequestQueue::Kind::Stop, "service stop", {}});
        }
        ::WaitForSingleObject(g_service.torn_down, kHandlerWaitMs);
        return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
        // The same reload as SIGHUP, run by ServiceMain's thread; its result goes to the Event
        // Log. The handler answers at once (the service manager does not wait for a reload).
        POSTERN_LOG(Info, "PARAMCHANGE received: reloading the configuration", "");
        g_service.queue.post({RequestQueue::Kind::Reload, "PARAMCHANGE", {}});
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/** [gateway] control_socket on Windows: the named pipe, when one is configured and free. */
bool openControlPipe(const config::Config& config, std::unique_ptr<ControlPipeServer>& out,
                     std::string* error) {
    const auto& g = config.gateway;
    if (g.control_socket.empty()) return true;
    bool in_use = false;
    std::string why;
    out = ControlPipeServer::open(g.control_socket, &why, &in_use);
    if (out) return true;
    if (g.control_socket_set || in_use) {
        *error = why;
        return false;
    }
    POSTERN_LOG(Warn, "no control pipe: `postern reload` cannot reach this instance",
                "error=" + common::logfmtValue(why));
    return true;
}

class ServicePlatform final : public Platform {
public:
    fs::path defaultConfigPath() const override { return dataDir() / L"postern.toml"; }

    bool started(const config::Config& config, std::string* error) override {
        if (!openControlPipe(config, pipe_, error)) return false;
        config::Millis drain{0};
        for (const auto& p : config.pools) drain = std::max(drain, p.drain_timeout);
        const config::Millis cap = std::chrono::minutes(10);
        g_service.stop_wait_hint = static_cast<DWORD>(std::min(drain, cap).count()) + 5000;
        reportStatus(SERVICE_RUNNING);
        return true;
    }

    void waitForStop(const RunControl& control) override {
        if (pipe_) pipe_->start(g_service.queue, control);
        g_service.queue.serve(control, {}, {});
        POSTERN_LOG(Info, "service stop requested", "");
    }

    RequestQueue& requests() override { return g_service.queue; }

    void stopping() override {
        g_service.queue.close("postern is stopping; nothing was reloaded");
        if (pipe_) pipe_->stop();
        reportStatus(SERVICE_STOP_PENDING, g_service.stop_wait_hint);
    }

    std::optional<std::string> controlRequest(const std::string& socket, std::string_view request,
                                              std::string* error, bool* no_instance) override {
        return controlPipeRequest(socket, request, error, no_instance);
    }

    void error(std::string_view line) override { eventlog::write(common::LogLevel::Error, line); }

private:
    std::unique_ptr<ControlPipeServer> pipe_;
};

// Services get no command line: the config is the ProgramData one, made from the default that the
// MSI installs next to postern.exe the first time (wixl cannot keep a user-edited file across
// upgrades, so the MSI never installs postern.toml itself).
int runService() {
    eventlog::install();
    ServicePlatform platform;
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
    try {
        return runGateway(config.string(), true, platform);
    } catch (const std::exception& e) {
        platform.error(std::string("postern: fatal: ") + e.what());
        return 1;
    }
}

void WINAPI serviceMain(DWORD, LPWSTR*) {
    g_service.handle = ::RegisterServiceCtrlHandlerExW(L"", serviceControl, nullptr);
    if (!g_service.handle) return;
    reportStatus(SERVICE_START_PENDING, 30000);
    const int rc = runService();  // returns with the gateway drained and destroyed
    g_service.exit_code = static_cast<DWORD>(rc);
    ::SetEvent(g_service.torn_down);  // a waiting STOP handler answers now
    {
        std::lock_guard lock(g_service.mutex);
        g_service.status.dwWin32ExitCode = rc ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
        g_service.status.dwServiceSpecificExitCode = static_cast<DWORD>(rc);
    }
    reportStatus(SERVICE_STOPPED);  // the last call: the process exits right after
}

/** True when the service control manager started this process (and the service has ended). */
bool runAsService() {
    HANDLE out = ::GetStdHandle(STD_OUTPUT_HANDLE);
    if (out != nullptr && out != INVALID_HANDLE_VALUE) return false;  // a console: not the SCM
    g_service.stop_requested = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    g_service.torn_down = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    SERVICE_TABLE_ENTRYW table[] = {{const_cast<wchar_t*>(L""), serviceMain}, {nullptr, nullptr}};
    return ::StartServiceCtrlDispatcherW(table) != 0;  // false: ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
}

// ---- the console (postern run/check/..., /registerService, /unregisterService) ---------------

/** `postern reload --service NAME`: PARAMCHANGE through the service control manager. */
int sendParamChange(const std::string& name, Platform& platform) {
    const std::wstring wname(name.begin(), name.end());
    auto fail = [&](const std::string& what, DWORD e) {
        platform.error("postern: " + what + " (error " + std::to_string(e) + ")");
        return 1;
    };
    SC_HANDLE manager = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
    if (!manager) return fail("cannot open the service control manager", ::GetLastError());
    SC_HANDLE svc = ::OpenServiceW(manager, wname.c_str(), SERVICE_PAUSE_CONTINUE);
    if (!svc) {
        const DWORD e = ::GetLastError();
        ::CloseServiceHandle(manager);
        if (e == ERROR_SERVICE_DOES_NOT_EXIST) return fail("no service named " + name, e);
        if (e == ERROR_ACCESS_DENIED)
            return fail("not allowed to control the service " + name + " (run it elevated)", e);
        return fail("cannot open the service " + name, e);
    }
    SERVICE_STATUS status{};
    const BOOL sent = ::ControlService(svc, SERVICE_CONTROL_PARAMCHANGE, &status);
    const DWORD e = ::GetLastError();
    ::CloseServiceHandle(svc);
    ::CloseServiceHandle(manager);
    if (!sent) {
        if (e == ERROR_SERVICE_NOT_ACTIVE)
            return fail("no running instance: the service " + name + " is not running", e);
        return fail("the service " + name + " did not take the PARAMCHANGE control", e);
    }
    std::printf(
        "PARAMCHANGE sent to the service %s: it re-reads its configuration; the result is "
        "in the Event Log (Application, source Postern). `postern reload` without "
        "--service waits for the result and reports it.\n",
        name.c_str());
    return 0;
}

class PosternApp final : public Poco::Util::ServerApplication {
public:
    /** Ctrl-C, Ctrl-Break or closing the console. */
    void waitForStopRequest() { waitForTerminationRequest(); }

protected:
    int main(const std::vector<std::string>& args) override;
};

class ConsolePlatform final : public Platform {
public:
    explicit ConsolePlatform(PosternApp& app) : app_(app) {}

    fs::path defaultConfigPath() const override { return dataDir() / L"postern.toml"; }

    int reloadService(const std::string& name) override { return sendParamChange(name, *this); }

    std::string_view usageExtra() const override {
        return "Windows service (as Administrator):\n"
               "  reload --service [NAME]  send the service (default: postern) its PARAMCHANGE\n"
               "                      control, as `sc control postern paramchange` does: it\n"
               "                      reloads; the result goes to the Event Log\n"
               "  /registerService [/displayName=NAME] [/description=TEXT] [/startup=auto|manual]\n"
               "  /unregisterService\n"
               "  The service reads %ProgramData%\\Postern\\postern.toml (created from\n"
               "  config.default.toml next to postern.exe when missing) and logs to the Event Log\n"
               "  (Application, source \"Postern\").\n";
    }

    bool started(const config::Config& config, std::string* error) override {
        return openControlPipe(config, pipe_, error);
    }

    void waitForStop(const RunControl& control) override {
        // Ctrl-C / Ctrl-Break / closing the console is the one stop of a console run: a thread
        // waits for it and posts the stop, so the main thread can serve reloads meanwhile.
        std::thread waiter([this] {
            app_.waitForStopRequest();
            queue_.post({RequestQueue::Kind::Stop, "console", {}});
        });
        if (pipe_) pipe_->start(queue_, control);
        queue_.serve(control, {}, {});
        waiter.join();
        POSTERN_LOG(Info, "console stop requested", "");
    }

    RequestQueue& requests() override { return queue_; }

    void stopping() override {
        queue_.close("postern is stopping; nothing was reloaded");
        if (pipe_) pipe_->stop();
    }

    std::optional<std::string> controlRequest(const std::string& socket, std::string_view request,
                                              std::string* error, bool* no_instance) override {
        return controlPipeRequest(socket, request, error, no_instance);
    }

private:
    PosternApp& app_;
    RequestQueue queue_;
    std::unique_ptr<ControlPipeServer> pipe_;
};

int PosternApp::main(const std::vector<std::string>& args) {
    ConsolePlatform platform(*this);
    return runCli(args, platform);
}

}  // namespace

int windowsMain(int argc, wchar_t** argv) {
    Poco::Net::initializeNetwork();  // static Poco on MinGW: the auto-initialiser is MSVC-only
    if (runAsService()) {
        // SERVICE_STOPPED has been reported and everything was torn down before it: end the
        // process now, without static destructors, so that nothing keeps postern.exe mapped
        // (an uninstall deletes it right after the stop).
        ::ExitProcess(g_service.exit_code);
    }
    PosternApp app;
    return app.run(argc, argv);
}

}  // namespace postern::service
