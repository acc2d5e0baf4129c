#!/usr/bin/env python3
"""Small TCP helpers for the packaging tests (Linux side of a relay through postern under wine):

  tcp_tools.py free-ports N              print N free loopback TCP ports
  tcp_tools.py echo-server PORT          run an echo server on 127.0.0.1:PORT until killed
  tcp_tools.py roundtrip PORT SECONDS    connect to 127.0.0.1:PORT (retrying until SECONDS have
                                         passed), send 64 KiB, expect it echoed back; exit 0/1
  tcp_tools.py source-server PORT MIB    run a server on 127.0.0.1:PORT until killed: it reads a
                                         connection to EOF, then sends MIB MiB and closes
  tcp_tools.py slow-reader PORT MIB PAUSE PID[,PID...]
                                         connect to 127.0.0.1:PORT, send a line, half-close, read
                                         nothing for PAUSE seconds, then read MIB MiB to EOF;
                                         prints the CPU seconds the processes used in the pause
                                         (postern writing to a half-closed, full client must
                                         wait, not spin); exit 0 if all bytes arrived
  tcp_tools.py accepts PORT              exit 0 when 127.0.0.1:PORT accepts a connection (5 s)
  tcp_tools.py notify-listener PATH LOG  an sd_notify socket (AF_UNIX datagrams) at PATH, mode 0666:
                                         each message is appended to LOG as one line (newlines
                                         as spaces), until killed
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


def source_server(port, mib):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    block = b"s" * 65536

    def serve(c):
        with c:
            while c.recv(65536):
                pass
            for _ in range(mib * 16):
                c.sendall(block)

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def slow_reader(port, mib, pause, pids):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as c:
        c.sendall(b"send me everything\n")
        c.shutdown(socket.SHUT_WR)
        time.sleep(0.5)  # let the response fill every buffer on the way
        before = cpu_seconds(pids)
        time.sleep(pause)
        used = cpu_seconds(pids) - before
        got = 0
        while True:
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
    print(f"slow reader: {got} bytes; processes {pids} used {used:.2f} s of CPU in the {pause} s pause")
    return got == mib << 20, used


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return 0
    except OSError as e:
        print(f"127.0.0.1:{port}: {e}")
        return 1


def notify_listener(path, log_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    with open(log_path, "a", buffering=1) as log:
        while True:
            log.write(s.recv(65536).decode(errors="replace").replace("\n", " ") + "\n")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "free-ports":
        free_ports(int(sys.argv[2]))
    elif cmd == "echo-server":
        echo_server(int(sys.argv[2]))
    elif cmd == "roundtrip":
        sys.exit(roundtrip(int(sys.argv[2]), float(sys.argv[3])))
    elif cmd == "source-server":
        source_server(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "slow-reader":
        pause = float(sys.argv[4])
        pids = [int(p) for p in sys.argv[5].split(",")]
        complete, used = slow_reader(int(sys.argv[2]), int(sys.argv[3]), pause, pids)
        # A spinning worker burns a whole core for the pause; a waiting one almost nothing.
        sys.exit(0 if complete and used < pause / 4 else 1)
    elif cmd == "accepts":
        sys.exit(accepts(int(sys.argv[2])))
    elif cmd == "notify-listener":
        notify_listener(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
