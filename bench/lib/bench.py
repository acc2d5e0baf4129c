#!/usr/bin/env python3
"""Postern L4 benchmark driver (started by bench/run.sh; see bench/README.md).

Starts a backend nginx on loopback, then for every thread count, round, scenario and target
(direct, postern, haproxy, nginx -- always in that order, so runs alternate A B C D A B C D ...)
starts the proxy afresh as a foreground child, waits until an HTTP GET through it succeeds,
measures, and stops it by PID. Every child gets PR_SET_PDEATHSIG and is killed by PID on exit.
"""

import argparse
import base64
import ctypes
import datetime
import hashlib
import http.client
import json
import os
import platform
import random
import resource
import select
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)
WRK_LUA = os.path.join(HERE, "report.lua")

ALL_TARGETS = ["direct", "postern", "haproxy", "nginx"]
TCP_SCENARIOS = ["keepalive", "newconn", "bulk", "idle"]
# Postern only: the keep-alive load while the config is reloaded RELOADS times (issue 13).
RELOAD_SCENARIOS = ["reload"]
# Postern only: the HTTP keep-alive load with the admin endpoint on and /metrics scraped every
# METRICS_EVERY seconds (issue 15), against Postern's http-keepalive row of the same run.
METRICS_SCENARIOS = ["http-metrics"]
METRICS_EVERY = 1.0
POSTERN_ONLY_SCENARIOS = RELOAD_SCENARIOS + METRICS_SCENARIOS
RELOADS = 10
# TLS scenario -> (certificate key type, one TLS connection per request?)
TLS_SCENARIOS = {"tls-hs-ecdsa": ("ecdsa", True), "tls-hs-rsa": ("rsa", True),
                 "tls-keepalive": ("ecdsa", False)}
# HTTP (issue 14): the proxies speak HTTP/1.1 to the client and keep a pool of idle backend
# connections (Postern `protocol = "http"`, HAProxy `mode http`, nginx `proxy_pass` + upstream
# `keepalive`); the backend is the same nginx.
HTTP_SCENARIOS = ["http-keepalive", "http-newconn"]
# WebSocket (issue 14): upgraded sessions through the HTTP configs to the ws_bench echo backend.
WS_SCENARIOS = ["ws-idle", "ws-echo"]
L7_SCENARIOS = HTTP_SCENARIOS + METRICS_SCENARIOS + WS_SCENARIOS
ALL_SCENARIOS = TCP_SCENARIOS + list(TLS_SCENARIOS) + RELOAD_SCENARIOS + L7_SCENARIOS
SCENARIO_GROUPS = {"tcp": TCP_SCENARIOS, "tls": list(TLS_SCENARIOS),
                   "http": HTTP_SCENARIOS + METRICS_SCENARIOS, "ws": WS_SCENARIOS,
                   "l7": L7_SCENARIOS}
WRK_SCENARIOS = {  # scenario -> (path, connections, Connection: close)
    "keepalive": ("/1k", 64, False), "newconn": ("/1k", 64, True), "bulk": ("/1m", 8, False),
    "tls-hs-ecdsa": ("/1k", 64, True), "tls-hs-rsa": ("/1k", 64, True),
    "tls-keepalive": ("/1k", 64, False), "reload": ("/1k", 64, False),
    "http-metrics": ("/1k", 64, False),
    "http-keepalive": ("/1k", 64, False), "http-newconn": ("/1k", 64, True),
}
WS_ECHO_CONNS = 64   # like wrk -c64: 64 sessions, one message in flight on each
WS_ECHO_SIZE = 32    # bytes of payload per message (a small binary frame, masked by the client)
WS_BENCH_C = os.path.join(HERE, "ws_bench.c")
SKIP_NO_HTTP = "skipped: this postern build has no HTTP listener"
TARGET_TITLE = {"direct": "direct", "postern": "Postern", "haproxy": "HAProxy", "nginx": "nginx"}

# Listening ports come from here: below the default ephemeral range (32768-60999), so they never
# collide with the source ports of the benchmark's own outgoing connections.
PORT_LO, PORT_HI = 20000, 32000

# TLS: the same on every target (and on the backend for `direct`). TLS 1.3 only, one suite, the
# key exchange groups Postern offers (X25519 first; wrk sends an X25519 key share, so X25519 is
# what every target negotiates -- checked on every run from what the client saw).
TLS_MIN_VERSION = "1.3"
TLS_SUITE = "TLS_AES_128_GCM_SHA256"
TLS_GROUPS = "X25519:P-256:P-384"
TLS_EXPECT = {"version": "TLSv1.3", "cipher": TLS_SUITE, "group": "x25519"}
TLS_KEY_EXPECT = {"ecdsa": "EC-256", "rsa": "RSA-2048"}
TLS_KEY_TITLE = {"ecdsa": "ECDSA P-256", "rsa": "RSA-2048"}
NO_RESUME_C = os.path.join(HERE, "no_resume.c")

BODY_1K = 1024
BODY_1M = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# /proc helpers


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 = state, field 3)."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return data[data.rindex(")") + 2:].split()


def children_of(pid):
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if int(_stat_fields(name)[1]) == pid:
                out.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def proc_tree(pid):
    """pid and all its descendants (nginx: master + workers)."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(children_of(p))
    return seen


def start_time(pid):
    try:
        return int(_stat_fields(pid)[19])
    except (OSError, ValueError, IndexError):
        return None


def cpu_ticks(pids):
    """utime + stime (all threads) summed over pids, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            f = _stat_fields(pid)
            total += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def machine_ticks():
    """(user+nice+system, steal, total) clock ticks of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return user + nice + system, steal, sum(v[:8])


def established_on(port):
    """Server-side TCP connections in ESTABLISHED whose local port is `port` (IPv4)."""
    n = 0
    want = f":{port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split(None, 4)
            if parts[1].endswith(want) and parts[3] == "01":
                n += 1
    return n


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------------------------------------
# child processes

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


AUTOGROUP_NICE = None  # set by --nice when the kernel groups sessions (sched_autogroup)


def set_autogroup_nice(value):
    """With sched_autogroup, CPU is shared between sessions first and nice only counts inside a
    session, so --nice must also be written to the session's autogroup."""
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(value))
    except OSError:
        pass


def _child_setup():
    # If this driver dies (even by SIGKILL), the kernel sends SIGTERM to the child.
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if AUTOGROUP_NICE is not None:  # runs after setsid(): this is the child's own autogroup
        set_autogroup_nice(AUTOGROUP_NICE)


RUNNING = []


class Child:
    def __init__(self, name, argv, logpath, cwd=None):
        self.name = name
        self.logpath = logpath
        self.argv = argv
        self.killed = False
        with open(logpath, "wb") as logf:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf,
                                      stderr=subprocess.STDOUT, cwd=cwd,
                                      preexec_fn=_child_setup, start_new_session=True)
        self.pid = self.p.pid
        RUNNING.append(self)

    def alive(self):
        return self.p.poll() is None

    def pids(self):
        return proc_tree(self.pid) if self.alive() else []

    def tail(self, n=15):
        try:
            with open(self.logpath, errors="replace") as f:
                lines = f.read().splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self, grace=10.0):
        """SIGTERM, wait `grace` s, then SIGKILL the process and any descendant it left."""
        tree = [(p, start_time(p)) for p in self.pids()]
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.killed = True
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(timeout=10)
        for pid, st in tree[1:]:  # descendants (nginx workers) still there: same PID + start time
            if st is not None and start_time(pid) == st:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self in RUNNING:
            RUNNING.remove(self)


def stop_all():
    for c in list(RUNNING):
        try:
            c.stop(grace=3.0)
        except Exception as e:  # keep cleaning up the others
            log(f"stopping {c.name} (pid {c.pid}): {e}")


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------------------------------
# ports, readiness

USED_PORTS = set()


def free_port():
    for _ in range(500):
        port = random.randrange(PORT_LO, PORT_HI)
        if port in USED_PORTS:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        USED_PORTS.add(port)
        return port
    raise BenchError(f"no free port found in {PORT_LO}-{PORT_HI}")


def http_get(port, path="/1k", timeout=2.0, tls=None):
    """(status, body length) of GET path on 127.0.0.1:port, one connection, Connection: close.
    tls: an ssl.SSLContext to speak HTTPS with (the certificate is verified for 127.0.0.1)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        if tls:
            s = tls.wrap_socket(s, server_hostname="127.0.0.1")  # takes over the descriptor
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, len(body)


WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample key; any 16 bytes in base64 will do
WS_ACCEPT = base64.b64encode(hashlib.sha1(
    (WS_KEY + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
WS_REQUEST = (f"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def ws_read_101(s, timeout):
    """Reads the answer to WS_REQUEST on s; '' when it is a valid 101, else what is wrong. Stops
    at the end of the head: a WebSocket backend says nothing more until spoken to."""
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0 or len(data) > 16384:
            return f"no complete answer head ({len(data)} bytes)"
        s.settimeout(left)
        chunk = s.recv(4096)
        if not chunk:
            return f"closed after {len(data)} bytes: {data[:80]!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        first = head.split(b"\r\n", 1)[0][:80]
        return f"answered {first!r}"
    if WS_ACCEPT.encode() not in head:
        return "101 without the right Sec-WebSocket-Accept"
    if rest:
        return f"{len(rest)} unexpected bytes after the 101"
    return ""


def ws_check(port, timeout=2.0):
    """One upgrade on 127.0.0.1:port and one echoed message: '' when it works, else why not."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(WS_REQUEST)
        bad = ws_read_101(s, timeout)
        if bad:
            return bad
        payload = b"postern-bench"
        mask = os.urandom(4)
        s.sendall(bytes([0x82, 0x80 | len(payload)]) + mask
                  + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        want = bytes([0x82, len(payload)]) + payload
        got = b""
        deadline = time.monotonic() + timeout
        while len(got) < len(want) and time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return "" if got == want else f"echo {got[:40]!r}, expected {want!r}"
    finally:
        s.close()


def wait_ready(child, port, expect_workers=0, timeout=15.0, tls=None, ws=False):
    """Poll until GET /1k through port answers 200 with the full body (bounded). ws: until an
    upgrade through port gets a valid 101 and a message comes back echoed."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while True:
        if child is not None and not child.alive():
            raise BenchError(f"{child.name} exited with status {child.p.returncode} before "
                             f"it was ready; log tail:\n{child.tail()}")
        try:
            workers_ok = (expect_workers == 0 or child is None
                          or len(children_of(child.pid)) >= expect_workers)
            if ws:
                bad = ws_check(port)
                if not bad and workers_ok:
                    return
                last = f"WebSocket: {bad or 'ok'}, workers_ok={workers_ok}"
            else:
                status, n = http_get(port, tls=tls)
                if status == 200 and n == BODY_1K and workers_ok:
                    return
                last = f"status {status}, {n} body bytes, workers_ok={workers_ok}"
        except (OSError, ssl.SSLError) as e:  # SSLError is an OSError; said for the reader
            last = str(e)
        if time.monotonic() > deadline:
            tail = child.tail() if child else ""
            raise BenchError(f"not ready on 127.0.0.1:{port} after {timeout:.0f} s ({last})"
                             + (f"; log tail:\n{tail}" if tail else ""))
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# configurations (equal settings: connect timeout 2 s, idle/client/server timeout 60 s,
# no logging except errors to a file, no health checks, no retries)


def nofile_limit():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def backend_tls_servers(tls_ports, certs, www):
    """The backend's HTTPS servers (the `direct` target of the TLS scenarios): one per key type,
    the same certificate and TLS settings as the proxies."""
    out = ""
    for kind, port in sorted(tls_ports.items()):
        out += f"""    server {{
        listen 127.0.0.1:{port} ssl backlog=4096;
        ssl_certificate {certs[kind]['cert']};
        ssl_certificate_key {certs[kind]['key']};
{nginx_tls_settings(8)}
        root {www};
        location / {{ }}
    }}
"""
    return out


def nginx_tls_settings(indent):
    """nginx (http and stream alike): TLS 1.3 only, one suite, Postern's groups; session tickets
    and cache left at nginx's defaults (tickets on, no cache)."""
    pad = " " * indent
    return (f"{pad}ssl_protocols TLSv{TLS_MIN_VERSION};\n"
            f"{pad}ssl_conf_command Ciphersuites {TLS_SUITE};\n"
            f"{pad}ssl_ecdh_curve {TLS_GROUPS};")


def backend_conf(d, port, nofile, www, tls_servers=""):
    return f"""# backend origin: 1 worker, keep-alive, no access log
worker_processes 1;
worker_rlimit_nofile {nofile};
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections {max(1024, nofile - 100)}; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 120s;
    keepalive_requests 100000000;
    open_file_cache max=16 inactive=600s;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{ }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {www};
        location / {{ }}
        location = /status {{ stub_status; }}
    }}
{tls_servers}}}
"""


def postern_conf(port, backend_port, threads, tls=None, variant=None, extra_port=None):
    """tls: {'cert': path, 'key': path} for a `protocol = "tls"` listener. variant (the reload
    scenario): None = the plain config at level "info" (reload results are info lines); 0/1 = the
    two configs a reload alternates between: the bench listener's idle timeout changes (the kept
    listener gets a new generation) and a second listener + pool on `extra_port` comes and goes."""
    if tls:
        listener = f"""protocol = "tls"
pool = "backend"
idle_timeout = "60s"
  [listener.tls]
  certificates = [{{ cert = "{tls['cert']}", key = "{tls['key']}" }}]
  min_version = "{TLS_MIN_VERSION}"
  ciphers = "{TLS_SUITE}"
"""
    else:
        listener = """protocol = "tcp"
pool = "backend"
idle_timeout = "60s"
"""
    level = "warn"
    extra = ""
    if variant is not None:
        level = "info"
        listener = listener.replace('idle_timeout = "60s"',
                                    f'idle_timeout = "{60 + int(variant)}s"')
        if variant:
            extra = f"""[[listener]]
name = "extra"
bind = ["127.0.0.1:{extra_port}"]
pool = "extra"
[[pool]]
name = "extra"
  [pool.discovery]
  plugin = "static"
  targets = ["127.0.0.1:{backend_port}"]
"""
    return f"""# postern: {threads} worker thread(s), no access log, no health checks
[gateway]
workers = {threads}
[log]
level = "{level}"
access = "off"
[[listener]]
name = "bench"
bind = ["127.0.0.1:{port}"]
{listener}[[pool]]
name = "backend"
balancer = "round_robin"
  [pool.backend]
  connect_timeout = "2s"
  retries = 0
  [pool.discovery]
  plugin = "static"
  targets = ["127.0.0.1:{backend_port}"]
{extra}"""


def haproxy_conf(port, backend_port, threads, nofile, tls=None):
    """tls: {'combined': path (certificate + key)}: `bind ... ssl crt`, still `mode tcp`; session
    tickets and cache left at HAProxy's defaults."""
    maxconn = max(1000, (nofile - 200) // 2)
    ssl_opts = ""
    if tls:
        ssl_opts = (f" ssl crt {tls['combined']} ssl-min-ver TLSv{TLS_MIN_VERSION}"
                    f" ciphersuites {TLS_SUITE} curves {TLS_GROUPS}")
    return f"""# haproxy mode tcp: nbthread {threads}, no logging, no health checks
global
    nbthread {threads}
    maxconn {maxconn}
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 0
frontend bench
    bind 127.0.0.1:{port}{ssl_opts}
    default_backend backend
backend backend
    server s1 127.0.0.1:{backend_port}
"""


def nginx_stream_conf(d, port, backend_port, threads, nofile, module, tls=None):
    ssl_lines = ""
    if tls:
        ssl_lines = (f"\n        ssl_certificate {tls['cert']};\n        ssl_certificate_key"
                     f" {tls['key']};\n" + nginx_tls_settings(8))
    return f"""# nginx stream: {threads} worker process(es), no access log, no health checks
load_module {module};
worker_processes {threads};
worker_rlimit_nofile {nofile};
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections {max(1024, nofile - 100)}; }}
stream {{
    server {{
        listen 127.0.0.1:{port}{" ssl" if tls else ""};{ssl_lines}
        proxy_pass 127.0.0.1:{backend_port};
        proxy_connect_timeout 2s;
        proxy_timeout 60s;
        proxy_next_upstream off;
    }}
}}
"""


# HTTP configs (issue 14), used by the http-* rows (backend: the nginx) and the ws-* rows
# (backend: ws_bench). Besides the settings above: keep-alive on both sides, a pool of idle
# backend connections, X-Forwarded-For added, WebSocket upgrades passed, request / tunnel
# timeouts 60 s.
KEEPALIVE_POOL = 256  # idle backend connections kept (Postern keepalive_max, nginx keepalive)


def postern_http_conf(port, backend_port, threads, admin_port=None):
    """admin_port: the admin endpoint on (the metrics scenario), else off."""
    admin = f'[admin]\nbind = "127.0.0.1:{admin_port}"\n' if admin_port else ""
    return f"""# postern protocol http: {threads} worker thread(s), no access log, no health checks
[gateway]
workers = {threads}
[log]
level = "warn"
access = "off"
{admin}[[listener]]
name = "bench"
bind = ["127.0.0.1:{port}"]
protocol = "http"
pool = "backend"
idle_timeout = "60s"
request_timeout = "60s"
ws_idle_timeout = "60s"
[[pool]]
name = "backend"
balancer = "round_robin"
  [pool.backend]
  connect_timeout = "2s"
  retries = 0
  keepalive_idle = "60s"
  keepalive_max = {KEEPALIVE_POOL}
  [pool.discovery]
  plugin = "static"
  targets = ["127.0.0.1:{backend_port}"]
"""


def haproxy_http_conf(port, backend_port, threads, nofile):
    """mode http, keep-alive both sides (HAProxy's default), `http-reuse always`: an idle backend
    connection serves any request, also the first of a new client connection, as Postern's and
    nginx's pools do (`safe`, the default, gives the first request of each client connection a
    connection of its own: a new backend connection per request in http-newconn)."""
    maxconn = max(1000, (nofile - 200) // 2)
    return f"""# haproxy mode http: nbthread {threads}, no logging, no health checks
global
    nbthread {threads}
    maxconn {maxconn}
defaults
    mode http
    option forwardfor
    http-reuse always
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 60s
    timeout http-keep-alive 60s
    timeout tunnel 60s
    retries 0
frontend bench
    bind 127.0.0.1:{port}
    default_backend backend
backend backend
    server s1 127.0.0.1:{backend_port}
"""


def nginx_http_conf(d, port, backend_port, threads, nofile):
    """proxy_pass to an upstream with a `keepalive` pool: HTTP/1.1 upstream, `Connection` cleared
    for ordinary requests (the map gives "" without an Upgrade header) and `upgrade` for WebSocket
    upgrades, X-Forwarded-For appended. keepalive_requests unbounded on both sides, like the
    backend (nginx's default of 1,000 would close wrk's connections every 1,000 requests)."""
    return f"""# nginx http proxy_pass: {threads} worker process(es), no access log, no health checks
worker_processes {threads};
worker_rlimit_nofile {nofile};
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections {max(1024, nofile - 100)}; }}
http {{
    access_log off;
    keepalive_timeout 60s;
    keepalive_requests 100000000;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
    upstream backend {{
        server 127.0.0.1:{backend_port};
        keepalive {KEEPALIVE_POOL};
        keepalive_timeout 60s;
        keepalive_requests 100000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            proxy_send_timeout 60s;
            proxy_next_upstream off;
        }}
    }}
}}
"""


def postern_http_support(postern):
    """("ok", "") when `postern check` accepts postern_http_conf; ("unsupported", errors) when
    it says the HTTP listener is "not supported yet" (builds before issue 14); ("error", errors)
    for any other refusal."""
    d = tempfile.mkdtemp(prefix="postern-bench-check-")
    try:
        conf = os.path.join(d, "postern.toml")
        with open(conf, "w") as f:
            f.write(postern_http_conf(PORT_LO, PORT_LO + 1, 1))
        try:
            r = subprocess.run([postern, "check", "-c", conf], stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, f"postern check: {e}"
        if r.returncode == 0:
            return "ok", ""
        lines = [x.replace(conf, "postern.toml") for x in (r.stdout + r.stderr).splitlines()
                 if x.strip()]
        msg = "; ".join(lines[:4]) if lines else f"postern check exited {r.returncode}"
        # A build without the HTTP listener says so; anything else is a config this harness
        # got wrong, which must fail loudly rather than be skipped.
        return ("unsupported" if "not supported yet" in msg else "error"), msg
    finally:
        shutil.rmtree(d, ignore_errors=True)


def find_stream_module():
    for path in ("/usr/lib/nginx/modules/ngx_stream_module.so",
                 "/usr/lib64/nginx/modules/ngx_stream_module.so"):
        if os.path.exists(path):
            return path
    raise BenchError("ngx_stream_module.so not found (package libnginx-mod-stream)")


# ---------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.a = args
        self.tmp = tempfile.mkdtemp(prefix="postern-bench-")
        os.chmod(self.tmp, 0o755)  # nginx workers may run as nobody and must read www/
        self.seq = 0
        self.wrk_seq = 0
        self.nofile = nofile_limit()
        self.backend = None
        self.backend_port = None
        self.stream_module = find_stream_module()
        self.results = []
        self.raw = None
        self.tls = any(sc in TLS_SCENARIOS for sc in args.scenarios)
        self.certs = {}      # key type -> {'cert', 'key', 'combined'} (made by setup_tls)
        self.ca = None
        self.client_tls = None  # ssl.SSLContext trusting the run's CA (readiness checks)
        self.tls_ports = {}  # key type -> the backend's own HTTPS port (target `direct`)
        self.shim = None     # no_resume.so for wrk
        self.ws = any(sc in WS_SCENARIOS for sc in args.scenarios)
        self.ws_backend = None  # ws_bench server (Child), its port, the ws_bench binary
        self.ws_port = None
        self.ws_bin = None
        # ("ok" | "unsupported" | "error" | None when not asked, message): set by main()
        self.postern_http = (None, "")

    # --- TLS material ------------------------------------------------------------------------

    def _run_tool(self, argv, what):
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BenchError(f"{what}: {' '.join(argv)}: {e}")
        if r.returncode != 0:
            raise BenchError(f"{what} failed ({r.returncode}): {' '.join(argv)}\n"
                             f"{(r.stdout + r.stderr)[-1500:]}")

    def setup_tls(self):
        """A private CA and one server certificate per key type (SAN localhost, 127.0.0.1, ::1)
        in the run's temp dir, and the wrk shim that forbids session resumption."""
        d = os.path.join(self.tmp, "certs")
        os.makedirs(d)
        os.chmod(d, 0o755)  # nginx workers may run as nobody
        self.ca = os.path.join(d, "ca.pem")
        ca_key = os.path.join(d, "ca.key")
        self._run_tool(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", ca_key, "-out", self.ca,
                        "-days", "90", "-subj", "/CN=Postern bench CA",
                        "-addext", "basicConstraints=critical,CA:TRUE",
                        "-addext", "keyUsage=critical,keyCertSign,cRLSign"], "making the CA")
        ext = os.path.join(d, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
                    "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n")
        newkey = {"ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
                  "rsa": ["-newkey", "rsa:2048"]}
        for kind in sorted({TLS_SCENARIOS[sc][0] for sc in self.a.scenarios
                            if sc in TLS_SCENARIOS}):
            cert, key = os.path.join(d, f"{kind}.pem"), os.path.join(d, f"{kind}.key")
            csr = os.path.join(d, f"{kind}.csr")
            self._run_tool(["openssl", "req", "-new", "-nodes"] + newkey[kind]
                           + ["-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
                           f"making the {kind} key")
            self._run_tool(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca, "-CAkey",
                            ca_key, "-CAcreateserial", "-days", "90", "-out", cert,
                            "-extfile", ext], f"signing the {kind} certificate")
            combined = os.path.join(d, f"{kind}.combined.pem")  # HAProxy: certificate + key
            with open(combined, "w") as out:
                for part in (cert, key):
                    with open(part) as f:
                        out.write(f.read())
            for path in (cert, key, combined):
                os.chmod(path, 0o644)  # nginx workers (nobody) never read keys; the master does
            self.certs[kind] = {"cert": cert, "key": key, "combined": combined}
        self.client_tls = ssl.create_default_context(cafile=self.ca)
        self.shim = os.path.join(d, "no_resume.so")
        self._run_tool([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-O2", "-o", self.shim,
                        NO_RESUME_C, "-ldl", "-lssl", "-lcrypto"],
                       "building the wrk shim (needs a C compiler and libssl-dev)")
        log(f"TLS: private CA and {', '.join(sorted(self.certs))} certificates in {d}")

    # --- backend ---------------------------------------------------------------------------

    def start_backend(self):
        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        with open(os.path.join(www, "1k"), "wb") as f:
            f.write(b"k" * BODY_1K)
        with open(os.path.join(www, "1m"), "wb") as f:
            f.write(b"m" * BODY_1M)
        os.chmod(www, 0o755)
        d = os.path.join(self.tmp, "backend")
        os.makedirs(d)
        self.backend_port = free_port()
        tls_servers = ""
        if self.tls:
            self.setup_tls()
            self.tls_ports = {kind: free_port() for kind in self.certs}
            tls_servers = backend_tls_servers(self.tls_ports, self.certs, www)
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(backend_conf(d, self.backend_port, self.nofile, www, tls_servers))
        self.backend = Child("backend nginx",
                             ["nginx", "-p", d + "/", "-e", d + "/error.log", "-c", conf,
                              "-g", "daemon off;"], os.path.join(d, "stdout.log"))
        wait_ready(self.backend, self.backend_port, expect_workers=1)
        status, n = http_get(self.backend_port, "/1m", timeout=5)
        if status != 200 or n != BODY_1M:
            raise BenchError(f"backend /1m answered {status} with {n} bytes")
        for kind, port in sorted(self.tls_ports.items()):
            wait_ready(self.backend, port, tls=self.client_tls)
        log(f"backend nginx pid {self.backend.pid} on 127.0.0.1:{self.backend_port}"
            + "".join(f", HTTPS {kind} on {port}" for kind, port in sorted(self.tls_ports.items())))
        if self.ws:
            self.start_ws_backend()

    def start_ws_backend(self):
        """ws_bench (lib/ws_bench.c, built here) as the WebSocket echo backend: one thread, not
        pinned, like the nginx backend; it runs for the whole benchmark."""
        d = os.path.join(self.tmp, "ws")
        os.makedirs(d)
        self.ws_bin = os.path.join(d, "ws_bench")
        self._run_tool([os.environ.get("CC", "cc"), "-O2", "-o", self.ws_bin, WS_BENCH_C,
                        "-lcrypto"], "building ws_bench (needs a C compiler and libssl-dev)")
        self.ws_port = free_port()
        self.ws_backend = Child("ws backend", [self.ws_bin, "server", str(self.ws_port)],
                                os.path.join(d, "server.log"))
        wait_ready(self.ws_backend, self.ws_port, ws=True)
        log(f"WebSocket echo backend (ws_bench) pid {self.ws_backend.pid} on"
            f" 127.0.0.1:{self.ws_port}")

    def backend_accepts(self):
        """Connections the backend nginx has accepted so far (stub_status), or None."""
        try:
            s = socket.create_connection(("127.0.0.1", self.backend_port), timeout=2)
            try:
                s.sendall(b"GET /status HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            finally:
                s.close()
            lines = data.partition(b"\r\n\r\n")[2].decode().splitlines()
            i = next(k for k, x in enumerate(lines) if x.strip().startswith("server accepts"))
            return int(lines[i + 1].split()[0])
        except (OSError, ValueError, StopIteration, IndexError):
            return None

    # --- targets ---------------------------------------------------------------------------

    def start_target(self, target, threads, tls_kind=None, reload=False, mode="tcp",
                     admin=False):
        """Start `target` afresh; returns (Child or None for direct, port). tls_kind ("ecdsa",
        "rsa"): the target terminates TLS with that certificate; the backend is still plain.
        reload (postern): started on postern_conf variant 0; self.reload_ctx says how to reload.
        mode "http": the HTTP configs towards the nginx backend; "ws": the same configs towards
        the WebSocket backend (ready once an upgrade through it echoes a message). admin
        (postern, http): the admin endpoint on; self.admin_port is its port."""
        tls = self.certs[tls_kind] if tls_kind else None
        if mode == "ws":
            if target == "direct":
                return None, self.ws_port
            return self._start_l7(target, threads, self.ws_port, ws=True)
        if mode == "http":
            if target == "direct":
                return None, self.backend_port
            return self._start_l7(target, threads, self.backend_port, ws=False, admin=admin)
        if target == "direct":
            return None, (self.tls_ports[tls_kind] if tls_kind else self.backend_port)
        last = None
        for _attempt in range(3):
            self.seq += 1
            port = free_port()
            d = os.path.join(self.tmp, f"{self.seq:03d}-{target}-t{threads}")
            os.makedirs(d)
            if target == "postern":
                conf = os.path.join(d, "postern.toml")
                if reload:
                    extra_port = free_port()
                    text = postern_conf(port, self.backend_port, threads, tls, 0, extra_port)
                    self.reload_ctx = {"conf": conf, "port": port, "extra_port": extra_port,
                                       "threads": threads, "log": os.path.join(d, "output.log")}
                else:
                    text = postern_conf(port, self.backend_port, threads, tls)
                argv = [self.a.postern, "run", "-c", conf]
                workers = 0
            elif target == "haproxy":
                conf = os.path.join(d, "haproxy.cfg")
                text = haproxy_conf(port, self.backend_port, threads, self.nofile, tls)
                argv = ["haproxy", "-db", "-f", conf]
                workers = 0
            elif target == "nginx":
                conf = os.path.join(d, "nginx.conf")
                text = nginx_stream_conf(d, port, self.backend_port, threads, self.nofile,
                                         self.stream_module, tls)
                argv = ["nginx", "-p", d + "/", "-e", d + "/error.log", "-c", conf,
                        "-g", "daemon off;"]
                workers = threads
            else:
                raise BenchError(f"unknown target {target}")
            with open(conf, "w") as f:
                f.write(text)
            child = Child(target, argv, os.path.join(d, "output.log"), cwd=d)
            try:
                wait_ready(child, port, expect_workers=workers,
                           tls=self.client_tls if tls_kind else None)
                return child, port
            except BenchError as e:
                child.stop(grace=3)
                last = e
                if "in use" not in str(e).lower():  # only a lost port race is worth a retry
                    break
        raise BenchError(f"{target} did not start: {last}")

    def _start_l7(self, target, threads, backend_port, ws, admin=False):
        last = None
        for _attempt in range(3):
            self.seq += 1
            port = free_port()
            d = os.path.join(self.tmp, f"{self.seq:03d}-{target}-http-t{threads}")
            os.makedirs(d)
            workers = 0
            if target == "postern":
                conf = os.path.join(d, "postern.toml")
                self.admin_port = free_port() if admin else None
                text = postern_http_conf(port, backend_port, threads, self.admin_port)
                argv = [self.a.postern, "run", "-c", conf]
            elif target == "haproxy":
                conf = os.path.join(d, "haproxy.cfg")
                text = haproxy_http_conf(port, backend_port, threads, self.nofile)
                argv = ["haproxy", "-db", "-f", conf]
            elif target == "nginx":
                conf = os.path.join(d, "nginx.conf")
                text = nginx_http_conf(d, port, backend_port, threads, self.nofile)
                argv = ["nginx", "-p", d + "/", "-e", d + "/error.log", "-c", conf,
                        "-g", "daemon off;"]
                workers = threads
            else:
                raise BenchError(f"unknown target {target}")
            with open(conf, "w") as f:
                f.write(text)
            child = Child(target, argv, os.path.join(d, "output.log"), cwd=d)
            try:
                wait_ready(child, port, expect_workers=workers, ws=ws)
                return child, port
            except BenchError as e:
                child.stop(grace=3)
                last = e
                if "in use" not in str(e).lower():  # only a lost port race is worth a retry
                    break
        raise BenchError(f"{target} did not start: {last}")

    def target_pids(self, child, ws=False):
        """The target's processes; for `direct`, the backend's (nginx, or ws_bench for ws)."""
        if child is None:
            return (self.ws_backend if ws else self.backend).pids()
        return child.pids()

    # --- wrk -------------------------------------------------------------------------------

    def wrk(self, port, path, conns, duration, close, tls=False):
        """tls: https, with the shim that makes every handshake a full one; w["tls"] is what the
        shim counted ({"full", "resumed", "version", "cipher", "group", "key"})."""
        argv = ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", WRK_LUA]
        if close:
            argv += ["-H", "Connection: close"]
        argv.append(f"{'https' if tls else 'http'}://127.0.0.1:{port}{path}")
        env = None
        if tls:
            self.wrk_seq += 1
            report = os.path.join(self.tmp, f"wrk-tls-{self.wrk_seq:03d}.json")
            env = dict(os.environ, LD_PRELOAD=self.shim, POSTERN_BENCH_TLS_REPORT=report)
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=duration + 20, preexec_fn=_child_setup, env=env)
        except subprocess.TimeoutExpired:
            raise BenchError(f"wrk did not finish within {duration + 20} s: {' '.join(argv)}")
        out = r.stdout + r.stderr
        for line in out.splitlines():
            if line.startswith("WRKJSON "):
                w = json.loads(line[8:])
                w["text"] = out
                if tls:
                    try:
                        with open(report) as f:
                            w["tls"] = json.load(f)
                    except (OSError, ValueError) as e:
                        raise BenchError(f"the wrk TLS shim wrote no report ({report}: {e})")
                return w
        raise BenchError(f"wrk exited {r.returncode} without a summary:\n{out[-2000:]}")

    # --- one measurement ---------------------------------------------------------------------

    def reload_during(self, child, duration, stop):
        """The reload scenario's second thread: RELOADS reloads spread over the measured run,
        alternating postern_conf variants 1 and 0; each waits for its "configuration reloaded"
        line (bounded). Returns {"applied", "rejected", "seconds": [...], "problems": [...]}."""
        ctx = self.reload_ctx
        out = {"applied": 0, "rejected": 0, "seconds": [], "problems": []}
        t0 = time.monotonic()
        for i in range(RELOADS):
            at = t0 + (i + 0.5) * duration / RELOADS
            if stop.wait(max(0.0, at - time.monotonic())):
                break
            with open(ctx["conf"], "w") as f:
                f.write(postern_conf(ctx["port"], self.backend_port, ctx["threads"], None,
                                     (i + 1) % 2, ctx["extra_port"]))
            with open(ctx["log"], errors="replace") as f:
                seen = f.read().count("configuration reload")
            r0 = time.monotonic()
            os.kill(child.pid, signal.SIGHUP)
            deadline = r0 + 5
            done = False
            while time.monotonic() < deadline and not done:
                with open(ctx["log"], errors="replace") as f:
                    text = f.read()
                if text.count("configuration reload") > seen:
                    tail = text.split("configuration reload")[-1]
                    if tail.startswith("ed"):
                        out["applied"] += 1
                    else:
                        out["rejected"] += 1
                    out["seconds"].append(round(time.monotonic() - r0, 4))
                    done = True
                else:
                    time.sleep(0.005)
            if not done:
                out["problems"].append(f"reload {i + 1}: no result logged within 5 s")
        return out

    def scrape_during(self, admin_port, stop):
        """The metrics scenario's second thread: GET /metrics every METRICS_EVERY s over a
        fresh connection (as a Prometheus server with keep-alive off would), until `stop`.
        Returns {"count", "bytes" (last body), "ms": [...], "problems": [...]}."""
        out = {"count": 0, "bytes": 0, "ms": [], "problems": []}
        nxt = time.monotonic()
        while not stop.wait(max(0.0, nxt - time.monotonic())):
            nxt += METRICS_EVERY
            t = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=5)
                c.request("GET", "/metrics")
                r = c.getresponse()
                body = r.read()
                c.close()
            except (OSError, http.client.HTTPException) as e:
                out["problems"].append(f"GET /metrics: {e}")
                continue
            if r.status != 200 or b"postern_connections_total" not in body:
                out["problems"].append(f"GET /metrics answered {r.status} ({len(body)} bytes)")
                continue
            out["count"] += 1
            out["bytes"] = len(body)
            out["ms"].append(round((time.monotonic() - t) * 1000, 2))
        return out

    def run_wrk_scenario(self, scenario, target, threads):
        path, conns, close = WRK_SCENARIOS[scenario]
        tls_kind = TLS_SCENARIOS[scenario][0] if scenario in TLS_SCENARIOS else None
        tls = tls_kind is not None
        reload = scenario in RELOAD_SCENARIOS
        metrics = scenario in METRICS_SCENARIOS
        http = scenario in HTTP_SCENARIOS or metrics
        child, port = self.start_target(target, threads, tls_kind, reload=reload,
                                        mode="http" if http else "tcp", admin=metrics)
        reloader = None
        scraper = None
        accepts0 = accepts1 = None
        try:
            pids = self.target_pids(child)
            if self.a.warmup > 0:
                self.wrk(port, path, conns, self.a.warmup, close, tls)
            pids_before = self.target_pids(child)
            own = sorted(set(pids) | set(self.backend.pids()))
            if http:  # before the CPU samples: the status request is not the run's work
                accepts0 = self.backend_accepts()
            c0, b0, m0 = cpu_ticks(pids), cpu_ticks(self.backend.pids()), machine_ticks()
            o0 = cpu_ticks(own)
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            if reload or metrics:
                stop = threading.Event()
                if reload:
                    reloader = {}
                    th = threading.Thread(target=lambda: reloader.update(
                        self.reload_during(child, self.a.duration, stop)), daemon=True)
                else:
                    scraper = {}
                    th = threading.Thread(target=lambda: scraper.update(
                        self.scrape_during(self.admin_port, stop)), daemon=True)
                th.start()
            t0 = time.monotonic()
            try:
                w = self.wrk(port, path, conns, self.a.duration, close, tls)
            finally:
                if reload or metrics:
                    stop.set()
                    th.join(timeout=30)
            t1 = time.monotonic()
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            c1, b1, m1 = cpu_ticks(pids), cpu_ticks(self.backend.pids()), machine_ticks()
            o1 = cpu_ticks(own)
            if http:
                accepts1 = self.backend_accepts()
            pids_after = self.target_pids(child)
            alive = child is None or child.alive()
        finally:
            if child is not None:
                child.stop()
        secs = w["duration_us"] / 1e6
        cpu_us = (c1 - c0) * 1e6 / CLK_TCK
        wrk_ticks = ((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)) * CLK_TCK
        elapsed_ticks = (t1 - t0) * CLK_TCK * NCPU
        other = max(0.0, (m1[0] - m0[0]) - (o1 - o0) - wrk_ticks)
        res = {
            "requests": w["requests"], "bytes": w["bytes"], "seconds": secs,
            "errors": {k: w[k] for k in ("connect", "read", "write", "timeout", "status")},
            "p50_ms": w["p50_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
            "cpu_s": cpu_us / 1e6, "backend_cpu_s": (b1 - b0) / CLK_TCK,
            "wrk_cpu_s": wrk_ticks / CLK_TCK,
            "other_cpu_pct": 100 * other / elapsed_ticks if elapsed_ticks else 0,
            "steal_pct": 100 * (m1[1] - m0[1]) / elapsed_ticks if elapsed_ticks else 0,
            "wrk_text": w["text"],
        }
        if scenario == "bulk":
            mib = w["bytes"] / 2**20
            res["rate"] = mib / secs if secs else 0
            res["cpu_per_op_us"] = cpu_us / mib if mib else None
        else:
            res["rate"] = w["requests"] / secs if secs else 0
            res["cpu_per_op_us"] = cpu_us / w["requests"] if w["requests"] else None
        if accepts0 is not None and accepts1 is not None and w["requests"]:
            # Connections the backend accepted during the measured run (the second status
            # request is one of them) per 1,000 requests: 0 when a pool served them all.
            res["backend_conns_per_kreq"] = max(0, accepts1 - accepts0 - 1) * 1000 / w["requests"]
        problems = []
        if scraper is not None:
            res["scrapes"] = {k: scraper.get(k) for k in ("count", "bytes", "ms")}
            problems += scraper.get("problems", [])
            if not scraper.get("count"):
                problems.append("no /metrics scrape succeeded during the run")
        if reloader is not None:
            res["reloads"] = {k: reloader.get(k) for k in ("applied", "rejected", "seconds")}
            problems += reloader.get("problems", [])
            if reloader.get("applied") != RELOADS:
                problems.append(f"{reloader.get('applied')} of {RELOADS} reloads applied"
                                f" ({reloader.get('rejected')} rejected)")
        if tls:
            t = w["tls"]
            res["tls"] = t
            res["handshakes"] = t["full"]
            res["resumed"] = t["resumed"]
            if t["resumed"]:
                problems.append(f"{t['resumed']} of {t['full'] + t['resumed']} TLS handshakes"
                                " were resumptions (the client must do full handshakes only)")
            want = dict(TLS_EXPECT, key=TLS_KEY_EXPECT[tls_kind])
            got = {k: t.get(k) for k in want}
            if t["full"] and got != want:
                problems.append(f"negotiated {got}, expected {want} (the targets must be"
                                " configured alike)")
            if close and t["full"] < w["requests"]:
                problems.append(f"{t['full']} full handshakes for {w['requests']} requests")
        if not alive:
            problems.append(f"{target} exited during the run: {child.tail()}")
        elif set(pids_before) != set(pids_after):
            problems.append(f"{target} processes changed during the run "
                            f"({pids_before} -> {pids_after})")
        if child is not None and child.killed:
            problems.append(f"{target} did not exit within 10 s of SIGTERM (killed)")
        res["problems"] = problems
        return res

    def run_ws_echo(self, target, threads):
        """ws-echo: `ws_bench echo` (64 sessions, one 32-byte message in flight on each) through
        the target; CPU sampled when the client prints START and END around its measured
        window (after the handshakes and the warm-up on the same sessions)."""
        child, port = self.start_target(target, threads, mode="ws")
        proc = None
        out = ""
        marks = {}
        w = None
        try:
            pids = self.target_pids(child, ws=True)
            own = sorted(set(pids) | set(self.backend.pids()) | set(self.ws_backend.pids()))
            argv = [self.ws_bin, "echo", str(port), str(WS_ECHO_CONNS), str(self.a.warmup),
                    str(self.a.duration), str(WS_ECHO_SIZE)]
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, preexec_fn=_child_setup)
            fd = proc.stdout.fileno()
            buf = b""
            deadline = time.monotonic() + self.a.warmup + self.a.duration + 40
            while w is None:
                if b"\n" not in buf:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise BenchError(f"ws_bench echo gave no result within"
                                         f" {self.a.warmup + self.a.duration + 40} s: {out[-500:]}")
                    if not select.select([fd], [], [], left)[0]:
                        continue
                    data = os.read(fd, 65536)
                    if not data:
                        raise BenchError(f"ws_bench echo exited without a result: {out[-1000:]}")
                    buf += data
                    continue
                line, _, buf = buf.partition(b"\n")
                text = line.decode(errors="replace")
                out += text + "\n"
                if text in ("START", "END"):
                    marks[text] = (cpu_ticks(pids), cpu_ticks(self.ws_backend.pids()),
                                   machine_ticks(), cpu_ticks(own), time.monotonic())
                elif text.startswith("WSJSON "):
                    w = json.loads(text[7:])
            proc.wait(timeout=10)
            pids_after = self.target_pids(child, ws=True)
            alive = child is None or child.alive()
        finally:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            if child is not None:
                child.stop()
        if "START" not in marks or "END" not in marks:
            raise BenchError(f"ws_bench echo printed no START/END: {out[-1000:]}")
        (c0, b0, m0, o0, t0), (c1, b1, m1, o1, t1) = marks["START"], marks["END"]
        secs = w["duration_us"] / 1e6
        cpu_us = (c1 - c0) * 1e6 / CLK_TCK
        client_ticks = w["cpu_s"] * CLK_TCK
        elapsed_ticks = (t1 - t0) * CLK_TCK * NCPU
        other = max(0.0, (m1[0] - m0[0]) - (o1 - o0) - client_ticks)
        n = w["messages"]
        res = {
            "requests": n, "seconds": secs, "conns": w["conns"],
            "errors": {k: w[k] for k in ("connect", "handshake", "closed", "bad_frame")},
            "p50_ms": w["p50_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
            "cpu_s": cpu_us / 1e6, "backend_cpu_s": (b1 - b0) / CLK_TCK,
            "wrk_cpu_s": w["cpu_s"], "client_cpu_pct": 100 * w["cpu_s"] / secs if secs else None,
            "other_cpu_pct": 100 * other / elapsed_ticks if elapsed_ticks else 0,
            "steal_pct": 100 * (m1[1] - m0[1]) / elapsed_ticks if elapsed_ticks else 0,
            "rate": n / secs if secs else 0, "cpu_per_op_us": cpu_us / n if n else None,
            "wrk_text": out,
        }
        problems = []
        if not alive:
            problems.append(f"{target} exited during the run: {child.tail()}")
        elif set(pids) != set(pids_after):
            problems.append(f"{target} processes changed during the run ({pids} -> {pids_after})")
        if child is not None and child.killed:
            problems.append(f"{target} did not exit within 10 s of SIGTERM (killed)")
        res["problems"] = problems
        return res

    def run_ws_idle(self, target, threads):
        """ws-idle: like idle, but every connection is an upgraded WebSocket session (the 101 and
        its Sec-WebSocket-Accept checked), held open without a message."""
        n = self.a.ws_sessions
        child, port = self.start_target(target, threads, mode="ws")
        socks = []
        failed_connects, failed_hs = [], []
        try:
            pids = self.target_pids(child, ws=True)
            base_est = established_on(self.ws_port)
            before = self.stable_rss(pids)
            t0 = time.monotonic()
            i = 0
            while i < n and len(failed_connects) + len(failed_hs) <= 20:
                batch = []  # requests of a batch sent first, then the answers read
                for _ in range(min(256, n - i)):
                    i += 1
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.settimeout(5)
                    try:
                        s.connect(("127.0.0.1", port))
                        s.sendall(WS_REQUEST)
                        batch.append(s)
                    except OSError as e:
                        s.close()
                        failed_connects.append(str(e))
                for s in batch:
                    try:
                        bad = ws_read_101(s, 5)
                    except OSError as e:
                        bad = str(e) or type(e).__name__
                    if bad:
                        failed_hs.append(bad)
                        s.close()
                    else:
                        socks.append(s)
            deadline = time.monotonic() + 20
            reached = established_on(self.ws_port) - base_est
            while reached < len(socks) and time.monotonic() < deadline:
                time.sleep(0.05)
                reached = established_on(self.ws_port) - base_est
            open_secs = time.monotonic() - t0
            after = self.stable_rss(self.target_pids(child, ws=True))
            poller = select.poll()
            for s in socks:
                poller.register(s.fileno(), select.POLLIN | select.POLLRDHUP)
            closed = len(poller.poll(0))
            alive = child is None or child.alive()
        finally:
            for s in socks:
                s.close()
            if child is not None:
                child.stop()
        problems = []
        if failed_connects:
            problems.append(f"{len(failed_connects)} connects failed, e.g. {failed_connects[0]}")
        if failed_hs:
            problems.append(f"{len(failed_hs)} upgrades failed, e.g. {failed_hs[0]}")
        if len(socks) < n:
            problems.append(f"only {len(socks)} of {n} sessions were upgraded")
        if reached < len(socks):
            problems.append(f"only {reached} of {len(socks)} sessions reached the backend")
        if closed:
            problems.append(f"{closed} of {len(socks)} idle sessions were closed by the peer")
        if not alive:
            problems.append(f"{target} exited during the run")
        if child is not None and child.killed:
            problems.append(f"{target} did not exit within 10 s of SIGTERM (killed)")
        return {"conns": len(socks), "reached": reached, "rss_before_kib": before,
                "rss_after_kib": after, "rate": (after - before) / n, "open_seconds": open_secs,
                "errors": {"connect": len(failed_connects), "handshake": len(failed_hs),
                           "closed": closed, "unreached": max(0, len(socks) - reached)},
                "problems": problems}

    def run_idle(self, target, threads):
        n = self.a.idle_conns
        child, port = self.start_target(target, threads)
        socks = []
        try:
            pids = self.target_pids(child)
            base_est = established_on(self.backend_port)
            before = self.stable_rss(pids)
            t0 = time.monotonic()
            failed_connects = []
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(5)
                try:
                    s.connect(("127.0.0.1", port))
                    socks.append(s)
                except OSError as e:
                    s.close()
                    failed_connects.append(str(e))
                    if len(failed_connects) > 20:
                        break
            deadline = time.monotonic() + 20
            reached = established_on(self.backend_port) - base_est
            while reached < len(socks) and time.monotonic() < deadline:
                time.sleep(0.05)
                reached = established_on(self.backend_port) - base_est
            open_secs = time.monotonic() - t0
            after = self.stable_rss(self.target_pids(child))
            # Still open: nothing readable (no EOF, no RST) on any of them.
            poller = select.poll()
            for s in socks:
                poller.register(s.fileno(), select.POLLIN | select.POLLRDHUP)
            closed = len(poller.poll(0))
            alive = child is None or child.alive()
        finally:
            for s in socks:
                s.close()
            if child is not None:
                child.stop()
        problems = []
        if failed_connects:
            problems.append(f"{len(failed_connects)} connects failed, e.g. {failed_connects[0]}")
        if reached < n:
            problems.append(f"only {reached} of {n} connections reached the backend")
        if closed:
            problems.append(f"{closed} of {len(socks)} idle connections were closed by the peer")
        if not alive:
            problems.append(f"{target} exited during the run")
        if child is not None and child.killed:
            problems.append(f"{target} did not exit within 10 s of SIGTERM (killed)")
        return {"conns": len(socks), "reached": reached, "rss_before_kib": before,
                "rss_after_kib": after, "rate": (after - before) / n, "open_seconds": open_secs,
                "errors": {"connect": len(failed_connects), "closed": closed,
                           "unreached": max(0, n - reached)},
                "problems": problems}

    @staticmethod
    def stable_rss(pids, timeout=3.0):
        """VmRSS sum, sampled every 0.1 s until two samples agree (bounded)."""
        prev = rss_kib(pids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.1)
            cur = rss_kib(pids)
            if cur == prev:
                return cur
            prev = cur
        return prev

    def wait_quiet(self):
        """--quiet-wait S: before a run, wait (at most S seconds) until processes outside the
        benchmark use less than --quiet-below % of the machine over half a second."""
        if self.a.quiet_wait <= 0:
            return 0.0
        t0 = time.monotonic()
        while True:
            own0 = cpu_ticks(self.backend.pids())
            m0 = machine_ticks()
            time.sleep(0.5)
            m1 = machine_ticks()
            own1 = cpu_ticks(self.backend.pids())
            busy = (m1[0] - m0[0]) - (own1 - own0)
            pct = 100 * busy / (0.5 * CLK_TCK * NCPU)
            waited = time.monotonic() - t0
            if pct < self.a.quiet_below or waited >= self.a.quiet_wait:
                return round(waited, 1)

    def run_one(self, threads, rnd, scenario, target):
        if scenario in L7_SCENARIOS and target == "postern" and self.postern_http[0] != "ok":
            rec = {"threads": threads, "round": rnd, "scenario": scenario, "target": target,
                   "ok": False, "rate": None, "problems": []}
            if self.postern_http[0] == "unsupported":  # never a number that was not measured
                rec["skipped"] = SKIP_NO_HTTP
            else:
                rec["problems"] = ["postern check refused the HTTP config: "
                                   + self.postern_http[1]]
            return rec
        waited = self.wait_quiet()
        rec = {"threads": threads, "round": rnd, "scenario": scenario, "target": target,
               "loadavg": loadavg(), "time": datetime.datetime.now().isoformat(timespec="seconds"),
               "quiet_wait_s": waited}
        try:
            if scenario == "idle":
                rec.update(self.run_idle(target, threads))
            elif scenario == "ws-idle":
                rec.update(self.run_ws_idle(target, threads))
            elif scenario == "ws-echo":
                rec.update(self.run_ws_echo(target, threads))
            else:
                rec.update(self.run_wrk_scenario(scenario, target, threads))
            rec["ok"] = True
        except BenchError as e:
            rec.update({"ok": False, "rate": None, "problems": [str(e)]})
        if not self.backend.alive():
            raise BenchError(f"the backend nginx died; log tail:\n{self.backend.tail()}")
        if self.ws_backend is not None and not self.ws_backend.alive():
            raise BenchError(f"the WebSocket backend died; log tail:\n{self.ws_backend.tail()}")
        return rec

    # --- driver ----------------------------------------------------------------------------

    def run(self):
        a = self.a
        self.start_backend()
        runs = len(a.threads) * a.rounds * len(a.scenarios) * len(a.targets)
        per = {s: (a.warmup + a.duration + 1.5) for s in a.scenarios}
        if "idle" in per:
            per["idle"] = 3 + a.idle_conns / 2000
        if "ws-idle" in per:
            per["ws-idle"] = 3 + a.ws_sessions / 1500
        est = len(a.threads) * a.rounds * len(a.targets) * sum(per.values())
        log(f"{runs} runs, about {est / 60:.1f} min; temp dir {self.tmp}")
        for threads in a.threads:
            for rnd in range(1, a.rounds + 1):
                for scenario in a.scenarios:
                    for target in a.targets:
                        if scenario in POSTERN_ONLY_SCENARIOS and target != "postern":
                            continue  # reload, metrics: Postern's own rows (against its own)
                        rec = self.run_one(threads, rnd, scenario, target)
                        self.results.append(rec)
                        if self.raw:
                            slim = {k: v for k, v in rec.items() if k != "wrk_text"}
                            self.raw.write(json.dumps(slim) + "\n")
                            self.raw.flush()
                            if rec.get("wrk_text"):
                                self.raw_wrk.write(f"### t{threads} r{rnd} {scenario} {target}\n"
                                                   + rec["wrk_text"] + "\n")
                        log(f"[t{threads} r{rnd}/{a.rounds}] {scenario:9} {target:7} "
                            + describe(rec))


def describe(rec):
    if rec.get("skipped"):
        return rec["skipped"]
    if not rec.get("ok"):
        return "FAILED: " + "; ".join(rec.get("problems", []))
    s = rec["scenario"]
    if s in ("idle", "ws-idle"):
        what = "session" if s == "ws-idle" else "conn"
        out = (f"{rec['rate']:.2f} KiB/{what} ({rec['rss_before_kib']} -> {rec['rss_after_kib']} "
               f"KiB, {rec['reached']}/{rec['conns']} at backend)")
    else:
        unit = {"keepalive": "req/s", "newconn": "conn/s", "bulk": "MiB/s",
                "tls-hs-ecdsa": "hs/s", "tls-hs-rsa": "hs/s", "tls-keepalive": "req/s",
                "reload": "req/s", "http-keepalive": "req/s", "http-newconn": "req/s",
                "http-metrics": "req/s", "ws-echo": "msg/s"}[s]
        opu = {"keepalive": "req", "newconn": "conn", "bulk": "MiB", "tls-hs-ecdsa": "hs",
               "tls-hs-rsa": "hs", "tls-keepalive": "req", "reload": "req",
               "http-keepalive": "req", "http-newconn": "req", "http-metrics": "req",
               "ws-echo": "msg"}[s]
        cpo = rec["cpu_per_op_us"]
        out = (f"{rec['rate']:,.0f} {unit}, p99 {rec['p99_ms']:.2f} ms, "
               f"cpu {cpo if cpo is None else round(cpo, 1)} us/{opu}, "
               f"other load {rec['other_cpu_pct']:.0f}%")
        if rec.get("backend_conns_per_kreq") is not None:
            out += f", backend conns {rec['backend_conns_per_kreq']:.1f}/1k req"
        if rec.get("client_cpu_pct") is not None:
            out += f", client cpu {rec['client_cpu_pct']:.0f}% of a core"
        if rec.get("scrapes"):
            sc = rec["scrapes"]
            out += (f", {sc['count']} scrapes of {sc['bytes']:,} bytes, slowest"
                    f" {max(sc['ms'] or [0]):.1f} ms")
        if "reloads" in rec:
            rl = rec["reloads"]
            out += (f", reloads {rl['applied']} applied / {rl['rejected']} rejected"
                    f" (max {max(rl['seconds'] or [0]) * 1000:.0f} ms to apply)")
        if "tls" in rec:
            t = rec["tls"]
            out += (f", {t['full']:,} full + {t['resumed']} resumed handshakes"
                    f" ({t.get('version')} {t.get('cipher')} {t.get('group')} {t.get('key')})")
    errs = {k: v for k, v in rec.get("errors", {}).items() if v}
    if errs:
        out += f", errors {errs}"
    if rec.get("problems"):
        out += " | " + "; ".join(rec["problems"])
    return out


# ---------------------------------------------------------------------------------------------
# report

ROWS = [
    # scenario, key, label, format, better, target (postern/haproxy)
    ("keepalive", "rate", "req/s", "int", "higher", ("ratio>=", 1.2)),
    ("keepalive", "p99_ms", "p99 latency (ms)", "f2", "lower", None),
    ("keepalive", "cpu_per_op_us", "CPU µs/req", "f1", "lower", ("ratio<=", 0.8)),
    ("newconn", "rate", "conn/s", "int", "higher", ("ratio>=", 1.2)),
    ("newconn", "cpu_per_op_us", "CPU µs/conn", "f1", "lower", ("ratio<=", 0.8)),
    ("bulk", "rate", "MiB/s", "int", "higher", ("ratio>=", 1.3)),
    ("bulk", "cpu_per_op_us", "CPU µs/MiB", "f0", "lower", ("ratio<=", 0.8)),
    ("idle", "rate", "KiB/conn (RSS)", "f2", "lower", ("abs<=", 2.0)),
    # TLS (issue 5): >= 1.0x HAProxy on full handshakes, >= 1.2x on TLS keep-alive, CPU per op
    # <= HAProxy's.
    ("tls-hs-ecdsa", "rate", "handshakes/s", "int", "higher", ("ratio>=", 1.0)),
    ("tls-hs-ecdsa", "cpu_per_op_us", "CPU µs/handshake", "f1", "lower", ("ratio<=", 1.0)),
    ("tls-hs-rsa", "rate", "handshakes/s", "int", "higher", ("ratio>=", 1.0)),
    ("tls-hs-rsa", "cpu_per_op_us", "CPU µs/handshake", "f1", "lower", ("ratio<=", 1.0)),
    ("tls-keepalive", "rate", "req/s", "int", "higher", ("ratio>=", 1.2)),
    ("tls-keepalive", "p99_ms", "p99 latency (ms)", "f2", "lower", None),
    ("tls-keepalive", "cpu_per_op_us", "CPU µs/req", "f1", "lower", ("ratio<=", 1.0)),
    # Reload under load (issue 13): Postern only; its bar is against its own keepalive run (see
    # the "Reload under load" section): 0 errors, p99 within 2x.
    ("reload", "rate", "req/s", "int", "higher", None),
    ("reload", "p99_ms", "p99 latency (ms)", "f2", "lower", None),
    # HTTP (issue 14): keep-alive >= 1.2x HAProxy `mode http` (and nginx proxy_pass) at <= 0.8x
    # HAProxy's CPU per request; the new-connection row has no bar of its own.
    ("http-keepalive", "rate", "req/s", "int", "higher", ("ratio>=", 1.2)),
    ("http-keepalive", "p99_ms", "p99 latency (ms)", "f2", "lower", None),
    ("http-keepalive", "cpu_per_op_us", "CPU µs/req", "f1", "lower", ("ratio<=", 0.8)),
    # Metrics on (issue 15): Postern only; its bar is against its own http-keepalive run (see
    # the "Metrics on" section): CPU per request within 2 %.
    ("http-metrics", "rate", "req/s", "int", "higher", None),
    ("http-metrics", "cpu_per_op_us", "CPU µs/req", "f1", "lower", None),
    ("http-newconn", "rate", "req/s (= client conn/s)", "int", "higher", None),
    ("http-newconn", "cpu_per_op_us", "CPU µs/req", "f1", "lower", None),
    ("http-newconn", "backend_conns_per_kreq", "backend conns opened / 1k req", "f1", "none",
     None),
    # WebSocket (issue 14): <= 2 KiB per idle session beyond an idle TCP connection (the same
    # target's idle row); an echo rate against HAProxy (no bar).
    ("ws-idle", "rate", "KiB/session (RSS)", "f2", "lower", None),
    ("ws-idle", "beyond_tcp_kib", "KiB/session beyond an idle TCP conn", "f2", "lower",
     ("abs<=", 2.0)),
    ("ws-echo", "rate", "messages/s", "int", "higher", None),
    ("ws-echo", "p99_ms", "p99 latency (ms)", "f2", "lower", None),
    ("ws-echo", "cpu_per_op_us", "CPU µs/message", "f2", "lower", None),
    ("ws-echo", "client_cpu_pct", "load client CPU (% of a core)", "f0", "none", None),
]


def scenario_title(s, a):
    return {"keepalive": "keep-alive 1 KiB, wrk -c64",
            "newconn": "new connection per request, wrk -c64 `Connection: close`",
            "bulk": "bulk 1 MiB, wrk -c8",
            "idle": f"{a.idle_conns:,} idle connections",
            "tls-hs-ecdsa": "TLS full handshakes, ECDSA P-256, wrk -c64 `Connection: close`",
            "tls-hs-rsa": "TLS full handshakes, RSA-2048, wrk -c64 `Connection: close`",
            "tls-keepalive": "TLS keep-alive 1 KiB, ECDSA P-256, wrk -c64",
            "reload": f"keep-alive 1 KiB, wrk -c64, during {RELOADS} reloads (Postern only)",
            "http-keepalive": "HTTP keep-alive 1 KiB, wrk -c64 (L7 proxies, backend pool)",
            "http-metrics": "HTTP keep-alive 1 KiB, wrk -c64, admin on, /metrics scraped every"
                            f" {METRICS_EVERY:g} s (Postern only)",
            "http-newconn": "HTTP new connection per request, wrk -c64 `Connection: close`",
            "ws-idle": f"{a.ws_sessions:,} idle WebSocket sessions",
            "ws-echo": f"WebSocket echo, {WS_ECHO_CONNS} sessions, {WS_ECHO_SIZE}-byte messages"}[s]


def fmt(v, kind):
    if v is None:
        return "–"
    if kind == "int" or kind == "f0":
        return f"{v:,.0f}"
    if kind == "f1":
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def cell_values(results, threads, scenario, target, key):
    return [r[key] for r in results
            if r["threads"] == threads and r["scenario"] == scenario and r["target"] == target
            and r.get("ok") and r.get(key) is not None]


def render_report(bench, machine, started, finished):
    a = bench.a
    res = bench.results
    for r in res:  # ws-idle beyond the same target's idle TCP connection (same run and threads)
        if r["scenario"] == "ws-idle" and r.get("ok") and r["target"] != "direct":
            base = cell_values(res, r["threads"], "idle", r["target"], "rate")
            if base:
                r["beyond_tcp_kib"] = r["rate"] - statistics.median(base)
    L = []
    L.append(f"# Postern benchmark — {started:%Y-%m-%d %H:%M} on {machine['host']}")
    L.append("")
    L.append(f"Command: `{machine['command']}`")
    L.append("")
    L.append("## Machine and versions")
    L.append("")
    for k in ("cpus", "model", "kernel", "os", "memory", "haproxy", "nginx", "wrk", "postern"):
        L.append(f"- **{k}**: {machine[k]}")
    L.append("")
    L.append("## Settings")
    L.append("")
    L.append(f"- {a.rounds} round(s) of {', '.join(a.targets)} in that order (A B C D A B C D …);"
             f" each proxy started afresh for every run and stopped by PID after it.")
    L.append(f"- wrk -t1, {a.duration} s measured per run after {a.warmup} s of unmeasured warm-up"
             f" on the same proxy process; idle: {a.idle_conns:,} connections opened, RSS summed"
             " over the process tree (/proc/PID/status VmRSS) before and after, once every"
             " connection is ESTABLISHED at the backend.")
    L.append("- Equal settings on every proxy: threads/processes = N (postern `workers`, HAProxy"
             " `nbthread`, nginx `worker_processes`), connect timeout 2 s, idle/client/server"
             " timeout 60 s, no access/traffic logging, no health checks, no retries, default"
             " buffers. Backend: nginx, 1 worker, keep-alive, sendfile, no access log."
             " Nothing is pinned: wrk, proxy and backend share all the cores.")
    if any(sc in TLS_SCENARIOS for sc in a.scenarios):
        L.append(f"- TLS, the same on every target: TLS 1.3 only, suite {TLS_SUITE}, groups"
                 f" {TLS_GROUPS} (X25519 negotiated), one certificate (ECDSA P-256 or RSA-2048"
                 " from a private CA made at run time, leaf only, SAN localhost/127.0.0.1/::1);"
                 " Postern `protocol = \"tls\"` (`min_version`, `ciphers`), HAProxy `mode tcp` +"
                 " `bind … ssl crt … ssl-min-ver TLSv1.3 ciphersuites … curves …`, nginx `stream`"
                 " `listen … ssl` (`ssl_protocols`, `ssl_conf_command Ciphersuites`,"
                 " `ssl_ecdh_curve`); **direct** = the backend nginx terminating TLS itself with"
                 " the same settings. The proxies talk plain TCP to the backend. Session tickets"
                 " and caches: each product's default (all send TLS 1.3 tickets).")
        tls_runs = [r for r in res if r.get("ok") and "tls" in r]
        full = sum(r["tls"]["full"] for r in tls_runs)
        resumed = sum(r["tls"]["resumed"] for r in tls_runs)
        seen = sorted({f"{r['tls'].get('version')} {r['tls'].get('cipher')}"
                       f" {r['tls'].get('group')} {r['tls'].get('key')}" for r in tls_runs})
        L.append("- TLS client: wrk over https with an `LD_PRELOAD` shim (`lib/no_resume.c`) that"
                 " drops the session before each handshake (plain wrk resumes every connection"
                 " after its first) and counts what the client negotiated. Measured runs:"
                 f" {full:,} full handshakes, **{resumed:,} resumed**; negotiated: "
                 + ("; ".join(seen) if seen else "–") + ".")
    if any(sc in HTTP_SCENARIOS for sc in a.scenarios):
        L.append(f"- HTTP rows: the proxies parse HTTP/1.1, keep-alive on both sides, idle backend"
                 f" connections pooled ({KEEPALIVE_POOL} kept), X-Forwarded-For added: Postern"
                 " `protocol = \"http\"` (`keepalive_max`, `keepalive_idle`), HAProxy `mode http`"
                 " + `option forwardfor` + `http-reuse always`, nginx `proxy_pass` to an upstream"
                 " with `keepalive`, `proxy_http_version 1.1`, `Connection` cleared; request/"
                 "tunnel timeouts 60 s. Backend: the same nginx. \"backend conns opened / 1k req\""
                 " = the backend's accepted connections (stub_status) over the measured run.")
    if any(sc in WS_SCENARIOS for sc in a.scenarios):
        L.append(f"- WebSocket rows: the HTTP configs above in front of `ws_bench server`"
                 f" (lib/ws_bench.c: one epoll thread, echoes frames); direct = the client talks"
                 f" to it. ws-echo: `ws_bench echo`, {WS_ECHO_CONNS} sessions with one"
                 f" {WS_ECHO_SIZE}-byte masked binary message in flight each, {a.warmup} s warm-up"
                 " on the same sessions, CPU sampled around the measured window; its own CPU is"
                 " the \"load client CPU\" row (near 100 % = the client is the limit). ws-idle:"
                 f" {a.ws_sessions:,} upgraded sessions (101 + Sec-WebSocket-Accept checked), RSS"
                 " as in idle; \"beyond an idle TCP conn\" subtracts the same target's idle-row"
                 " KiB/conn of this run.")
    L.append("- CPU = utime+stime of the proxy's processes (/proc/PID/stat, all threads; nginx"
             " master+workers) over the measured wrk run ÷ operations. For **direct** it is the"
             " backend nginx's own CPU (what serving costs without a proxy).")
    L.append(f"- Scheduling: nice {os.nice(0)} (process and sched autogroup) for the driver and every process it starts"
             f" (wrk, backend, proxies alike); quiet gate: "
             + (f"before each run wait up to {a.quiet_wait:g} s until other processes use"
                f" < {a.quiet_below:g}% of the machine" if a.quiet_wait > 0 else "off") + ".")
    waits = [r.get("quiet_wait_s", 0) for r in res]
    if a.quiet_wait > 0 and waits:
        L.append(f"  Waited {sum(waits):.0f} s in total; {sum(1 for w in waits if w >= a.quiet_wait)}"
                 f" of {len(waits)} runs started without the machine getting quiet.")
    L.append(f"- Load average at start {machine['load_start']}, at end {loadavg()}; started"
             f" {started:%H:%M:%S}, finished {finished:%H:%M:%S}.")
    others = [r["other_cpu_pct"] for r in res if r.get("ok") and "other_cpu_pct" in r]
    steal = [r["steal_pct"] for r in res if r.get("ok") and "steal_pct" in r]
    if others:
        L.append(f"- CPU used by processes outside the benchmark during measured runs (approx.,"
                 f" % of all {NCPU} cores): median {statistics.median(others):.1f}%, max"
                 f" {max(others):.1f}%; hypervisor steal: median {statistics.median(steal):.1f}%,"
                 f" max {max(steal):.1f}%.")
    L.append("")
    L.append("Cells: median (min–max) over the rounds. Ratios are of medians; for rates higher"
             " is better for Postern, for CPU/latency/memory lower is better. Target = the"
             " issue's bar for Postern/HAProxy (idle: absolute KiB/conn).")
    for threads in a.threads:
        L.append("")
        L.append(f"## {threads} thread(s)/process(es) per proxy")
        L.append("")
        L.append("| scenario | metric | " + " | ".join(TARGET_TITLE[t] for t in a.targets)
                 + " | Postern/HAProxy | Postern/nginx | Postern/direct | target |")
        L.append("|---|---|" + "---:|" * len(a.targets) + "---:|---:|---:|---|")
        for scenario, key, label, kind, _better, target in ROWS:
            if scenario not in a.scenarios:
                continue
            cells, med = [], {}
            for t in a.targets:
                vals = cell_values(res, threads, scenario, t, key)
                failed = [r for r in res if r["threads"] == threads and r["scenario"] == scenario
                          and r["target"] == t and not r.get("ok") and not r.get("skipped")]
                skipped = [r for r in res if r["threads"] == threads
                           and r["scenario"] == scenario and r["target"] == t
                           and r.get("skipped")]
                if not vals:
                    cells.append("failed" if failed else ("skipped" if skipped else "–"))
                    continue
                med[t] = statistics.median(vals)
                c = fmt(med[t], kind)
                if len(vals) > 1:
                    c += f" ({fmt(min(vals), kind)}–{fmt(max(vals), kind)})"
                if failed:
                    c += f" [{len(failed)} failed]"
                cells.append(c)

            def ratio(other):
                if "postern" in med and other in med and med[other]:
                    return med["postern"] / med[other]
                return None

            ratios = [ratio("haproxy"), ratio("nginx"), ratio("direct")]
            if _better == "none":  # a diagnostic, not a figure to compare
                ratios = [None, None, None]
            tcell = ""
            if target:
                op, bar = target
                if op == "abs<=":
                    v = med.get("postern")
                    tcell = f"≤ {bar:g} KiB: " + ("–" if v is None else
                                                  ("met" if v <= bar else "not met"))
                else:
                    r = ratios[0]
                    sym = "≥" if op == "ratio>=" else "≤"
                    ok = None if r is None else (r >= bar if op == "ratio>=" else r <= bar)
                    tcell = f"{sym} {bar:g}× HAProxy: " + ("–" if ok is None else
                                                           ("met" if ok else "not met"))
            title = scenario_title(scenario, a) if key == "rate" else ""
            L.append(f"| {title} | {label} | " + " | ".join(cells) + " | "
                     + " | ".join("–" if r is None else f"{r:.2f}" for r in ratios)
                     + f" | {tcell} |")
    if "reload" in a.scenarios:
        L.append("")
        L.append("## Reload under load")
        L.append("")
        L.append(f"Postern under the keep-alive load (wrk -c64, 1 KiB) while its config is reloaded"
                 f" {RELOADS} times (SIGHUP, spread over the measured run; the configs alternate: the"
                 " kept listener's idle timeout changes and a second listener + pool come and go),"
                 " against the same load without reloads in the same run (the keepalive row)."
                 " Target: 0 errors, every reload applied, p99 ≤ 2× the run without reloads.")
        L.append("")
        L.append("| threads | req/s with reloads | p99 with reloads (ms) | p99 without (ms) | p99 ratio"
                 " | errors | reloads applied | slowest reload (ms) | target |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for threads in a.threads:
            rs = [r for r in res if r["threads"] == threads and r["scenario"] == "reload"
                  and r["target"] == "postern"]
            ok = [r for r in rs if r.get("ok")]
            base = cell_values(res, threads, "keepalive", "postern", "p99_ms")
            if not ok:
                L.append(f"| {threads} | failed | – | – | – | – | – | – | – |")
                continue
            p99 = statistics.median(r["p99_ms"] for r in ok)
            rate = statistics.median(r["rate"] for r in ok)
            nb = statistics.median(base) if base else None
            ratio = p99 / nb if nb else None
            errs = sum(sum(r.get("errors", {}).values()) for r in rs)
            applied = sum(r.get("reloads", {}).get("applied") or 0 for r in rs)
            slowest = max((s for r in rs for s in r.get("reloads", {}).get("seconds") or []),
                          default=0) * 1000
            met = (ratio is not None and ratio <= 2 and errs == 0
                   and applied == RELOADS * len(rs))
            L.append(f"| {threads} | {rate:,.0f} | {p99:.2f} | "
                     + ("–" if nb is None else f"{nb:.2f}") + " | "
                     + ("–" if ratio is None else f"{ratio:.2f}") +
                     f" | {errs} | {applied} of {RELOADS * len(rs)} | {slowest:.0f} | "
                     + ("met" if met else ("– (no keepalive row)" if ratio is None else "not met"))
                     + " |")
    if "http-metrics" in a.scenarios:
        L.append("")
        L.append("## Metrics on")
        L.append("")
        L.append(f"Postern under the HTTP keep-alive load (wrk -c64, 1 KiB) with `[admin] bind` set"
                 f" and GET /metrics every {METRICS_EVERY:g} s on a new connection, against the"
                 " same load with the admin endpoint off in the same run (the http-keepalive row)."
                 " Target: CPU per request within 2 % (ratio ≤ 1.02), 0 errors, every scrape"
                 " answered.")
        L.append("")
        L.append("| threads | req/s on | req/s off | CPU µs/req on | CPU µs/req off | CPU ratio"
                 " | scrapes | /metrics bytes | slowest scrape (ms) | target |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for threads in a.threads:
            rs = [r for r in res if r["threads"] == threads and r["scenario"] == "http-metrics"
                  and r["target"] == "postern"]
            ok = [r for r in rs if r.get("ok")]
            base = cell_values(res, threads, "http-keepalive", "postern", "cpu_per_op_us")
            base_rate = cell_values(res, threads, "http-keepalive", "postern", "rate")
            if not ok:
                L.append(f"| {threads} | failed | – | – | – | – | – | – | – | – |")
                continue
            cpu = statistics.median(r["cpu_per_op_us"] for r in ok)
            rate = statistics.median(r["rate"] for r in ok)
            nb = statistics.median(base) if base else None
            nr = statistics.median(base_rate) if base_rate else None
            ratio = cpu / nb if nb else None
            errs = sum(sum(r.get("errors", {}).values()) for r in rs)
            scrapes = sum((r.get("scrapes") or {}).get("count") or 0 for r in rs)
            size = max((r.get("scrapes") or {}).get("bytes") or 0 for r in rs)
            slowest = max((m for r in rs for m in (r.get("scrapes") or {}).get("ms") or []),
                          default=0)
            met = ratio is not None and ratio <= 1.02 and errs == 0
            L.append(f"| {threads} | {rate:,.0f} | " + ("–" if nr is None else f"{nr:,.0f}")
                     + f" | {cpu:.2f} | " + ("–" if nb is None else f"{nb:.2f}") + " | "
                     + ("–" if ratio is None else f"{ratio:.3f}")
                     + f" | {scrapes} | {size:,} | {slowest:.1f} | "
                     + ("met" if met else ("– (no http-keepalive row)" if ratio is None
                                           else "not met")) + " |")
    # errors
    L.append("")
    L.append("## Errors seen by the load generator")
    L.append("")
    L.append("wrk socket errors (connect/read/write/timeout) and non-2xx responses summed over the"
             " rounds, against the requests completed; idle: failed connects, connections closed"
             " by the peer, connections that never reached the backend; ws-idle also failed"
             " upgrades; ws-echo: failed connects and upgrades, sessions closed, wrong echoes.")
    L.append("")
    L.append("| threads | scenario | " + " | ".join(TARGET_TITLE[t] for t in a.targets) + " |")
    L.append("|---|---|" + "---|" * len(a.targets))
    any_problem = []
    for threads in a.threads:
        for scenario in a.scenarios:
            cells = []
            for t in a.targets:
                rs = [r for r in res if r["threads"] == threads and r["scenario"] == scenario
                      and r["target"] == t]
                tot = {}
                for r in rs:
                    for k, v in r.get("errors", {}).items():
                        tot[k] = tot.get(k, 0) + v
                    for p in r.get("problems", []):
                        any_problem.append(f"t{threads} r{r['round']} {scenario} {t}: {p}")
                nerr = sum(tot.values())
                if rs and all(r.get("skipped") for r in rs):
                    cells.append("skipped")
                    continue
                if scenario == "idle":
                    base = f"{sum(r.get('conns', 0) for r in rs):,} conns"
                elif scenario == "ws-idle":
                    base = f"{sum(r.get('conns', 0) for r in rs):,} sessions"
                elif scenario == "ws-echo":
                    base = f"{sum(r.get('requests', 0) for r in rs):,} msg"
                else:
                    base = f"{sum(r.get('requests', 0) for r in rs):,} req"
                detail = ", ".join(f"{k} {v:,}" for k, v in tot.items() if v)
                nfail = sum(1 for r in rs if not r.get("ok") and not r.get("skipped"))
                c = f"{nerr:,} / {base}" + (f" ({detail})" if detail else "")
                if nfail:
                    c += f"; {nfail} run(s) failed"
                cells.append(c)
            L.append(f"| {threads} | {scenario} | " + " | ".join(cells) + " |")
    skips = sorted({r["skipped"] for r in res if r.get("skipped")})
    if skips:
        L.append("")
        for sk in skips:
            L.append(f"Postern: {sk} (`postern check`: {bench.postern_http[1]}); its HTTP and"
                     " WebSocket cells were not measured.")
    if any_problem:
        L.append("")
        L.append("Problems:")
        L.append("")
        for p in any_problem:
            L.append("- " + p.replace("\n", " ⏎ ")[:600])
    L.append("")
    return "\n".join(L)


def cmd_out(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def describe_machine(a, argv):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    osname = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
        with open("/etc/debian_version") as f:
            osname += f" ({f.read().strip()})"
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError):
        pass
    rev = cmd_out(["git", "-C", a.repo, "rev-parse", "--short", "HEAD"])
    dirty = cmd_out(["git", "-C", a.repo, "status", "--porcelain", "--untracked-files=no"])
    rev_desc = f"git {rev}" + (" + uncommitted changes in the working tree" if dirty else "")
    return {
        "host": socket.gethostname(),
        "command": "bench/run.sh " + " ".join(argv),
        "cpus": f"{NCPU} (nproc {len(os.sched_getaffinity(0))})",
        "model": model,
        "kernel": platform.release(),
        "os": osname,
        "memory": mem,
        "haproxy": cmd_out(["haproxy", "-v"]).splitlines()[0],
        "nginx": cmd_out(["nginx", "-v"]).splitlines()[0],
        "wrk": cmd_out(["wrk", "-v"]).splitlines()[0],
        "postern": f"{cmd_out([a.postern, 'version']).splitlines()[0]} ({a.postern}"
                   + (", Release build by run.sh" if a.postern_built else "") + f"; {rev_desc})",
        "load_start": loadavg(),
    }


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run.sh")
    p.add_argument("--postern", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--postern-built", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--scenarios")
    p.add_argument("--targets", default=",".join(ALL_TARGETS))
    p.add_argument("--threads")
    p.add_argument("--rounds", type=int)
    p.add_argument("--duration", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--idle-conns", type=int)
    p.add_argument("--ws-sessions", type=int)
    p.add_argument("--out", default=os.path.join(BENCH_DIR, "results"))
    p.add_argument("--keep-tmp", action="store_true")
    p.add_argument("--nice", type=int, default=0)
    p.add_argument("--quiet-wait", type=float, default=0)
    p.add_argument("--quiet-below", type=float, default=15)
    a = p.parse_args(argv)
    q = a.quick
    a.threads = [int(x) for x in (a.threads or ("1" if q else "1,2")).split(",") if x]
    a.rounds = a.rounds or (1 if q else 3)
    a.duration = a.duration or (2 if q else 10)
    a.warmup = a.warmup if a.warmup is not None else (0 if q else 2)
    a.idle_conns = a.idle_conns or (500 if q else 5000)
    a.ws_sessions = a.ws_sessions or (200 if q else 10000)
    a.scenarios_given = a.scenarios is not None
    a.scenarios = [x for s in (a.scenarios or ",".join(ALL_SCENARIOS)).split(",") if s
                   for x in SCENARIO_GROUPS.get(s, [s])]
    a.targets = [t for t in ALL_TARGETS if t in a.targets.split(",")]  # always A B C D order
    bad = [s for s in a.scenarios if s not in ALL_SCENARIOS]
    if bad or not a.scenarios or not a.targets or min(a.threads) < 1 or a.rounds < 1:
        p.error(f"bad --scenarios/--targets/--threads/--rounds ({bad or ''})")
    a.scenarios = [s for s in ALL_SCENARIOS if s in a.scenarios]
    return a


def main(argv):
    a = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    # Enough descriptors for the idle scenario: raise the soft limit to the hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    want = min(want, 1 << 20)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    need = 2 * a.idle_conns + 500
    if "idle" in a.scenarios and nofile < need:
        newn = max(100, (nofile - 500) // 2)
        log(f"open-file limit {nofile} is too low for {a.idle_conns} idle connections through a"
            f" proxy; using {newn}")
        a.idle_conns = newn
    # nginx reports "worker_connections are not enough" and resets new sessions well before
    # 2 descriptors per session reach the limit (at about 9,330 sessions with 20,000), so
    # ws-idle keeps 2,000 descriptors spare.
    if "ws-idle" in a.scenarios and nofile < 2 * a.ws_sessions + 2000:
        newn = max(100, (nofile - 2000) // 2)
        log(f"open-file limit {nofile} is too low for {a.ws_sessions} WebSocket sessions through"
            f" a proxy (two descriptors each); using {newn}")
        a.ws_sessions = newn

    postern_http = (None, "")
    if "postern" in a.targets and any(s in L7_SCENARIOS for s in a.scenarios):
        postern_http = postern_http_support(a.postern)
        if postern_http[0] == "unsupported":
            log(f"postern: {SKIP_NO_HTTP} ({postern_http[1]})")
            if a.quick and not a.scenarios_given:
                # CI asserts that every target answered: the HTTP and WebSocket rows join the
                # quick run once the binary has the listener they need.
                a.scenarios = [s for s in a.scenarios if s not in L7_SCENARIOS]
                log("quick: the HTTP and WebSocket scenarios are left out for every target")
        elif postern_http[0] == "error":
            log(f"postern check refused the benchmark's HTTP config: {postern_http[1]}")

    if a.nice:
        global AUTOGROUP_NICE
        try:
            os.nice(a.nice)  # inherited by every child: wrk, backend and proxies alike
        except OSError as e:
            log(f"cannot change the nice value by {a.nice}: {e}; running at {os.nice(0)}")
        if os.path.exists("/proc/self/autogroup"):
            AUTOGROUP_NICE = os.nice(0)
            set_autogroup_nice(AUTOGROUP_NICE)
    started = datetime.datetime.now()
    shown, skip = [], False
    for x in argv:  # the command as typed: without what run.sh added
        if skip:
            skip = False
        elif x in ("--repo",) or (x == "--postern" and a.postern_built):
            skip = True
        elif x != "--postern-built":
            shown.append(x)
    machine = describe_machine(a, shown)
    stamp = f"{started:%Y-%m-%d}-{machine['host']}"
    tmpdir = os.path.join(a.out, "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    log(f"{machine['cpus']} x {machine['model']}, kernel {machine['kernel']}, load "
        f"{machine['load_start']}")
    bench = Bench(a)
    bench.postern_http = postern_http
    rawname = os.path.join(tmpdir, f"{'quick-' if a.quick else ''}{started:%Y%m%d-%H%M%S}")
    bench.raw = open(rawname + ".jsonl", "w")
    bench.raw_wrk = open(rawname + "-wrk.txt", "w")
    fatal = None
    try:
        bench.run()
    except BenchError as e:
        fatal = str(e)
        log(f"FATAL: {e}")
    finally:
        stop_all()
        bench.raw.close()
        bench.raw_wrk.close()
        if not a.keep_tmp:
            shutil.rmtree(bench.tmp, ignore_errors=True)
        else:
            log(f"kept {bench.tmp}")
    finished = datetime.datetime.now()
    report = render_report(bench, machine, started, finished)
    if fatal:
        report += f"\n**Aborted:** {fatal}\n"
    print(report)

    if a.quick:
        path = os.path.join(tmpdir, "quick-latest.md")
        with open(path, "w") as f:
            f.write(report)
        log(f"report: {path} (raw: {rawname}.jsonl)")
        return quick_verdict(bench, a, fatal)
    path = os.path.join(a.out, stamp + ".md")
    if os.path.exists(path):
        path = os.path.join(a.out, f"{started:%Y-%m-%d-%H%M}-{machine['host']}.md")
    with open(path, "w") as f:
        f.write(report)
    shutil.copyfile(path, os.path.join(a.out, "latest.md"))
    log(f"report: {path} and {os.path.join(a.out, 'latest.md')} (raw: {rawname}.jsonl)")
    failed = [r for r in bench.results if not r.get("ok") and not r.get("skipped")]
    return 1 if fatal or failed else 0


def quick_verdict(bench, a, fatal):
    bad = []
    if fatal:
        bad.append(fatal)
    per_round = sum(1 if s in POSTERN_ONLY_SCENARIOS else len(a.targets) for s in a.scenarios
                    if s not in POSTERN_ONLY_SCENARIOS or "postern" in a.targets)
    expected = len(a.threads) * a.rounds * per_round
    if len(bench.results) != expected:
        bad.append(f"{len(bench.results)} of {expected} runs happened")
    for r in bench.results:
        name = f"t{r['threads']} {r['scenario']} {r['target']}"
        if r.get("skipped"):
            log(f"{name}: {r['skipped']}")
            continue
        if not r.get("ok"):
            bad.append(f"{name}: " + "; ".join(r.get("problems", [])))
            continue
        if r["scenario"] == "idle":
            if r["errors"]["connect"] or r["errors"]["closed"] or r["errors"]["unreached"]:
                bad.append(f"{name}: {r['errors']}")
            continue
        if r["scenario"] == "ws-idle":
            if any(r["errors"].values()) or r.get("problems"):
                bad.append(f"{name}: {r['errors']} " + "; ".join(r.get("problems", [])))
            continue
        errs = sum(r["errors"].values())
        allowed = 0 if r["scenario"] in RELOAD_SCENARIOS else max(2, r["requests"] // 1000)
        if not r["rate"] or r["requests"] == 0:
            bad.append(f"{name}: no requests completed")
        elif errs > allowed:
            bad.append(f"{name}: {errs} errors {r['errors']} for {r['requests']} requests"
                       f" (allowed {allowed})")
        if r.get("problems"):
            bad.append(f"{name}: " + "; ".join(r["problems"]))
    if bad:
        log("QUICK CHECK FAILED:")
        for b in bad:
            log("  " + b.replace("\n", "\n    "))
        return 1
    skipped = sum(1 for r in bench.results if r.get("skipped"))
    log("quick check passed: every target answered every scenario"
        + (f" ({skipped} run(s) skipped, said above)" if skipped else ""))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        stop_all()
        sys.exit(130)
    finally:
        stop_all()
