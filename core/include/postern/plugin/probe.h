// postern/plugin/probe.h — the health-probe plugin interface of the C++ SDK.
// Part of the header-only plugin SDK: standard library and abi.h only.
//
// Probes are sans-I/O. The core connects (TCP, an optional PROXY line, TLS when transport() asks
// for it), runs the timeout, the interval and the healthy/unhealthy thresholds; a session only
// writes request bytes and judges response bytes. So a probe is unit-tested by feeding it bytes.
//
//     class MyProbe : public postern::sdk::Probe {
//     public:
//         static std::unique_ptr<MyProbe> create(postern::sdk::Config&, postern::sdk::Host&) noexcept;
//         std::unique_ptr<postern::sdk::ProbeSession> newSession(const postern_backend&) noexcept override;
//     };
//     POSTERN_PROBE_PLUGIN("my_probe", "1.0.0", MyProbe);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

#include "postern/plugin/abi.h"
#include "postern/plugin/config.h"
#include "postern/plugin/descriptor.h"
#include "postern/plugin/host.h"
#include "postern/plugin/str.h"

namespace postern::sdk {

/** A session's judgement so far. */
enum class Verdict {
    NeedMore = POSTERN_VERDICT_NEED_MORE,    ///< keep the connection open and wait for more bytes
    Healthy = POSTERN_VERDICT_HEALTHY,       ///< this check passed
    Unhealthy = POSTERN_VERDICT_UNHEALTHY,   ///< this check failed (say why in result())
    Drain = POSTERN_VERDICT_DRAIN,           ///< healthy, but the backend wants no new connections
};

/** How the core should reach the backend before the session starts. */
struct Transport {
    bool tls = false;        ///< complete a TLS handshake before onConnected()
    std::string_view sni;    ///< empty = the backend's host name; must live as long as the Probe
    std::string_view alpn;   ///< comma-separated protocol list, may be empty; lives as the Probe
};

/** Details of a session's last verdict. */
struct ProbeResult {
    std::string_view reason;    ///< why the verdict was Unhealthy; must live as long as the session
    double utilization = -1.0;  ///< 0..1 as reported by the backend; negative = not reported
};

/** Where a session appends bytes to send to the backend. Implemented by the core; valid only during
 * the onConnected()/onData() call it is handed to. */
class Output {
public:
    /** Wraps the core's output table (`out` may be NULL: writes are dropped). */
    explicit Output(const postern_output* out) noexcept : out_(out) {}

    /** Appends `bytes` to what the core sends next (copied before the call returns). Same thread
     * as the session call it was handed to. */
    void write(std::string_view bytes) noexcept {
        if (out_ != nullptr && out_->write != nullptr && !bytes.empty())
            out_->write(out_->ctx, str(bytes));
    }

private:
    const postern_output* out_;
};

/** One check attempt against one backend. Created by Probe::newSession and driven by the core's
 * health-check loop on the control thread, one call at a time; destroyed when the check ends
 * (verdict, timeout or connection error). */
class ProbeSession {
public:
    virtual ~ProbeSession() = default;

    /** The transport is up (TCP connected, PROXY line sent, TLS done if asked for). Write the
     * request, if any, and return a verdict, or Verdict::NeedMore to wait for response bytes.
     * Control thread. */
    virtual Verdict onConnected(Output& out) noexcept = 0;

    /** Bytes arrived (`eof` = the backend closed its side; `data` may then be empty). `data` is
     * only what arrived since the last call: buffer it yourself if you need more. Return a verdict
     * or Verdict::NeedMore (optionally writing more). Control thread. */
    virtual Verdict onData(std::string_view data, bool eof, Output& out) noexcept = 0;

    /** Details of the last verdict (the reason for Unhealthy, a reported utilization). The strings
     * must stay valid until the session is destroyed. Control thread. Default: nothing to add. */
    virtual ProbeResult result() const noexcept { return {}; }
};

/** One per pool, created from the pool's `[pool.probe]` table by the plugin's static
 * `create(Config&, Host&) noexcept`. Interval, timeout and thresholds belong to the core. Every
 * method runs on the core's control thread. */
class Probe {
public:
    virtual ~Probe() = default;

    /** How the core connects before a session starts. Control thread. Default: plain TCP. */
    virtual Transport transport() const noexcept { return {}; }

    /** Starts one check against `backend` (valid only during this call: copy what you keep).
     * nullptr counts as a failed check. Control thread. */
    virtual std::unique_ptr<ProbeSession> newSession(const postern_backend& backend) noexcept = 0;
};

namespace detail {

/** The C function table for a probe plugin whose class is P. */
template <class P>
struct ProbeGlue {
    static_assert(std::is_base_of_v<Probe, P>,
                  "POSTERN_PROBE_PLUGIN: the class must derive from postern::sdk::Probe");

    static void* create(const postern_config* config, const postern_host* host) noexcept {
        Config cfg(config);
        try {
            Host h(host);
            std::unique_ptr<Probe> probe = P::create(cfg, h);
            if (!probe && cfg.ok()) reportSilentCreateFailure(cfg, "probe");
            if (!cfg.ok()) return nullptr;
            return probe.release();
        } catch (...) {
            reportCreateFailure(cfg);
            return nullptr;
        }
    }
    static void destroy(void* probe) noexcept { delete static_cast<Probe*>(probe); }
    static void transport(void* probe, postern_probe_transport* out) noexcept {
        if (out == nullptr) return;
        *out = postern_probe_transport{0, {nullptr, 0}, {nullptr, 0}};
        try {
            Transport t = static_cast<const Probe*>(probe)->transport();
            *out = postern_probe_transport{t.tls ? 1 : 0, str(t.sni), str(t.alpn)};
        } catch (...) {
        }
    }
    static void* sessionNew(void* probe, const postern_backend* backend) noexcept {
        try {
            if (backend == nullptr) return nullptr;
            std::unique_ptr<ProbeSession> s = static_cast<Probe*>(probe)->newSession(*backend);
            return s.release();
        } catch (...) {
            return nullptr;
        }
    }
    static void sessionDestroy(void* session) noexcept {
        delete static_cast<ProbeSession*>(session);
    }
    static postern_verdict onConnected(void* session, const postern_output* out) noexcept {
        try {
            Output o(out);
            return static_cast<postern_verdict>(static_cast<ProbeSession*>(session)->onConnected(o));
        } catch (...) {
            return POSTERN_VERDICT_UNHEALTHY;
        }
    }
    static postern_verdict onData(void* session, const char* data, std::size_t size, int eof,
                                  const postern_output* out) noexcept {
        try {
            Output o(out);
            std::string_view bytes = data != nullptr ? std::string_view(data, size) : std::string_view();
            return static_cast<postern_verdict>(
                static_cast<ProbeSession*>(session)->onData(bytes, eof != 0, o));
        } catch (...) {
            return POSTERN_VERDICT_UNHEALTHY;
        }
    }
    static void result(void* session, postern_probe_result* out) noexcept {
        if (out == nullptr) return;
        *out = postern_probe_result{{nullptr, 0}, -1.0};
        try {
            ProbeResult r = static_cast<const ProbeSession*>(session)->result();
            *out = postern_probe_result{str(r.reason), r.utilization};
        } catch (...) {
        }
    }

    static constexpr postern_probe_ops ops{&create,      &destroy,        &transport,
                                           &sessionNew,  &sessionDestroy, &onConnected,
                                           &onData,      &result};
};

}  // namespace detail
}  // namespace postern::sdk

/** Exports a probe plugin: `name_literal` ([a-z0-9_]+) is what pools name in
 * `[pool.probe] plugin = "..."`, `version_literal` the plugin's own version. `ProbeClass` derives
 * from postern::sdk::Probe and has
 * `static std::unique_ptr<ProbeClass> create(postern::sdk::Config&, postern::sdk::Host&) noexcept`
 * returning nullptr after reporting every problem through the Config. Once per library, at global
 * scope. */
#define POSTERN_PROBE_PLUGIN(name_literal, version_literal, ProbeClass)                    \
    POSTERN_SDK_DEFINE_DESCRIPTOR_(POSTERN_KIND_PROBE, name_literal, version_literal, nullptr, \
                                   nullptr, &::postern::sdk::detail::ProbeGlue<ProbeClass>::ops)
