// postern/plugin/sdk.h — the Postern plugin SDK: include this one header to write a plugin.
//
// Header-only C++20 over the plain-C ABI in abi.h (standard library only: no Boost, Poco or
// toml++). A plugin author writes an ordinary C++ class (a BalancerFactory, a Discovery or a Probe)
// with a static `create(postern::sdk::Config&, postern::sdk::Host&) noexcept` and exports it with
// one of POSTERN_BALANCER_PLUGIN / POSTERN_DISCOVERY_PLUGIN / POSTERN_PROBE_PLUGIN. The macros
// generate the C function tables (every entry noexcept, catching every exception) and the single
// exported symbol `postern_plugin_descriptor`. See docs/plugins.md.
#pragma once

#include "postern/plugin/abi.h"
#include "postern/plugin/balancer.h"
#include "postern/plugin/config.h"
#include "postern/plugin/descriptor.h"
#include "postern/plugin/discovery.h"
#include "postern/plugin/host.h"
#include "postern/plugin/probe.h"
#include "postern/plugin/str.h"
