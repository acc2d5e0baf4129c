#!/usr/bin/env python3
"""`postern status` and `postern metrics` on the real binary, over the control socket, with no
[admin] section (the admin endpoint is off): the /status JSON parses and names the listeners,
pools and backends of the config; the metrics text has a postern_backend_up line for every
backend, also for a pool of 1,000 backends (a body far larger than one read). On the wire: the
"data bytes=N" framing, the reload exchange as before, an unknown request answered with the list
of requests. With the instance stopped: exit 1, "no running instance".

usage: control_reads_test.py <postern binary>"""
import json
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
from service_common import Postern, echo_backend, relay_roundtrip  # noqa: E402

BIG = 1000


def config(sock, port):
    big = ", ".join(f'"127.0.0.1:{20000 + i}"' for i in range(BIG))
    return f"""[gateway]
workers = 2
control_socket = "{sock}"
[log]
level = "debug"
access = "off"

[[listener]]
name = "svc"
bind = ["127.0.0.1:0"]
pool = "echo"

[[listener]]
name = "big"
bind = ["127.0.0.1:0"]
pool = "big"

[[pool]]
name = "echo"
  [pool.discovery]
  plugin  = "static"
  targets = ["127.0.0.1:{port}"]
  [pool.probe]
  plugin = "tcp"
  interval = "200ms"

[[pool]]
name = "big"
  [pool.discovery]
  plugin  = "static"
  targets = [{big}]
"""


def cli(binary, *args, timeout=60):
    r = subprocess.run([binary, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def exchange(sock, request, timeout=30.0):
    """One raw request on the control socket; the whole reply (the server closes after it)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(timeout)
        c.connect(sock)
        c.sendall(request)
        out = b""
        while True:
            chunk = c.recv(65536)
            if not chunk:
                return out
            out += chunk


def status(binary, *where):
    rc, out, err = cli(binary, "status", *where)
    if rc != 0:
        raise AssertionError(f"postern status {' '.join(where)}: rc={rc}\n{err}")
    return json.loads(out)


def main():
    binary = sys.argv[1]
    port = echo_backend()
    p = None
    workdir = None
    try:
        workdir = tempfile.mkdtemp(prefix="postern-ctl-")
        sock = os.path.join(workdir, "ctl.sock")
        p = Postern(binary, config(sock, port), workdir=workdir)
        svc_port = int(p.wait_line(r'msg=listening listener=svc address=127\.0\.0\.1:(\d+)').group(1))
        p.wait_line(r'msg="control socket ready')
        if "admin endpoint" in p.log():
            raise AssertionError("the admin endpoint must be off in this test:\n" + p.log())

        # status: the /status JSON, found through --socket and through -c FILE alike. The backend
        # gets traffic once its first probe passed: wait for that, then relay through it.
        deadline = time.monotonic() + 20
        while True:
            doc = status(binary, "--socket", sock)
            echo = next(x for x in doc["pools"] if x["name"] == "echo")
            if echo["backends"][0]["state"] == "up" and echo["backends"][0]["last_probe"]:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the echo backend never showed up in /status: {echo}")
            time.sleep(0.1)
        relay_roundtrip(svc_port)
        doc = status(binary, "--socket", sock)
        echo = next(x for x in doc["pools"] if x["name"] == "echo")
        assert doc["generation"] == 1, doc["generation"]
        assert re.fullmatch(r"\d+\.\d+\.\d+.*", doc["version"]), doc["version"]
        assert [x["name"] for x in doc["listeners"]] == ["svc", "big"], doc["listeners"]
        svc = doc["listeners"][0]
        assert svc["bind"] == [f"127.0.0.1:{svc_port}"], svc
        assert svc["pool"] == "echo" and svc["connections_total"] >= 1, svc
        b = echo["backends"][0]
        assert b["backend"] == f"127.0.0.1:{port}" and b["up"] is True, b
        assert b["last_probe"]["ok"] is True, b
        big = next(x for x in doc["pools"] if x["name"] == "big")
        assert len(big["backends"]) == BIG, len(big["backends"])
        via_config = status(binary, "-c", p.config)
        assert via_config["started"] == doc["started"], (via_config["started"], doc["started"])
        print(f"status: {len(json.dumps(doc))} bytes of JSON, {len(doc['pools'])} pools, "
              f"{sum(len(x['backends']) for x in doc['pools'])} backends")

        # metrics: a postern_backend_up line for every backend.
        rc, out, err = cli(binary, "metrics", "--socket", sock)
        assert rc == 0, (rc, err)
        up = re.findall(r'^postern_backend_up\{pool="([^"]+)",backend="([^"]+)"\} ([01])$', out,
                        re.MULTILINE)
        assert ("echo", f"127.0.0.1:{port}", "1") in up, [u for u in up if u[0] == "echo"]
        assert len([u for u in up if u[0] == "big"]) == BIG, len(up)
        assert "# TYPE postern_backend_up gauge\n" in out
        assert out.endswith("\n")
        rc, out2, err = cli(binary, "metrics", "-c", p.config)
        assert rc == 0 and "postern_backend_up{" in out2, (rc, err)
        print(f"metrics: {len(out)} bytes, {len(up)} postern_backend_up lines")

        # The wire: "data bytes=N", exactly N bytes, a newline, "end".
        raw = exchange(sock, b"status\n")
        m = re.match(rb"data bytes=(\d+)\n", raw)
        assert m, raw[:80]
        n = int(m.group(1))
        body = raw[m.end():m.end() + n]
        assert raw[m.end() + n:] == b"\nend\n", raw[m.end() + n:]
        json.loads(body)
        # An unknown request: a failure naming what this build understands.
        assert exchange(sock, b"bogus\n") == (
            b"failed\nerror unknown request 'bogus' (this postern understands: reload, status, "
            b"metrics)\nend\n"), exchange(sock, b"bogus\n")
        # reload: the same bytes as before status and metrics existed.
        assert exchange(sock, b"reload\n", timeout=120) == b"applied generation=2\nend\n"
        assert status(binary, "--socket", sock)["generation"] == 2
        p.wait_line(r'msg="status requested over the control socket"')
        p.wait_line(r'msg="metrics requested over the control socket"')

        # Reads on the control socket's thread while SIGHUP reloads run on the main thread and
        # connections are counted by the workers (under TSan, a race here is reported).
        stop = threading.Event()
        errors = []

        def traffic():
            while not stop.is_set():
                try:
                    relay_roundtrip(svc_port)
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)
                    return

        t = threading.Thread(target=traffic, daemon=True)
        t.start()
        for _ in range(10):
            p.signal(signal.SIGHUP)
            p.wait_line(r'msg="SIGHUP received')  # taken: the next one is not merged with it
            json.loads(exchange(sock, b"status\n").split(b"\n", 1)[1].rsplit(b"\nend\n", 1)[0])
            assert b"postern_backend_up{" in exchange(sock, b"metrics\n")
        deadline = time.monotonic() + 60
        while status(binary, "--socket", sock)["generation"] < 12:
            if time.monotonic() > deadline:
                raise AssertionError("10 SIGHUP reloads did not all apply:\n" + p.log())
            time.sleep(0.1)
        stop.set()
        t.join(timeout=20)
        assert not errors, errors
        print("10 SIGHUP reloads, traffic and 20 reads at the same time: generation 12")

        p.signal(signal.SIGTERM)
        rc = p.wait_exit()
        assert rc == 0, f"postern exited {rc}"
        for report in ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer", "runtime error:"):
            assert report not in p.log(), p.log()
        for cmd in ("status", "metrics"):
            for where in (["--socket", sock], ["-c", p.config]):
                rc, out, err = cli(binary, cmd, *where)
                assert rc == 1 and out == "", (cmd, where, rc, out)
                assert "no running instance" in err and sock in err, err
        print("no instance: exit 1, 'no running instance' naming the socket")
    finally:
        if p:
            p.kill()
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print("control_reads: OK")


if __name__ == "__main__":
    main()
