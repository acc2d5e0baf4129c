"""Shared pieces of the admin endpoint's real-peer tests (browser_test.py, prometheus_test.py).

Starts the real postern binary with a TOML file on loopback and plain TCP backends (python
processes), waits for events (log lines, answers) with deadlines, and ends every process it
started by PID. No sleeps on guessed times: every wait polls for its event until a deadline.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

# Generous: the tests run on a busy 2-core CI machine next to sanitizer builds.
START_TIMEOUT = 20.0
POLL = 0.05


class TestFailure(Exception):
    pass


def log(msg):
    print("[admin-test] " + msg, file=sys.stderr, flush=True)


def wait_until(what, predicate, timeout):
    """Calls predicate() until it returns something truthy (returned) or `timeout` seconds pass
    (TestFailure naming `what`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(POLL)


def end_process(proc, name, grace=5.0):
    """SIGTERM by PID, then SIGKILL by PID if it has not exited within `grace` seconds."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log("%s (pid %d) ignored SIGTERM: SIGKILL" % (name, proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


# A TCP backend: accepts on a loopback port it prints, echoes whatever a connection sends. Enough
# for the tcp health probe (a connect) and for a client relayed through postern.
_BACKEND_CODE = r"""
import socket, sys, threading
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
def serve(c):
    with c:
        while True:
            data = c.recv(65536)
            if not data:
                return
            c.sendall(data)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


class Backend:
    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", _BACKEND_CODE],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()  # the port, printed once listening
        if not line.strip().isdigit():
            self.kill()
            raise TestFailure("backend did not report its port (got %r)" % line)
        self.port = int(line)
        self.address = "127.0.0.1:%d" % self.port

    def kill(self):
        """SIGKILL by PID: the backend dies as a crashed server would, listening socket and all."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class Postern:
    """The real binary with `toml`; its logs stay in a temp dir and are printed on failure."""

    def __init__(self, binary, toml):
        self.dir = tempfile.mkdtemp(prefix="postern-admin-test-")
        self.config = os.path.join(self.dir, "postern.toml")
        with open(self.config, "w") as f:
            f.write(toml)
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([binary, "run", "-c", self.config], cwd=self.dir,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def stderr_text(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=START_TIMEOUT):
        """The first match of regex `pattern` in the diagnostics log (a match object)."""
        rx = re.compile(pattern)

        def found():
            if self.proc.poll() is not None:
                raise TestFailure("postern exited with %s before logging /%s/"
                                  % (self.proc.returncode, pattern))
            return rx.search(self.stderr_text())
        return wait_until("postern to log /%s/" % pattern, found, timeout)

    def admin_url(self):
        m = self.wait_log(r'msg="admin endpoint listening" address=(\S+)')
        return "http://" + m.group(1)

    def stop(self):
        end_process(self.proc, "postern")

    def remove_files(self):
        """After stop(): the config and the logs (printed first by dump_logs on failure)."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def dump_logs(self):
        for path in (self.stderr_path, self.stdout_path):
            with open(path, errors="replace") as f:
                text = f.read()
            log("---- %s (last 60 lines) ----\n%s" % (path, "\n".join(text.splitlines()[-60:])))


def http_get(url, token=None, timeout=5.0):
    """(status, body text) of a GET; connection errors raise URLError/OSError."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def http_post(url, token=None, timeout=10.0):
    """(status, body text) of a bodiless POST."""
    req = urllib.request.Request(url, data=b"", method="POST")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def gateway_toml(backends, admin_extra="", interval="200ms", unhealthy=2):
    """One tcp listener in front of one pool of `backends` with a tcp probe every `interval`;
    [admin] on an ephemeral loopback port."""
    targets = ", ".join('"%s"' % b.address for b in backends)
    return f"""[gateway]
workers = 2
control_socket = "off"

[log]
level = "info"
access = "stdout"

[admin]
bind = "127.0.0.1:0"
{admin_extra}

[[listener]]
name = "front"
bind = ["127.0.0.1:0"]
protocol = "tcp"
pool = "app"

[[pool]]
name = "app"
balancer = "round_robin"
drain_timeout = "1s"
[pool.discovery]
plugin = "static"
targets = [{targets}]
[pool.probe]
plugin = "tcp"
interval = "{interval}"
timeout = "150ms"
healthy_threshold = 1
unhealthy_threshold = {unhealthy}
"""


def arguments(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--postern", default="build/bin/postern", help="the postern binary")
    p.add_argument("--artifacts", default=None,
                   help="where to keep artifacts (default: <dir of postern>/../test-artifacts)")
    args = p.parse_args()
    args.postern = os.path.abspath(args.postern)
    if not os.access(args.postern, os.X_OK):
        p.error("no executable postern at %s (build it first)" % args.postern)
    if args.artifacts is None:
        args.artifacts = os.path.join(os.path.dirname(os.path.dirname(args.postern)),
                                      "test-artifacts")
    os.makedirs(args.artifacts, exist_ok=True)
    return args


def run(name, body):
    """Runs body(); prints PASS/FAIL; returns the exit code (0 pass, 1 fail)."""
    started = time.monotonic()
    try:
        body()
    except TestFailure as e:
        log("FAIL %s: %s (%.1f s)" % (name, e, time.monotonic() - started))
        return 1
    log("PASS %s (%.1f s)" % (name, time.monotonic() - started))
    return 0
