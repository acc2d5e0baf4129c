#!/usr/bin/env python3
"""postern run with stderr connected to the journal, as systemd does it ($JOURNAL_STREAM names
stderr's "device:inode"): every line of postern's own log starts with its sd-daemon priority
("<3>" error, "<4>" warning, "<6>" info), which journald strips and files the line under. With
$JOURNAL_STREAM naming another file (a child of a service whose stderr was redirected), the lines
have no prefix. A stream socket plays journald's stdout socket.

usage: journal_test.py <postern binary>"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service_common import relay_roundtrip  # noqa: E402


def dead_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def config(tmp):
    # A live listener whose backend never answers: its probe logs "backend down" (warn) and the
    # access log, on a full disk, logs "access log cannot be written" (error) on the first record.
    return f"""[gateway]
workers = 1
control_socket = "off"
[log]
access = "/dev/full"
[[listener]]
name = "svc"
bind = ["127.0.0.1:0"]
pool = "p"
[[pool]]
name = "p"
  [pool.discovery]
  plugin  = "static"
  targets = ["127.0.0.1:{dead_port()}"]
  [pool.probe]
  plugin = "tcp"
  interval = "200ms"
  timeout = "200ms"
  unhealthy_threshold = 1
"""


class Run:
    """postern run with stderr = one end of a socketpair; the lines read from the other end."""

    def __init__(self, binary, journal_stream_matches):
        self.tmp = tempfile.mkdtemp(prefix="postern-journal-")
        path = os.path.join(self.tmp, "postern.toml")
        with open(path, "w") as f:
            f.write(config(self.tmp))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        st = os.fstat(theirs.fileno())
        stream = f"{st.st_dev}:{st.st_ino}" if journal_stream_matches else f"{st.st_dev}:{st.st_ino + 1}"
        env = dict(os.environ, JOURNAL_STREAM=stream)
        env.pop("NOTIFY_SOCKET", None)
        self.proc = subprocess.Popen([binary, "run", "-c", path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=theirs.fileno(), env=env)
        theirs.close()
        self.lines = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, args=(ours,), daemon=True).start()

    def _read(self, sock):
        buf = b""
        with sock:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                buf += data
                *done, buf = buf.split(b"\n")
                with self.cond:
                    self.lines.extend(line.decode(errors="replace") for line in done)
                    self.cond.notify_all()

    def wait_line(self, pattern, timeout=20.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no line matching {pattern!r}; got:\n" + "\n".join(self.lines))
                self.cond.wait(min(left, 0.5))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


def run_case(binary, matches):
    r = Run(binary, matches)
    try:
        listening = r.wait_line(r"msg=listening listener=svc address=127\.0\.0\.1:(\d+)")
        port = int(re.search(r"address=127\.0\.0\.1:(\d+)", listening).group(1))
        down = r.wait_line(r'msg="backend down"')
        # A client: no backend is up, so the connection ends at once and its record fails.
        try:
            relay_roundtrip(port, timeout=5)
        except (AssertionError, OSError):
            pass
        failed = r.wait_line(r'msg="access log cannot be written')
        info = r.wait_line(r"msg=ready")
        if matches:
            for line, prefix in ((listening, "<6>"), (info, "<6>"), (down, "<4>"), (failed, "<3>")):
                if not line.startswith(prefix + "time="):
                    raise AssertionError(f"expected {prefix!r} before: {line!r}")
            with r.cond:
                unprefixed = [l for l in r.lines if l and not re.match(r"<[0-7]>time=", l)]
            if unprefixed:
                raise AssertionError(f"lines without a priority: {unprefixed}")
            print("journal stream: <6> info, <4> warn, <3> error; every line prefixed")
        else:
            for line in (listening, info, down, failed):
                if not line.startswith("time="):
                    raise AssertionError(f"a prefix on a stream that is not the journal: {line!r}")
            print("another stream: no prefixes")
    finally:
        r.stop()


def main():
    binary = sys.argv[1]
    run_case(binary, True)
    run_case(binary, False)
    print("journal: OK")


if __name__ == "__main__":
    main()
