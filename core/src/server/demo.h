// The built-in demo: the config `postern run` uses when no file is given and none is installed,
// and the two tiny HTTP backends it fronts (started in-process on 127.0.0.1:9001 and :9002, so
// `curl http://127.0.0.1:8080/` works on a fresh machine with nothing else running).
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/socket_ops.h"

namespace postern::server {

/** The demo config's TOML text. */
std::string_view demoConfigText();

/** Two demo HTTP backends, each answering every connection with one short response. */
class DemoBackends {
public:
    DemoBackends() = default;
    ~DemoBackends();
    /** Binds 127.0.0.1:9001 and :9002. False with *error when a port is taken. */
    bool start(std::string* error);
    void stop();

private:
    std::atomic<bool> stop_{false};
    std::vector<net::Fd> fds_;
    std::vector<std::thread> threads_;
};

}  // namespace postern::server
