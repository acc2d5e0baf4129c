// What the admin endpoint (SPEC §6: GET /metrics, /status, /; POST .../drain, .../enable,
// /reload) asks of the running gateway. The admin server (admin/admin_server.h) speaks HTTP on its
// own event loop and knows nothing of pools or workers; the Gateway implements this interface.
//
// Threads: every method is called on the admin server's loop thread. Reads (metricsText,
// statusJson) take a consistent-enough snapshot without stopping workers (per-worker counters are
// summed at call time). Backend actions are carried out on the control thread and answered
// through `done`, which may run on any thread (the admin server posts it back to its loop).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/control_protocol.h"

namespace postern::admin {

/** The answer to a backend action: HTTP status and a JSON body (`{"pool":..,"backend":..,
 * "action":"drain","result":"drained"|"already draining"|..}` or `{"error":".."}`). */
struct ActionResult {
    int status = 200;  ///< 200 done, 404 no such pool / backend, 409 conflict, 503 stopping
    std::string json;
};

class AdminModel {
public:
    virtual ~AdminModel() = default;

    /** Prometheus text exposition format 0.0.4: every metric of SPEC §6 and the histograms. */
    virtual std::string metricsText() = 0;
    /** The /status JSON document (schema: docs/operations.md "Status"). */
    virtual std::string statusJson() = 0;

    enum class BackendAction { Drain, Enable };
    /** `backend` as /status shows it: "ip:port" or "[v6]:port" (already percent-decoded). */
    virtual void backendAction(std::string_view pool, std::string_view backend,
                               BackendAction action, std::function<void(ActionResult)> done) = 0;

    /** POST /reload: re-read the config file through the same path as SIGHUP and
     * `postern reload` (serialized with them); `done` gets the outcome. */
    virtual void reload(std::function<void(const server::ControlReply&)> done) = 0;
};

}  // namespace postern::admin
