#!/usr/bin/env python3
"""Small TCP helpers for the packaging tests (Linux side of a relay through postern under wine):

  tcp_tools.py free-ports N              print N free loopback TCP ports
  tcp_tools.py echo-server PORT          run an echo server on 127.0.0.1:PORT until killed
  tcp_tools.py roundtrip PORT SECONDS    connect to 127.0.0.1:PORT (retrying until SECONDS have
                                         passed), send 64 KiB, expect it echoed back; exit 0/1
"""
import os
import socket
import sys
import threading
import time


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    print(" ".join(str(s.getsockname()[1]) for s in socks))
    for s in socks:
        s.close()


def echo_server(port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)

    def serve(c):
        with c:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                c.sendall(data)

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def roundtrip(port, seconds):
    payload = os.urandom(64 * 1024)
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(payload)
                c.shutdown(socket.SHUT_WR)
                got = b""
                while True:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            if got == payload:
                print(f"roundtrip through 127.0.0.1:{port}: {len(got)} bytes echoed")
                return 0
            last = f"got {len(got)} bytes back, expected {len(payload)}"
        except OSError as e:
            last = str(e)
        time.sleep(0.5)
    print(f"roundtrip through 127.0.0.1:{port} failed for {seconds}s: {last}")
    return 1


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "free-ports":
        free_ports(int(sys.argv[2]))
    elif cmd == "echo-server":
        echo_server(int(sys.argv[2]))
    elif cmd == "roundtrip":
        sys.exit(roundtrip(int(sys.argv[2]), float(sys.argv[3])))
    else:
        sys.exit(f"unknown command {cmd}")
