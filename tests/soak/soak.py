#!/usr/bin/env python3
"""Postern soak: SECONDS of mixed load through a real postern on loopback, every stream checked end
to end, backends SIGKILLed and restarted during the run, and postern's RSS, descriptors and CPU
sampled every second. Python 3 standard library only. See tests/soak/README.md.

Load (one thread each, looping until the end): keep-alive request/response, a new connection per
request, bulk transfers both ways at once, TLS (keep-alive and new connection per request), slow
clients (small pieces, pauses). Every stream is an echo through postern to a backend process: the
client compares the length and CRC-32 of what came back with what it sent (an interrupted stream
has its received prefix checked too), so a lost, duplicated or corrupted byte is counted.

Outcomes of a stream: ok; corrupt (bytes differ: always a failure); reset while a backend was
being killed (expected: the backends set SO_LINGER 0 while a stream is open, so a killed one
resets its connections and postern passes the reset on); reset with no kill (failure); a clean
EOF before every byte came back (silent truncation: failure); stalled (no progress for
--stall-timeout: failure).

Fails (exit 1) on any failed stream, when postern's RSS at the end of the load exceeds the warm-up
RSS by more than the tolerance, when its sockets do not come back to the pre-load count once the
load stops, when it is not idle afterwards, or when it does not exit 0 on SIGTERM.
"""

import argparse
import ctypes
import os
import random
import selectors
import signal
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

MIB = 1024 * 1024
CHUNK = 256 * 1024
# The payload of every stream is a slice of this block, repeated, starting at a random offset.
BLOCK = random.Random(20261206).randbytes(4 * MIB)
BLOCK2 = BLOCK + BLOCK[:CHUNK]
PR_SET_PDEATHSIG = 1
IP_BIND_ADDRESS_NO_PORT = 24
SO_LINGER_OFF = struct.pack("ii", 0, 0)
SO_LINGER_RESET = struct.pack("ii", 1, 0)
# Empty kernel pipes a postern worker keeps for splice (net::PipePool), two descriptors each.
POOLED_PIPES_PER_WORKER = 64


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def payload(offset, pos, n):
    """n <= CHUNK bytes of the stream starting at `offset`, from stream position `pos`."""
    start = (offset + pos) % len(BLOCK)
    return memoryview(BLOCK2)[start:start + n]


def payload_crc(offset, length):
    crc, pos = 0, 0
    while pos < length:
        n = min(CHUNK, length - pos)
        crc = zlib.crc32(payload(offset, pos, n), crc)
        pos += n
    return crc


# ---------------------------------------------------------------------------------------------
# backend mode: `soak.py backend PORT ID` — an echo server that is a process of its own


def backend_main(port, ident):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    deadline = time.monotonic() + 5
    while True:  # a restart may find the port busy for a moment
        try:
            srv.bind(("127.0.0.1", port))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    srv.listen(1024)
    print(f"listening id={ident} port={srv.getsockname()[1]}", flush=True)

    def echo(c):
        # While a stream is open a kill resets it (a killed process sends FIN otherwise, which
        # the client could not tell from the end of the stream); the orderly end is a FIN.
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, SO_LINGER_RESET)
        buf = bytearray(CHUNK)
        mv = memoryview(buf)
        try:
            while True:
                n = c.recv_into(buf)
                if n == 0:
                    break
                c.sendall(mv[:n])
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, SO_LINGER_OFF)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=echo, args=(c,), daemon=True).start()


# ---------------------------------------------------------------------------------------------
# processes

_libc = ctypes.CDLL(None, use_errno=True)


def _child_setup():
    # The driver dies: so do they. (The signal comes when the *thread* that started the child
    # ends: the killer thread, which restarts backends, lives until the load threads are done.)
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Child:
    """A process this driver started; ended by its PID."""

    def __init__(self, name, argv, out_path, err_path=None, cwd=None):
        self.name = name
        self.out_path = out_path
        self.err_path = err_path or out_path
        out = open(out_path, "ab")
        err = out if err_path is None else open(err_path, "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd,
                                  preexec_fn=_child_setup, start_new_session=True)
        out.close()
        if err is not out:
            err.close()
        self.pid = self.p.pid

    def alive(self):
        return self.p.poll() is None

    def wait_line(self, needle, timeout, path=None):
        """The first line of the output file holding `needle`, waiting up to `timeout` s."""
        path = path or self.out_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(path, errors="replace") as f:
                for line in f:
                    if needle in line:
                        return line.strip()
            if not self.alive():
                return None
            time.sleep(0.05)
        return None

    def kill(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.p.wait(timeout=10)

    def terminate(self, grace):
        """SIGTERM, then SIGKILL after `grace` s; returns the exit code (negative: signal)."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait(timeout=10)
        return self.p.returncode


class Backend:
    def __init__(self, ident, tmp):
        self.ident = ident
        self.tmp = tmp
        self.port = 0
        self.child = None
        self.starts = 0

    def start(self):
        """Starts (or restarts, on the same port) the process and waits until it listens."""
        self.starts += 1
        out = os.path.join(self.tmp, f"backend-{self.ident}-{self.starts}.log")
        self.child = Child(f"backend {self.ident}", [sys.executable, os.path.abspath(__file__), "backend",
                                                     str(self.port), self.ident], out)
        line = self.child.wait_line(f"listening id={self.ident}", 10)
        if not line:
            raise RuntimeError(f"backend {self.ident} did not start (see {out})")
        self.port = int(line.rsplit("port=", 1)[1])

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"


# ---------------------------------------------------------------------------------------------
# /proc of postern


def fd_counts(pid):
    sockets = pipes = other = 0
    d = f"/proc/{pid}/fd"
    for name in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, name))
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:"):
            sockets += 1
        elif target.startswith("pipe:"):
            pipes += 1
        else:
            other += 1
    return sockets, pipes, other


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# the load


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = {}
        self.requests = 0
        self.bytes = 0  # bytes sent and echoed back (counted once each way)
        self.outcomes = {}
        self.failures = []

    def add(self, kind, outcome, requests, nbytes, detail=""):
        with self.lock:
            self.connections[kind] = self.connections.get(kind, 0) + 1
            self.requests += requests
            self.bytes += nbytes
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            if outcome not in ("ok", "reset_during_kill", "eof_during_kill") and len(self.failures) < 30:
                self.failures.append(f"{kind}: {outcome} {detail}")

    def totals(self):
        with self.lock:
            return sum(self.connections.values()), self.bytes


class StreamEnd(Exception):
    def __init__(self, how, received, crc=0):
        super().__init__(how)
        self.how = how  # "reset" | "eof" | "stalled" | "extra" | "corrupt"
        self.received = received  # bytes of the interrupted request that came back
        self.crc = crc  # their CRC-32
        self.requests = 0  # complete requests on the connection before it
        self.bytes = 0


class Load:
    def __init__(self, args, port_tcp, port_tls, ca, kills, stats, stop):
        self.a = args
        self.port_tcp = port_tcp
        self.port_tls = port_tls
        self.kills = kills  # list of kill times (monotonic), appended by the killer
        self.stats = stats
        self.stop = stop
        self.tls_ctx = ssl.create_default_context(cafile=ca)

    def connect(self, source, tls=False):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)  # ports chosen per 4-tuple
        s.bind((source, 0))
        s.settimeout(self.a.stall_timeout)
        s.connect(("127.0.0.1", self.port_tls if tls else self.port_tcp))
        if tls:
            # A TCP end without close_notify is an error, not an end of stream (Python's default
            # would return b"" and hide a truncation).
            s = self.tls_ctx.wrap_socket(s, server_hostname="localhost", suppress_ragged_eofs=False)
        return s

    def pump(self, s, offset, total, piece=CHUNK, pause=0.0):
        """Sends `total` bytes of the stream at `offset` while reading the echo, until it is all
        back. Returns the CRC-32 of what came back; raises StreamEnd."""
        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        sent = received = crc = 0
        last = time.monotonic()
        try:
            while received < total:
                if sent >= total:
                    sel.modify(s, selectors.EVENT_READ)
                events = sel.select(timeout=0.5)
                for _key, mask in events:
                    if mask & selectors.EVENT_WRITE and sent < total:
                        try:
                            n = s.send(payload(offset, sent, min(piece, total - sent)))
                            sent += n
                            last = time.monotonic()
                        except BlockingIOError:
                            pass
                        except OSError:
                            raise StreamEnd("reset", received, crc) from None
                    if mask & selectors.EVENT_READ:
                        try:
                            data = s.recv(min(piece, CHUNK))
                        except BlockingIOError:
                            continue
                        except OSError:
                            raise StreamEnd("reset", received, crc) from None
                        if not data:
                            raise StreamEnd("eof", received, crc)
                        crc = zlib.crc32(data, crc)
                        received += len(data)
                        last = time.monotonic()
                if time.monotonic() - last > self.a.stall_timeout:
                    raise StreamEnd("stalled", received, crc)
                if pause:
                    time.sleep(pause)  # the slow client's pace
        finally:
            sel.close()
            s.setblocking(True)
            s.settimeout(self.a.stall_timeout)
        if received > total:
            raise StreamEnd("extra", received, crc)
        return crc

    def tls_roundtrip(self, s, offset, total):
        """TLS: a request of at most 64 KiB sent whole, then its echo read (fits in the buffers)."""
        crc = received = 0
        try:
            s.sendall(payload(offset, 0, total))
            while received < total:
                data = s.recv(total - received)
                if not data:
                    raise StreamEnd("eof", received, crc)
                crc = zlib.crc32(data, crc)
                received += len(data)
            return crc
        except socket.timeout:
            raise StreamEnd("stalled", received, crc) from None
        except ssl.SSLZeroReturnError:
            raise StreamEnd("eof", received, crc) from None
        except OSError:  # resets, and TLS records cut short
            raise StreamEnd("reset", received, crc) from None

    def finish(self, s, tls):
        """Ends the stream in order: our FIN, then the backend's (relayed) end of stream."""
        try:
            if tls:
                s = s.unwrap()  # close_notify, and the server's
            s.shutdown(socket.SHUT_WR)
            if s.recv(1):
                raise StreamEnd("extra", 0)
        except StreamEnd:
            raise
        except (ssl.SSLError, OSError):
            raise StreamEnd("reset", 0) from None
        finally:
            s.close()

    def killed_during(self, t0, t1):
        return any(t0 - 0.5 <= k <= t1 + 0.5 for k in list(self.kills))

    def one_connection(self, kind, source, rng):
        """One connection of `kind`: its streams, then the orderly end. Returns (requests, bytes)."""
        tls = kind.startswith("tls")
        if kind in ("keepalive", "tls-keepalive"):
            sizes = [rng.randint(64, 16 * 1024) for _ in range(rng.randint(10, 60))]
        elif kind == "bulk":
            sizes = [rng.randint(4 * MIB, self.a.bulk_mib * MIB)]
        elif kind == "slow":
            sizes = [rng.randint(8 * 1024, 32 * 1024)]
        elif kind == "tls-bulk":
            sizes = [64 * 1024] * rng.randint(8, 32)
        else:  # newconn, tls-newconn
            sizes = [rng.randint(64, 4 * 1024)]
        try:
            s = self.connect(source, tls)
        except (ConnectionResetError, ssl.SSLEOFError):
            # Postern accepted, then its backend reset before we saw the handshake through.
            raise StreamEnd("reset", 0) from None
        done_requests = done_bytes = 0
        try:
            for size in sizes:
                offset = rng.randrange(len(BLOCK))
                try:
                    if tls:
                        crc = self.tls_roundtrip(s, offset, size)
                    elif kind == "slow":
                        crc = self.pump(s, offset, size, piece=512, pause=0.01)
                    else:
                        crc = self.pump(s, offset, size)
                except StreamEnd as e:
                    # What did arrive of an interrupted request must be exact too.
                    if e.received and e.received <= size and e.crc != payload_crc(offset, e.received):
                        e.how = "corrupt"
                    raise
                if crc != payload_crc(offset, size):
                    raise StreamEnd("corrupt", size, crc)
                done_requests += 1
                done_bytes += 2 * size
            self.finish(s, tls)
            return done_requests, done_bytes
        except StreamEnd as e:
            e.requests, e.bytes = done_requests, done_bytes
            try:
                s.close()
            except OSError:
                pass
            raise

    def worker(self, kind, index):
        rng = random.Random(hash((kind, index)) & 0xFFFFFFFF)
        source = f"127.0.0.{10 + index}"
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                requests, nbytes = self.one_connection(kind, source, rng)
                self.stats.add(kind, "ok", requests, nbytes)
            except StreamEnd as e:
                t1 = time.monotonic()
                if e.how == "reset" and self.killed_during(t0, t1):
                    outcome = "reset_during_kill"
                elif e.how == "reset":
                    outcome = "reset_without_kill"
                elif e.how == "eof" and self.killed_during(t0, t1):
                    # A SIGKILLed backend closes a socket that holds no unread bytes with a FIN, not
                    # a RST (the request had not reached it yet): postern relays that FIN as it is.
                    outcome = "eof_during_kill"
                elif e.how == "eof":
                    outcome = "truncated"
                else:
                    outcome = e.how  # corrupt, extra, stalled
                self.stats.add(kind, outcome, e.requests, e.bytes,
                               f"after {e.received} bytes of a stream, at {t1:.1f}")
            except OSError as e:  # connect to postern itself failed
                self.stats.add(kind, "connect_failed", 0, 0, str(e))
                self.stop.wait(0.1)


# ---------------------------------------------------------------------------------------------
# the run


def make_certs(d):
    def run(argv):
        r = subprocess.run(argv, capture_output=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {r.stderr.decode(errors='replace')}")

    ca, ca_key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    cert, key, csr = (os.path.join(d, n) for n in ("server.pem", "server.key", "server.csr"))
    ext = os.path.join(d, "server.ext")
    run(["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-keyout", ca_key, "-out", ca, "-days", "2", "-subj",
         "/CN=Postern soak CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    with open(ext, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(["openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-keyout", key, "-out", csr, "-subj", "/CN=localhost"])
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-out", cert, "-extfile", ext])
    return ca, cert, key


def postern_config(args, backends, cert, key, access_log):
    targets = ", ".join(f'"{b.address}"' for b in backends)
    return f"""# the soak (tests/soak/soak.py)
[gateway]
workers = {args.workers}
[log]
level = "info"
access = "{access_log}"
[[listener]]
name = "tcp"
bind = ["127.0.0.1:0"]
protocol = "tcp"
pool = "echo"
idle_timeout = "30s"
[[listener]]
name = "tls"
bind = ["127.0.0.1:0"]
protocol = "tls"
pool = "echo"
idle_timeout = "30s"
  [listener.tls]
  certificates = [{{ cert = "{cert}", key = "{key}" }}]
  handshake_timeout = "5s"
[[pool]]
name = "echo"
balancer = "round_robin"
  [pool.backend]
  connect_timeout = "2s"
  retries = 2
  [pool.discovery]
  plugin = "static"
  targets = [{targets}]
  [pool.probe]
  plugin = "tcp"
  interval = "1s"
  timeout = "500ms"
  healthy_threshold = 1
  unhealthy_threshold = 2
"""


def listening_port(child, listener):
    line = child.wait_line(f"msg=listening listener={listener} ", 15, path=child.err_path)
    if not line:
        raise RuntimeError(f"postern: no msg=listening line for {listener}")
    return int(line.split("address=", 1)[1].split()[0].rsplit(":", 1)[1])


def median(xs):
    return statistics.median(xs) if xs else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("seconds", type=int, nargs="?", default=600)
    ap.add_argument("--postern", required=True, help="the postern binary")
    ap.add_argument("--out", default="", help="where soak.csv and summary.txt go (default: the temp dir)")
    ap.add_argument("--workers", type=int, default=2, help="postern worker threads")
    ap.add_argument("--kill-every", type=float, default=0, help="s between backend kills (default: seconds/6, "
                    "at most 30)")
    ap.add_argument("--down-for", type=float, default=1.5, help="s a killed backend stays down")
    ap.add_argument("--bulk-mib", type=int, default=24, help="largest bulk stream, MiB")
    ap.add_argument("--stall-timeout", type=float, default=20, help="s without progress = a stalled stream")
    ap.add_argument("--rss-tolerance-mib", type=float, default=4, help="end RSS may exceed warm-up RSS by "
                    "max(this, --rss-tolerance-pct of it) (default 4)")
    ap.add_argument("--rss-tolerance-pct", type=float, default=10)
    ap.add_argument("--keep-tmp", action="store_true")
    a = ap.parse_args(argv)
    if a.seconds < 20:
        ap.error("at least 20 seconds")
    kill_every = a.kill_every or min(30.0, a.seconds / 6)
    warmup = min(60.0, max(10.0, a.seconds / 10))  # RSS/fds reference: the 10 s after this

    tmp = tempfile.mkdtemp(prefix="postern-soak-")
    out = a.out or tmp
    os.makedirs(out, exist_ok=True)
    log(f"{a.seconds} s of load; files in {tmp}; results in {out}")
    children = []
    failures = []
    try:
        ca, cert, key = make_certs(tmp)
        backends = [Backend(name, tmp) for name in ("b1", "b2", "b3")]
        for b in backends:
            b.start()
            children.append(b)
        access_log = os.path.join(tmp, "access.log")
        conf = os.path.join(tmp, "postern.toml")
        with open(conf, "w") as f:
            f.write(postern_config(a, backends, cert, key, access_log))
        postern = Child("postern", [a.postern, "run", "-c", conf], os.path.join(tmp, "postern.out"),
                        os.path.join(tmp, "postern.err"))
        port_tcp = listening_port(postern, "tcp")
        port_tls = listening_port(postern, "tls")
        if not postern.wait_line("msg=ready", 15, path=postern.err_path):
            raise RuntimeError("postern not ready")
        # Every backend probed up before the load (a new backend gets traffic after its first probe).
        for b in backends:
            if not postern.wait_line(f'msg="backend up" pool=echo backend={b.address}', 15, path=postern.err_path):
                raise RuntimeError(f"backend {b.address} not up in postern")
        pid = postern.pid

        # Pre-load baseline: the least over a few samples (a probe may hold a socket for a moment).
        samples = []
        for _ in range(10):
            samples.append(fd_counts(pid))
            time.sleep(0.05)
        base_sockets = min(s[0] for s in samples)
        base_pipes = min(s[1] for s in samples)
        base_rss = rss_kib(pid)
        log(f"postern pid {pid}: tcp :{port_tcp}, tls :{port_tls}; before the load: RSS {base_rss / 1024:.1f} MiB, "
            f"{base_sockets} sockets, {base_pipes} pipe fds")

        stats = Stats()
        stop = threading.Event()
        load_done = threading.Event()
        kills = []
        load = Load(a, port_tcp, port_tls, ca, kills, stats, stop)
        plan = ([("keepalive", i) for i in range(3)] + [("newconn", 3 + i) for i in range(3)] +
                [("bulk", 6 + i) for i in range(2)] + [("tls-keepalive", 8), ("tls-newconn", 9), ("tls-bulk", 10)] +
                [("slow", 11 + i) for i in range(2)])
        threads = [threading.Thread(target=load.worker, args=(k, i), daemon=True) for k, i in plan]

        csv_path = os.path.join(out, "soak.csv")
        rows = []  # (t, rss_kib, fds, sockets, pipes, cpu_pct, connections, bytes)
        t_start = time.monotonic()

        def killer():
            rng = random.Random(7)
            next_kill = t_start + kill_every / 2
            while not stop.wait(max(0.0, next_kill - time.monotonic())):
                b = rng.choice(backends)
                kills.append(time.monotonic())
                b.child.kill()  # SIGKILL by PID
                log(f"killed backend {b.ident} ({b.address}); down for {a.down_for} s")
                stop.wait(a.down_for)  # the outage itself
                b.start()
                next_kill += kill_every
            load_done.wait()  # the backends it restarted live as long as this thread

        def watcher():
            with open(csv_path, "w") as f:
                f.write("t_s,rss_kib,fds,sockets,pipes,cpu_pct,connections,bytes\n")
                last_cpu, last_t = cpu_seconds(pid), time.monotonic()
                while not stop.wait(1.0):
                    try:
                        sockets, pipes, other = fd_counts(pid)
                        rss, cpu = rss_kib(pid), cpu_seconds(pid)
                    except OSError:
                        failures.append("postern exited during the load")
                        stop.set()
                        return
                    now = time.monotonic()
                    pct = 100.0 * (cpu - last_cpu) / (now - last_t)
                    last_cpu, last_t = cpu, now
                    conns, nbytes = stats.totals()
                    row = (round(now - t_start, 1), rss, sockets + pipes + other, sockets, pipes,
                           round(pct, 1), conns, nbytes)
                    rows.append(row)
                    f.write(",".join(str(x) for x in row) + "\n")
                    f.flush()
                    if int(row[0]) % 30 == 0:
                        log(f"t={row[0]:.0f}s RSS {rss / 1024:.1f} MiB, fds {row[2]}, CPU {pct:.0f} %, "
                            f"{conns} connections, {nbytes / MIB:.0f} MiB")

        cpu_before = cpu_seconds(pid)
        helpers = [threading.Thread(target=killer, daemon=True), threading.Thread(target=watcher, daemon=True)]
        for t in threads + helpers:
            t.start()
        stop.wait(a.seconds)
        stop.set()
        load_seconds = time.monotonic() - t_start
        for t in threads:
            t.join(timeout=a.stall_timeout + 15)
        load_done.set()
        for t in helpers:
            t.join(timeout=15)
        stuck = sum(1 for t in threads if t.is_alive())
        if stuck:
            failures.append(f"{stuck} load threads did not finish")
        cpu_load = cpu_seconds(pid) - cpu_before

        # After the load: sockets back to the pre-load count, pipes within the splice pool.
        pipe_bound = base_pipes + 2 * POOLED_PIPES_PER_WORKER * a.workers
        settled = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            settled = fd_counts(pid)
            if settled[0] == base_sockets and settled[1] <= pipe_bound:
                break
            time.sleep(0.05)
        c0, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(2.0)  # the window the idle CPU is measured over
        idle_pct = 100.0 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
        after_rss = rss_kib(pid)
        rc = postern.terminate(grace=35)

        # -- figures --
        conns, nbytes = stats.totals()
        warm = [r for r in rows if warmup <= r[0] < warmup + 10]
        end = rows[-10:]
        warm_rss, end_rss = median([r[1] for r in warm]), median([r[1] for r in end])
        warm_fds, end_fds = median([r[2] for r in warm]), median([r[2] for r in end])
        warm_sockets, end_sockets = max([r[3] for r in warm] or [0]), max([r[3] for r in end] or [0])
        avg_cpu = 100.0 * cpu_load / load_seconds
        # Least-squares RSS slope after the warm-up (a leak per connection shows as a steady one).
        pts = [(r[0], r[1]) for r in rows if r[0] >= warmup]
        slope = 0.0
        if len(pts) >= 2:
            mx = sum(x for x, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            var = sum((x - mx) ** 2 for x, _ in pts)
            slope = 60 * sum((x - mx) * (y - my) for x, y in pts) / var if var else 0.0
        tol_kib = max(a.rss_tolerance_mib * 1024, warm_rss * a.rss_tolerance_pct / 100)
        concurrent = len(plan)
        causes = {}
        try:
            with open(access_log, errors="replace") as f:
                for line in f:
                    i = line.find(" cause=")
                    if i >= 0:
                        c = line[i + 7:].split(" ", 1)[0].strip()
                        causes[c] = causes.get(c, 0) + 1
        except OSError:
            pass
        bad = {k: v for k, v in stats.outcomes.items() if k not in ("ok", "reset_during_kill", "eof_during_kill")}

        if not warm or not end:
            failures.append("too few samples for warm-up / end figures")
        if end_rss > warm_rss + tol_kib:
            failures.append(f"RSS grew from {warm_rss / 1024:.1f} MiB (warm-up) to {end_rss / 1024:.1f} MiB (end): "
                            f"more than the {tol_kib / 1024:.1f} MiB tolerance")
        if end_sockets > warm_sockets + 2 * concurrent + 8:
            failures.append(f"sockets during the load grew from {warm_sockets} to {end_sockets}")
        if settled is None or settled[0] != base_sockets or settled[1] > pipe_bound:
            failures.append(f"after the load postern holds {settled} (sockets, pipes, other); before: "
                            f"{base_sockets} sockets, {base_pipes} pipe fds")
        if idle_pct >= 5:
            failures.append(f"postern not idle after the load: {idle_pct:.1f} % CPU")
        if rc != 0:
            failures.append(f"postern exit code {rc} on SIGTERM")
        if bad:
            failures.append(f"failed streams: {bad}")
        # An end of stream blamed on a kill must be one postern logged as the backend's own FIN.
        if stats.outcomes.get("eof_during_kill", 0) > causes.get("backend_fin", 0):
            failures.append(f"{stats.outcomes['eof_during_kill']} clean ends around kills but only "
                            f"{causes.get('backend_fin', 0)} backend_fin lines in the access log")
        # The access log agrees: one line per connection, client_fin for each complete one.
        logged = sum(causes.values())
        expected_lines = conns - stats.outcomes.get("connect_failed", 0)
        if logged != expected_lines or causes.get("client_fin", 0) != stats.outcomes.get("ok", 0):
            failures.append(f"access log: {logged} lines for {expected_lines} connections, client_fin "
                            f"{causes.get('client_fin', 0)} for {stats.outcomes.get('ok', 0)} complete ones")

        lines = [
            f"duration: {load_seconds:.0f} s of load, {len(plan)} concurrent clients "
            f"({', '.join(sorted({k for k, _ in plan}))}), {a.workers} postern workers",
            f"connections: {conns} ({', '.join(f'{k} {v}' for k, v in sorted(stats.connections.items()))}); "
            f"requests: {stats.requests}",
            f"bytes moved end to end: {nbytes / MIB:.0f} MiB ({nbytes / MIB / load_seconds:.1f} MiB/s; each byte "
            f"counted once out, once back)",
            f"outcomes: {dict(sorted(stats.outcomes.items()))}",
            f"losses: {sum(bad.values())} streams failed (corrupt: {stats.outcomes.get('corrupt', 0)}, "
            f"truncated: {stats.outcomes.get('truncated', 0)}, reset without a kill: "
            f"{stats.outcomes.get('reset_without_kill', 0)}, stalled: {stats.outcomes.get('stalled', 0)})",
            f"backend kills: {len(kills)} (every {kill_every:.0f} s, down {a.down_for} s each)",
            f"RSS: before the load {base_rss / 1024:.1f} MiB, warm-up (t={warmup:.0f}-{warmup + 10:.0f} s) "
            f"{warm_rss / 1024:.1f} MiB, end {end_rss / 1024:.1f} MiB (tolerance +{tol_kib / 1024:.1f} MiB), "
            f"after {after_rss / 1024:.1f} MiB, peak {max((r[1] for r in rows), default=0) / 1024:.1f} MiB; "
            f"slope after the warm-up {slope:+.1f} KiB/min",
            f"fds: warm-up median {warm_fds:.0f}, end median {end_fds:.0f}; sockets before {base_sockets}, "
            f"after the load {settled[0] if settled else '?'}; pipe fds before {base_pipes}, after "
            f"{settled[1] if settled else '?'} (pool bound {pipe_bound})",
            f"CPU: {avg_cpu:.0f} % of a core on average during the load "
            f"(peak {max((r[5] for r in rows), default=0):.0f} %), idle after {idle_pct:.1f} %",
            f"access log causes: {dict(sorted(causes.items()))}",
            f"postern exit code on SIGTERM: {rc}",
            f"samples: {csv_path}",
        ]
        if stats.failures:
            lines.append("first failures:")
            lines += [f"  {x}" for x in stats.failures]
        lines.append("RESULT: " + ("FAIL\n  " + "\n  ".join(failures) if failures else "PASS"))
        summary = "\n".join(lines)
        with open(os.path.join(out, "summary.txt"), "w") as f:
            f.write(summary + "\n")
        print(summary, flush=True)
        return 1 if failures else 0
    except Exception as e:  # report what broke, then clean up below
        log(f"error: {e}")
        err = os.path.join(tmp, "postern.err")
        if os.path.exists(err):
            with open(err, errors="replace") as f:
                log("postern's log ends with:\n" + "".join(f.readlines()[-10:]))
        a.keep_tmp = True
        return 2
    finally:
        for c in children:
            if c.child is not None:
                c.child.kill()
        if "postern" in locals() and postern.alive():
            postern.kill()
        if a.keep_tmp or a.out == "":
            log(f"kept {tmp}")
        else:
            subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "backend":
        backend_main(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit(main(sys.argv[1:]))
