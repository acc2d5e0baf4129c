#include "windows/control_pipe.h"

#include <windows.h>

#include <memory>

#include "common/log.h"
#include "control_requests.h"
#include "server/control_protocol.h"

namespace postern::service {

namespace {

std::wstring widen(std::string_view s) {
    if (s.empty()) return {};
    int n = ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    std::wstring out(static_cast<std::size_t>(n), L'\0');
    ::MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), out.data(), n);
    return out;
}

std::string systemMessage(DWORD code) {
    char* text = nullptr;
    DWORD n = ::FormatMessageA(
        FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
        nullptr, code, 0, reinterpret_cast<char*>(&text), 0, nullptr);
    std::string out = n && text ? std::string(text, n) : "error " + std::to_string(code);
    if (text) ::LocalFree(text);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r' || out.back() == '.'))
        out.pop_back();
    return out + " (" + std::to_string(code) + ")";
}

/** Waits for an overlapped operation on `pipe`, at most `ms`, or until `stop` is set. */
bool finishOverlapped(HANDLE pipe, OVERLAPPED& ov, HANDLE stop, DWORD ms, DWORD* bytes) {
    HANDLE events[2] = {ov.hEvent, stop};
    const DWORD w = ::WaitForMultipleObjects(stop ? 2 : 1, events, FALSE, ms);
    if (w != WAIT_OBJECT_0) {
        ::CancelIoEx(pipe, &ov);
        ::GetOverlappedResult(pipe, &ov, bytes, TRUE);
        return false;
    }
    return ::GetOverlappedResult(pipe, &ov, bytes, FALSE) != 0;
}

}  // namespace

std::unique_ptr<ControlPipeServer> ControlPipeServer::open(const std::string& name,
                                                           std::string* error, bool* in_use) {
    *in_use = false;
    std::unique_ptr<ControlPipeServer> s(new ControlPipeServer());
    s->name_ = name;
    HANDLE pipe = ::CreateNamedPipeW(
        widen(name).c_str(),
        PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE | FILE_FLAG_OVERLAPPED,
        PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 4096, 4096,
        0, nullptr);
    if (pipe == INVALID_HANDLE_VALUE) {
        const DWORD e = ::GetLastError();
        *in_use = e == ERROR_ACCESS_DENIED || e == ERROR_PIPE_BUSY;
        *error = "control pipe " + name + ": " +
                 (*in_use ? std::string("another postern is running with this control pipe; stop "
                                        "it, or give this one another [gateway] control_socket")
                          : systemMessage(e));
        return nullptr;
    }
    s->pipe_ = pipe;
    s->stop_event_ = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    s->io_event_ = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
    return s;
}

ControlPipeServer::~ControlPipeServer() {
    stop();
    for (void* h : {pipe_, stop_event_, io_event_})
        if (h) ::CloseHandle(static_cast<HANDLE>(h));
}

void ControlPipeServer::start(RequestQueue& queue, const RunControl& control) {
    thread_ = std::thread([this, &queue, &control] { run(queue, control); });
    POSTERN_LOG(Info, "control pipe ready (postern reload)", "pipe=" + common::logfmtValue(name_));
}

void ControlPipeServer::stop() {
    if (!thread_.joinable()) return;
    ::SetEvent(static_cast<HANDLE>(stop_event_));
    thread_.join();
}

void ControlPipeServer::run(RequestQueue& queue, const RunControl& control) {
    HANDLE pipe = static_cast<HANDLE>(pipe_);
    HANDLE stop = static_cast<HANDLE>(stop_event_);
    for (;;) {
        OVERLAPPED ov{};
        ov.hEvent = static_cast<HANDLE>(io_event_);
        ::ResetEvent(ov.hEvent);
        bool connected = ::ConnectNamedPipe(pipe, &ov) != 0;
        if (!connected) {
            const DWORD e = ::GetLastError();
            if (e == ERROR_PIPE_CONNECTED) {
                connected = true;
            } else if (e == ERROR_IO_PENDING) {
                DWORD unused = 0;
                connected = finishOverlapped(pipe, ov, stop, INFINITE, &unused);
            } else {
                POSTERN_LOG(Error,
                            "control pipe: cannot wait for clients; postern reload cannot reach "
                            "this instance any more",
                            "error=" + common::logfmtValue(systemMessage(e)));
                return;
            }
        }
        if (::WaitForSingleObject(stop, 0) == WAIT_OBJECT_0) return;
        if (connected) serveClient(queue, control);
        ::DisconnectNamedPipe(pipe);
    }
}

void ControlPipeServer::serveClient(RequestQueue& queue, const RunControl& control) {
    HANDLE pipe = static_cast<HANDLE>(pipe_);
    HANDLE stop = static_cast<HANDLE>(stop_event_);
    std::string line;
    bool complete = false;
    while (!complete && line.size() < server::kControlMaxRequest) {
        char buf[256];
        OVERLAPPED ov{};
        ov.hEvent = static_cast<HANDLE>(io_event_);
        ::ResetEvent(ov.hEvent);
        DWORD n = 0;
        if (!::ReadFile(pipe, buf, sizeof buf, &n, &ov)) {
            if (::GetLastError() != ERROR_IO_PENDING) return;
            if (!finishOverlapped(pipe, ov, stop, 5000, &n)) return;
        } else {
            ::GetOverlappedResult(pipe, &ov, &n, FALSE);
        }
        if (n == 0) return;
        for (DWORD i = 0; i < n; ++i) {
            if (buf[i] == '\n') {
                complete = true;
                break;
            }
            line += buf[i];
        }
    }
    if (!complete) return;
    if (!line.empty() && line.back() == '\r') line.pop_back();

    const std::string out = answerControlRequest(line, queue, control, "control pipe");
    OVERLAPPED ov{};
    ov.hEvent = static_cast<HANDLE>(io_event_);
    ::ResetEvent(ov.hEvent);
    DWORD written = 0;
    if (!::WriteFile(pipe, out.data(), static_cast<DWORD>(out.size()), &written, &ov) &&
        ::GetLastError() == ERROR_IO_PENDING)
        finishOverlapped(pipe, ov, nullptr, 30000, &written);  // a large body: 30 s to read it
    ::FlushFileBuffers(pipe);
}

std::optional<std::string> controlPipeRequest(const std::string& name, std::string_view request,
                                              std::string* error, bool* no_instance) {
    *no_instance = false;
    const std::wstring wname = widen(name);
    HANDLE pipe = INVALID_HANDLE_VALUE;
    for (int attempt = 0; attempt < 20; ++attempt) {  // busy: another client is being served
        pipe = ::CreateFileW(wname.c_str(), GENERIC_READ | GENERIC_WRITE, 0, nullptr, OPEN_EXISTING,
                             0, nullptr);
        if (pipe != INVALID_HANDLE_VALUE) break;
        const DWORD e = ::GetLastError();
        if (e != ERROR_PIPE_BUSY) {
            *no_instance = e == ERROR_FILE_NOT_FOUND;
            *error = "cannot open " + name + ": " + systemMessage(e);
            if (e == ERROR_ACCESS_DENIED) *error += " (run it from an elevated prompt)";
            return std::nullopt;
        }
        ::WaitNamedPipeW(wname.c_str(), 5000);
    }
    if (pipe == INVALID_HANDLE_VALUE) {
        *error = "the control pipe " + name + " stayed busy";
        return std::nullopt;
    }
    DWORD written = 0;
    if (!::WriteFile(pipe, request.data(), static_cast<DWORD>(request.size()), &written, nullptr)) {
        *error = "cannot send the request to " + name + ": " + systemMessage(::GetLastError());
        ::CloseHandle(pipe);
        return std::nullopt;
    }
    std::string reply;
    char buf[4096];
    for (;;) {
        DWORD n = 0;
        if (!::ReadFile(pipe, buf, sizeof buf, &n, nullptr)) {
            const DWORD e = ::GetLastError();
            if (e == ERROR_BROKEN_PIPE || e == ERROR_PIPE_NOT_CONNECTED) break;  // the end
            if (e == ERROR_MORE_DATA) {
                reply.append(buf, n);
                continue;
            }
            *error = "no complete reply from " + name + ": " + systemMessage(e);
            ::CloseHandle(pipe);
            return std::nullopt;
        }
        if (n == 0) break;
        reply.append(buf, n);
        if (reply.size() > server::kControlMaxReply) {
            *error = "the reply from " + name + " is too large";
            ::CloseHandle(pipe);
            return std::nullopt;
        }
        // The server disconnects after the reply; a complete reply ends with "end\n".
        if (reply.size() >= 4 && reply.compare(reply.size() - 4, 4, "end\n") == 0 &&
            server::decodeControlReply(reply, nullptr))
            break;
    }
    ::CloseHandle(pipe);
    return reply;
}

}  // namespace postern::service
