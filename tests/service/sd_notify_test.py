#!/usr/bin/env python3
"""postern run under a service manager's notify protocol (systemd Type=notify): READY=1 arrives
only once the listeners accept (a connection made right after it is relayed), STOPPING=1 on
SIGTERM, then exit 0. Both socket kinds: abstract ('@name') and a filesystem path.

usage: sd_notify_test.py <postern binary>"""
import os
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service_common import LISTENING, Postern, config_text, echo_backend, relay_roundtrip  # noqa: E402


def receive(sock, timeout):
    sock.settimeout(timeout)
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)


def run_case(binary, kind):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    tmp = tempfile.mkdtemp(prefix="postern-notify-")
    if kind == "abstract":
        name = f"postern-notify-test-{os.getpid()}-{time.monotonic_ns()}"
        sock.bind("\0" + name)
        notify_socket = "@" + name
    else:
        notify_socket = os.path.join(tmp, "notify.sock")
        sock.bind(notify_socket)
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket)
    backend = echo_backend()
    p = Postern(binary, config_text(backend), env=env)
    try:
        msg = receive(sock, 30)
        if msg.get("READY") != "1":
            raise AssertionError(f"[{kind}] first notification is not READY=1: {msg}")
        if "listening" not in msg.get("STATUS", ""):
            raise AssertionError(f"[{kind}] READY=1 without a STATUS: {msg}")
        # READY=1 promises bound listeners: the "listening" line was logged before it.
        port = int(p.wait_line(LISTENING, timeout=5).group(1))
        relay_roundtrip(port)
        p.signal(signal.SIGTERM)
        msg = receive(sock, 20)
        if msg.get("STOPPING") != "1":
            raise AssertionError(f"[{kind}] after SIGTERM expected STOPPING=1, got {msg}")
        rc = p.wait_exit(30)
        if rc != 0:
            raise AssertionError(f"[{kind}] exit code {rc} after SIGTERM:\n{p.log()}")
        print(f"[{kind}] READY=1, relay ok, STOPPING=1, exit 0")
    finally:
        p.kill()
        sock.close()


def main():
    binary = sys.argv[1]
    run_case(binary, "abstract")
    run_case(binary, "path")
    print("sd_notify: OK")


if __name__ == "__main__":
    main()
