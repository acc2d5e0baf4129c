#!/usr/bin/env python3
"""GET /metrics checked by a real Prometheus (Debian's `prometheus` package).

(a) `promtool check metrics` on a scrape: the exposition must parse and lint with no problem.
(b) A real prometheus server (loopback, temp storage, scrape_interval 1s, Bearer token since the
    admin endpoint here sets token + protect_reads) scrapes postern; its query API must see
    postern_backend_up{backend=B} = 1, and 0 after B is killed, while the other backend stays 1.
Every process is started here and ended by PID.

Usage: prometheus_test.py [--postern build/bin/postern] [--artifacts DIR]
Exit: 0 pass, 1 fail, 77 prometheus/promtool not found (the caller decides whether that is allowed).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admin_harness as h  # noqa: E402

TOKEN = "scrape-secret-7f3a"
# Probe 200 ms x 2 failures, then one scrape (1 s) and the query: room for a busy machine.
DOWN_BOUND = 20.0


def free_port():
    """A loopback port nothing listens on now (prometheus cannot report an ephemeral one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def promtool_check(promtool, url):
    status, text = h.http_get(url + "/metrics", token=TOKEN)
    if status != 200:
        raise h.TestFailure("GET /metrics answered %d: %.300s" % (status, text))
    for name in ("postern_backend_up", "postern_connections_active", "postern_bytes_total",
                 "postern_config_reloads_total", "postern_probe_duration_seconds_bucket"):
        if name not in text:
            raise h.TestFailure("/metrics has no %s" % name)
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or out:
        raise h.TestFailure("promtool check metrics (exit %d):\n%s" % (r.returncode, out))
    h.log("promtool check metrics: no problems in %d lines" % len(text.splitlines()))


class Prometheus:
    def __init__(self, binary, target, dir):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        config = os.path.join(dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: postern
    authorization:
      type: Bearer
      credentials: {TOKEN}
    static_configs:
      - targets: ["{target}"]
""")
        self.log_path = os.path.join(dir, "prometheus.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "--config.file=" + config,
                 "--storage.tsdb.path=" + os.path.join(dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=info"],
                cwd=dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                raise h.TestFailure("prometheus exited with %s" % self.proc.returncode)
            try:
                return h.http_get(self.url + "/-/ready", timeout=2)[0] == 200
            except OSError:
                return False
        h.wait_until("prometheus to be ready", ready, h.START_TIMEOUT)

    def query(self, expr):
        """{label-set-json: value} of an instant query."""
        status, body = h.http_get(self.url + "/api/v1/query?query=" + urllib.parse.quote(expr))
        if status != 200:
            raise h.TestFailure("query %s answered %d: %s" % (expr, status, body))
        data = json.loads(body)["data"]["result"]
        return {json.dumps(r["metric"], sort_keys=True): r["value"][1] for r in data}

    def value(self, expr):
        """The single value of `expr`, or None while it has no sample."""
        result = self.query(expr)
        if len(result) > 1:
            raise h.TestFailure("%s matched %d series: %s" % (expr, len(result), result))
        return next(iter(result.values()), None)

    def stop(self):
        h.end_process(self.proc, "prometheus")


def main():
    args = h.arguments(__doc__.splitlines()[0])
    prometheus_bin, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prometheus_bin or not promtool:
        h.log("SKIP prometheus test: no prometheus/promtool (apt-get install -y prometheus)")
        return 77

    backends, postern, prom = [], None, None
    scratch = tempfile.mkdtemp(prefix="postern-prometheus-")

    def body():
        nonlocal postern, prom
        backends.extend([h.Backend(), h.Backend()])
        postern = h.Postern(args.postern, h.gateway_toml(
            backends, admin_extra='token = "%s"\nprotect_reads = true' % TOKEN))
        url = postern.admin_url()
        a, b = backends
        for backend in backends:
            postern.wait_log(r'msg="backend up" pool=app backend=%s' % backend.address)
        if h.http_get(url + "/metrics")[0] != 401:
            raise h.TestFailure("/metrics without the token must answer 401 (protect_reads)")
        promtool_check(promtool, url)

        prom = Prometheus(prometheus_bin, url[len("http://"):], scratch)
        prom.wait_ready()
        up_a = 'postern_backend_up{pool="app",backend="%s"}' % a.address
        up_b = 'postern_backend_up{pool="app",backend="%s"}' % b.address
        h.wait_until("prometheus to see both backends up",
                     lambda: prom.value(up_a) == "1" and prom.value(up_b) == "1", h.START_TIMEOUT)
        if prom.value('up{job="postern"}') != "1":
            raise h.TestFailure("prometheus does not see the scrape as up")
        h.log("prometheus sees %s = 1 and %s = 1" % (up_a, up_b))

        killed = time.monotonic()
        b.kill()
        h.wait_until("prometheus to see %s = 0" % up_b, lambda: prom.value(up_b) == "0",
                     DOWN_BOUND)
        h.log("prometheus sees %s = 0 %.2f s after the kill" % (up_b, time.monotonic() - killed))
        if prom.value(up_a) != "1":
            raise h.TestFailure("%s is no longer 1: %s" % (up_a, prom.value(up_a)))

    try:
        code = h.run("prometheus scrapes postern", body)
        if code != 0:
            if postern:
                postern.dump_logs()
            if prom:
                with open(prom.log_path, errors="replace") as f:
                    h.log("---- prometheus log ----\n" + f.read()[-4000:])
        return code
    finally:
        if prom:
            prom.stop()
        if postern:
            postern.stop()
            postern.remove_files()
        for backend in backends:
            backend.kill()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
