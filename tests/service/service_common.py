"""Shared by the service tests: start the real postern binary on a config in a temp dir, read its
log lines, end it by PID with bounded waits."""
import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time


class Postern:
    def __init__(self, binary, config_text, env=None, preexec_fn=None, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="postern-svc-")
        os.chmod(self.dir, 0o755)
        self.config = os.path.join(self.dir, "postern.toml")
        with open(self.config, "w") as f:
            f.write(config_text)
        os.chmod(self.config, 0o644)
        self.lines = queue.Queue()
        self.all_lines = []
        self.proc = subprocess.Popen([binary, "run", "-c", self.config], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                     preexec_fn=preexec_fn, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.all_lines.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, pattern, timeout=20.0):
        """Returns the first match of `pattern` in a log line, or raises after `timeout`."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no log line matching {pattern!r} within {timeout}s; got:\n" + self.log())
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"postern exited (rc={self.proc.wait()}) before a line matching {pattern!r}:\n" + self.log())
            m = rx.search(line)
            if m:
                return m

    def log(self):
        return "\n".join(self.all_lines)

    def signal(self, sig):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=20.0):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"postern (pid {self.proc.pid}) did not exit within {timeout}s:\n" + self.log())

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def echo_backend():
    """A TCP echo server on 127.0.0.1:<free port> in a daemon thread; returns the port."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)

    def serve(conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                conn.sendall(data)

    def accept():
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv.getsockname()[1]


def relay_roundtrip(port, payload=b"hello through postern\n", timeout=10.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = c.recv(65536)
            if not chunk:
                break
            got += chunk
    if got != payload:
        raise AssertionError(f"relay returned {got!r}, expected {payload!r}")


def config_text(backend_port, extra_gateway=""):
    return f"""[gateway]
workers = 2
{extra_gateway}
[log]
level = "info"
access = "off"

[[listener]]
name = "svc"
bind = ["127.0.0.1:0"]
pool = "echo"

[[pool]]
name = "echo"
  [pool.discovery]
  plugin  = "static"
  targets = ["127.0.0.1:{backend_port}"]
"""


LISTENING = r'msg=listening listener=svc address=127\.0\.0\.1:(\d+)'
