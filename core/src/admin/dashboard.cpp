#include "admin/dashboard.h"

namespace postern::admin {

namespace {

// Kept as one raw string so the page ships inside the binary on every platform with no build
// step. It builds the DOM with textContent only (names from the config are never parsed as HTML).
// The favicon is an inline data: URL so the browser does not request /favicon.ico (a 404 there
// would be a console error). Elements carry data-* attributes (data-backend, data-state,
// data-listener) for scripts and the browser test.
constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Postern</title>
<style>
  :root { --up: #1a7f37; --down: #cf222e; --draining: #bf8700; --unknown: #6e7781;
          --bg: #f6f8fa; --fg: #1f2328; --line: #d0d7de; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
  header { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; padding: .6em 1em;
           background: #24292f; color: #fff; }
  header h1 { font-size: 1.2em; margin: 0; }
  header .meta { opacity: .85; }
  header label { margin-left: auto; }
  header input { width: 16em; }
  main { padding: 0 1em 2em; }
  h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
  table { border-collapse: collapse; background: #fff; width: 100%; }
  th, td { border: 1px solid var(--line); padding: .25em .5em; text-align: left;
           white-space: nowrap; }
  th { background: #eaeef2; font-weight: 600; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { display: inline-block; min-width: 5.5em; padding: 0 .5em; border-radius: 1em;
           color: #fff; text-align: center; font-weight: 600; }
  .state.up { background: var(--up); } .state.down { background: var(--down); }
  .state.draining { background: var(--draining); } .state.unknown { background: var(--unknown); }
  #banner { padding: .5em 1em; font-weight: 600; }
  #banner.ok { background: #dafbe1; color: var(--up); }
  #banner.error { background: #ffebe9; color: var(--down); }
  .err { color: var(--down); }
  .muted { color: var(--unknown); }
  button { font: inherit; padding: 0 .6em; }
</style>
</head>
<body>
<header>
  <h1>Postern</h1>
  <span class="meta" id="meta">connecting…</span>
  <label>Admin token <input id="token" type="password" autocomplete="off"
         placeholder="only if one is set"></label>
</header>
<div id="banner" class="ok">Connecting to /status…</div>
<main>
  <h2>Listeners</h2>
  <table id="listeners"><thead><tr>
    <th>Listener</th><th>Protocol</th><th>Bind</th><th>Pool</th><th>Active</th><th>Conn/s</th>
    <th>In/s</th><th>Out/s</th><th>Total</th><th>Requests</th><th>Refused</th><th>TLS failures</th>
  </tr></thead><tbody></tbody></table>
  <div id="pools"></div>
  <h2>Recent reloads</h2>
  <table id="reloads"><thead><tr>
    <th>Time</th><th>Result</th><th>Generation</th><th>Errors</th>
  </tr></thead><tbody></tbody></table>
</main>
<script>
"use strict";
const POLL_MS = 1000, TIMEOUT_MS = 5000, TOKEN_KEY = "postern.adminToken";
const tokenInput = document.getElementById("token");
tokenInput.value = sessionStorage.getItem(TOKEN_KEY) || "";
tokenInput.addEventListener("change", () => {
  sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim());
  poll();
});

// el("td", {class: "num"}, "text", childNode, ...): text children become text nodes, never HTML.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
const num = (v) => el("td", {class: "num"}, v === undefined || v === null ? "–" : v);
function bytes(n) {
  if (n === null || !isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
}
function authHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? {"Authorization": "Bearer " + t} : {};
}
function banner(text, ok) {
  const b = document.getElementById("banner");
  b.textContent = text;
  b.className = ok ? "ok" : "error";
}
function ago(iso, nowIso) {
  const s = (Date.parse(nowIso) - Date.parse(iso)) / 1000;
  if (!isFinite(s)) return "";
  if (s < 90) return Math.max(0, Math.round(s)) + " s ago";
  if (s < 5400) return Math.round(s / 60) + " min ago";
  return Math.round(s / 3600) + " h ago";
}

// Rates come from the difference between two polls of the listeners' running totals. A counter
// that went down (a restart) gives no rate for that poll rather than a negative one.
let previous = null;
function rate(now, before, dt) {
  if (before === undefined || before === null || now === undefined || now === null) return null;
  return now >= before && dt > 0 ? (now - before) / dt : null;
}

function renderListeners(status, at) {
  const body = document.querySelector("#listeners tbody");
  const before = previous ? previous.listeners : new Map();
  const dt = previous ? (at - previous.at) / 1000 : 0;
  const totals = new Map();
  body.replaceChildren();
  for (const l of status.listeners || []) {
    const p = before.get(l.name) || {};
    const cps = rate(l.connections_total, p.total, dt);
    const inps = rate(l.bytes_in, p.in, dt), outps = rate(l.bytes_out, p.out, dt);
    totals.set(l.name, {total: l.connections_total, in: l.bytes_in, out: l.bytes_out});
    body.append(el("tr", {"data-listener": l.name},
      el("td", {}, l.name), el("td", {}, l.protocol), el("td", {}, (l.bind || []).join(", ")),
      el("td", {}, l.pool === null ? el("span", {class: "muted"}, "routes") : l.pool),
      num(l.connections_active), num(cps === null ? "–" : cps.toFixed(1)),
      num(inps === null ? "–" : bytes(inps) + "/s"),
      num(outps === null ? "–" : bytes(outps) + "/s"),
      num(l.connections_total), num(l.requests_total), num(l.refused_total),
      num(l.tls_handshake_failures)));
  }
  previous = {at, listeners: totals};
}

function probeCell(probe, nowIso) {
  if (!probe) return el("td", {class: "muted"}, "no probe yet");
  const latency = typeof probe.latency_ms === "number" ? probe.latency_ms.toFixed(2) + " ms" : "";
  return el("td", {title: probe.time},
    probe.ok ? el("span", {}, "ok ") : el("span", {class: "err"}, "failed "),
    latency, " · ", ago(probe.time, nowIso),
    probe.error ? el("div", {class: "err"}, probe.error) : null);
}

async function action(pool, backend, verb) {
  const path = "/pools/" + encodeURIComponent(pool) + "/backends/" +
               encodeURIComponent(backend) + "/" + verb;
  try {
    const r = await fetch(path, {method: "POST", headers: authHeaders()});
    const text = await r.text();
    const what = verb + " " + backend;
    if (r.status === 401) banner(what + ": the admin token is required", false);
    else if (r.status === 403) banner(what + ": the admin token was refused", false);
    else if (!r.ok) banner(what + " failed (HTTP " + r.status + "): " + text, false);
    else banner(what + ": " + text, true);
  } catch (e) {
    banner(verb + " " + backend + " failed: " + e.message, false);
  }
  poll();
}

// The host name under the address, unless it only repeats the address's IP.
const named = (b) => b.host && !b.backend.startsWith(b.host + ":") &&
                     !b.backend.startsWith("[" + b.host + "]");

function renderPools(status) {
  const root = document.getElementById("pools");
  root.replaceChildren();
  for (const pool of status.pools || []) {
    const body = el("tbody");
    for (const b of pool.backends || []) {
      const state = ["up", "down", "draining", "unknown"].includes(b.state) ? b.state : "unknown";
      const toggle = b.admin_drained
        ? el("button", {onclick: () => action(pool.name, b.backend, "enable")}, "enable")
        : el("button", {onclick: () => action(pool.name, b.backend, "drain")}, "drain");
      body.append(el("tr", {"data-pool": pool.name, "data-backend": b.backend, "data-state": state},
        el("td", {}, el("span", {class: "state " + state,
                                 title: b.admin_drained ? "drained by admin" : null}, state)),
        el("td", {}, b.backend, named(b) ? el("div", {class: "muted"}, b.host) : null),
        el("td", {}, b.region === null || b.region === undefined ? "–" : b.region),
        num(b.weight), num(b.priority), num(b.active), num(b.connections_total),
        num(b.connect_failures), probeCell(b.last_probe, status.now), el("td", {}, toggle)));
    }
    root.append(el("h2", {}, "Pool " + pool.name + " ", el("span", {class: "muted"}, pool.balance)),
      el("table", {"data-pool": pool.name}, el("thead", {}, el("tr", {},
        ...["State", "Backend", "Region", "Weight", "Priority", "Active", "Total",
            "Connect failures", "Last probe", ""].map((h) => el("th", {}, h)))), body));
  }
}

function renderReloads(status) {
  const body = document.querySelector("#reloads tbody");
  body.replaceChildren();
  const reloads = status.reloads || [];
  if (reloads.length === 0)
    body.append(el("tr", {}, el("td", {colspan: 4, class: "muted"}, "none since start")));
  for (const r of reloads) {
    const errors = el("td", {});
    for (const e of r.errors || []) errors.append(el("div", {class: "err"}, e));
    body.append(el("tr", {"data-result": r.result},
      el("td", {}, r.time), el("td", {class: r.result === "applied" ? "" : "err"}, r.result),
      num(r.generation), errors));
  }
}

let timer = null, inFlight = false;
async function poll() {
  clearTimeout(timer);
  if (inFlight) return;
  inFlight = true;
  const abort = new AbortController();
  const guard = setTimeout(() => abort.abort(), TIMEOUT_MS);
  try {
    const r = await fetch("/status",
                          {headers: authHeaders(), cache: "no-store", signal: abort.signal});
    if (r.status === 401) {
      banner("The admin token is required to read the status (protect_reads): enter it above.",
             false);
    } else if (r.status === 403) {
      banner("The admin token was refused: check it and enter it again above.", false);
    } else if (!r.ok) {
      banner("GET /status answered HTTP " + r.status + ": " + (await r.text()), false);
    } else {
      const status = await r.json();
      document.getElementById("meta").textContent = "v" + status.version + " · generation " +
        status.generation + " loaded " + status.loaded + " · started " + status.started +
        " · " + status.connections_active + " active connections";
      renderListeners(status, performance.now());
      renderPools(status);
      renderReloads(status);
      banner("Live · updated " + new Date().toLocaleTimeString(), true);
    }
  } catch (e) {
    banner("Connection to Postern lost (" + (e.name === "AbortError" ? "no answer in " +
      TIMEOUT_MS / 1000 + " s" : e.message) + "); retrying every second.", false);
  } finally {
    clearTimeout(guard);
    inFlight = false;
    timer = setTimeout(poll, POLL_MS);
  }
}
poll();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view dashboardHtml() {
    return kPage;
}

}  // namespace postern::admin
