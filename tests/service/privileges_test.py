#!/usr/bin/env python3
"""[gateway] user: postern started as root binds, then runs as that user (uid, gid and
supplementary groups all switched, in every thread) and still relays; a user that does not exist
is a config error at the key (exit 2); a non-root postern asked to become another user exits 1
naming it. Needs root (exit 77 = skipped otherwise).

usage: privileges_test.py <postern binary>"""
import grp
import os
import pwd
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from service_common import LISTENING, Postern, config_text, echo_backend, relay_roundtrip  # noqa: E402

SKIP = 77


def status_ids(pid):
    """Uid/Gid (real, effective, saved, fs) and Groups of every thread of `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = {}
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Uid", "Gid", "Groups"):
                    fields[key] = value.split()
        out[tid] = fields
    return out


def main():
    binary = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        print("skipped: needs root")
        return SKIP
    target = pwd.getpwnam("nobody")
    expected_groups = sorted({g.gr_gid for g in grp.getgrall() if "nobody" in g.gr_mem} | {target.pw_gid})

    # 1. root -> nobody after binding; every thread switched; the relay works afterwards.
    backend = echo_backend()
    p = Postern(binary, config_text(backend, 'user = "nobody"'))
    try:
        port = int(p.wait_line(LISTENING).group(1))
        p.wait_line(r"msg=\"running as user\" user=nobody")
        ids = status_ids(p.proc.pid)
        if len(ids) < 3:
            raise AssertionError(f"expected the main thread and workers, got threads {list(ids)}")
        for tid, f in ids.items():
            if set(f["Uid"]) != {str(target.pw_uid)} or set(f["Gid"]) != {str(target.pw_gid)}:
                raise AssertionError(f"thread {tid} still has Uid={f['Uid']} Gid={f['Gid']}")
            if sorted(int(g) for g in f["Groups"]) != expected_groups:
                raise AssertionError(f"thread {tid} has Groups={f['Groups']}, expected {expected_groups}")
        relay_roundtrip(port)
        p.signal(signal.SIGTERM)
        rc = p.wait_exit(30)
        if rc != 0:
            raise AssertionError(f"exit code {rc}:\n{p.log()}")
        print(f"root -> nobody: {len(ids)} threads uid={target.pw_uid} gid={target.pw_gid} groups={expected_groups}, relay ok")
    finally:
        p.kill()

    # 2. A user that does not exist: `check` reports it at the key, exit 2; `run` never binds.
    tmp = tempfile.mkdtemp(prefix="postern-user-")
    cfg = os.path.join(tmp, "bad.toml")
    with open(cfg, "w") as f:
        f.write(config_text(backend, 'user = "no-such-user-postern"'))
    for cmd in ("check", "run"):
        r = subprocess.run([binary, cmd, "-c", cfg], capture_output=True, text=True, timeout=30)
        want = f"{cfg}:3:8: user 'no-such-user-postern' does not exist"
        if r.returncode != 2 or want not in r.stderr:
            raise AssertionError(f"{cmd}: expected exit 2 and {want!r}, got {r.returncode}:\n{r.stderr}")
        if "listening" in r.stderr:
            raise AssertionError(f"{cmd}: bound listeners on an invalid config:\n{r.stderr}")
    print("unknown user: config error at 3:8, exit 2")

    # 3. Not root, asked to become another user: exit 1 naming the user (nobody -> daemon).
    os.chmod(tmp, 0o755)
    def as_nobody():
        os.setgroups([])
        os.setgid(target.pw_gid)
        os.setuid(target.pw_uid)
    p = Postern(binary, config_text(backend, 'user = "daemon"'), preexec_fn=as_nobody, workdir=tmp)
    rc = p.wait_exit(30)
    if rc != 1 or "cannot switch to user 'daemon'" not in p.log() or "only root can switch users" not in p.log():
        raise AssertionError(f"expected exit 1 naming user 'daemon', got {rc}:\n{p.log()}")
    print("non-root asked to switch: exit 1, names the user")
    print("privileges: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
