#!/usr/bin/env python3
"""The dashboard (GET /) in a real headless browser: Debian's chromium, driven over the DevTools
protocol on a pipe (--remote-debugging-pipe: no port, no extra package).

Starts postern with [admin] on loopback (token + protect_reads) and two TCP backends behind a tcp
probe (200 ms, two failures), loads the page and checks: it asks for the token (the only errors
allowed are those 401 answers), and once the token is typed in, it renders without console errors
or exceptions, both backends show "up", the listener shows; its drain button drains a backend
(shown "draining") and enable brings it back; a rejected POST /reload shows with its positioned
error; then one backend is killed by PID and the page must show it "down" (bounded wait) while the
other stays "up". A screenshot is kept (path printed). Last, postern is stopped and the page must
say the connection is lost.

Usage: browser_test.py [--postern build/bin/postern] [--artifacts DIR]
(POSTERN_CHROMIUM=PATH picks the browser; default: Debian's /usr/lib/chromium/chromium.)
Exit: 0 pass, 1 fail, 77 chromium not found (the caller decides whether that is allowed).
"""

import base64
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import admin_harness as h  # noqa: E402

# Probe: interval 200 ms, timeout 150 ms, unhealthy after 2 failures: down within ~0.6 s of the
# kill, plus one page poll (1 s). The bound leaves room for a busy machine.
DOWN_BOUND = 15.0
TOKEN = "dashboard-secret-51c9"


def find_chromium():
    for path in (os.environ.get("POSTERN_CHROMIUM"), "/usr/lib/chromium/chromium",
                 shutil.which("chromium"), shutil.which("chromium-browser")):
        if path and os.access(path, os.X_OK):
            return path
    return None


class Browser:
    """Chromium with the DevTools protocol on fds 3 (commands in) and 4 (replies and events out),
    messages separated by NUL bytes."""

    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="postern-chromium-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # The child's ends moved above 9, so that putting them on 3 and 4 overwrites neither.
        to_child_r, from_child_w = (self._above9(fd) for fd in (to_child_r, from_child_w))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                 "--user-data-dir=" + self.profile, "--no-first-run", "--no-default-browser-check",
                 "--disable-extensions", "--disable-background-networking", "--disable-sync",
                 "--disable-dev-shm-usage",  # containers give /dev/shm 64 MiB
                 "--disable-component-update", "--disable-default-apps", "--mute-audio",
                 "--password-store=basic", "about:blank"]
        # bash (dash takes no fd above 9) puts the pipe ends on fds 3 and 4 and execs chromium (same
        # PID).
        script = 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (to_child_r, from_child_w,
                                                             to_child_r, from_child_w)
        self.log_path = os.path.join(self.profile, "chromium.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["/bin/bash", "-c", script, binary] + flags,
                                     pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=self.log_file)
        os.close(to_child_r)
        os.close(from_child_w)
        self.next_id = 0
        self.replies = {}
        self.events = []
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()

    @staticmethod
    def _above9(fd):
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return moved

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self.cond:
                    if "id" in msg:
                        self.replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def call(self, method, params=None, session=None, timeout=20.0):
        with self.cond:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self.cond:
            while mid not in self.replies:
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    raise h.TestFailure("chromium did not answer %s (%s)" % (
                        method, "it exited" if self.closed else "timeout"))
                self.cond.wait(left)
            reply = self.replies.pop(mid)
        if "error" in reply:
            raise h.TestFailure("%s failed: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def wait_event(self, method, session, timeout):
        def seen():
            with self.cond:
                return any(e["method"] == method and e.get("sessionId") == session
                           for e in self.events)
        return h.wait_until("the browser event " + method, seen, timeout)

    def mark(self):
        """A position in the event stream, for problems(since=...)."""
        with self.cond:
            return len(self.events)

    def problems(self, since=0):
        """Console errors, uncaught exceptions and error log entries seen since `since`, as text."""
        out = []
        with self.cond:
            events = self.events[since:]
        for e in events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.%s: %s" % (p["type"], " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p.get("args", []))))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: %s %s" % (d.get("text"), d.get("exception", {})
                                                 .get("description", "")))
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                out.append("log error (%s): %s %s" % (entry.get("source"), entry.get("text"),
                                                      entry.get("url", "")))
        return out

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except (h.TestFailure, OSError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        h.end_process(self.proc, "chromium")
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log_file.close()
        shutil.rmtree(self.profile, ignore_errors=True)


# What the page shows, read from its DOM (the badge text the user sees, not only attributes).
PAGE_STATE = """JSON.stringify({
  banner: document.getElementById("banner").textContent,
  bannerClass: document.getElementById("banner").className,
  meta: document.getElementById("meta").textContent,
  listeners: [...document.querySelectorAll("tr[data-listener]")].map(r => r.dataset.listener),
  backends: Object.fromEntries([...document.querySelectorAll("tr[data-backend]")].map(
    r => [r.dataset.backend, r.querySelector(".state").textContent]))
})"""


def main():
    args = h.arguments(__doc__.splitlines()[0])
    chromium = find_chromium()
    if not chromium:
        h.log("SKIP browser test: no chromium (apt-get install -y chromium)")
        return 77

    backends, postern, browser = [], None, None
    screenshot = os.path.join(args.artifacts, "dashboard.png")

    def body():
        nonlocal postern, browser
        backends.extend([h.Backend(), h.Backend()])
        postern = h.Postern(args.postern, h.gateway_toml(
            backends, admin_extra='token = "%s"\nprotect_reads = true' % TOKEN))
        url = postern.admin_url()
        status, page = h.http_get(url + "/")
        if status != 200 or "<title>Postern</title>" not in page:
            raise h.TestFailure("GET / answered %d: %.200s" % (status, page))

        browser = Browser(chromium)
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.call(domain + ".enable", session=session)
        browser.call("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 900,
                     "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.call("Page.navigate", {"url": url + "/"}, session=session)
        browser.wait_event("Page.loadEventFired", session, h.START_TIMEOUT)

        def state():
            r = browser.call("Runtime.evaluate", {"expression": PAGE_STATE,
                                                  "returnByValue": True}, session=session)
            if "exceptionDetails" in r:
                raise h.TestFailure("reading the page failed: %s" % r["exceptionDetails"])
            return json.loads(r["result"]["value"])

        def shows(expected):
            def check():
                s = state()
                return s if all(s["backends"].get(b) == v for b, v in expected.items()) else None
            return check

        def js(body):
            """What the function body `body` returns in the page (its own scope: the console
            keeps top-level declarations between evaluations)."""
            expression = "(() => {%s})()" % body
            r = browser.call("Runtime.evaluate", {"expression": expression,
                                                  "returnByValue": True}, session=session)
            if "exceptionDetails" in r:
                raise h.TestFailure("%s failed: %s" % (body, r["exceptionDetails"]))
            return r["result"].get("value")

        h.wait_until("the page to ask for the token",
                     lambda: "token is required" in state()["banner"], h.START_TIMEOUT)
        # Before the token: only the browser's own notes of the 401 answers to GET /status.
        for p in browser.problems():
            if not ("401" in p and p.startswith("log error (network)") and "/status" in p):
                raise h.TestFailure("unexpected error before the token was given: " + p)
        since_token = browser.mark()
        js('const t = document.getElementById("token"); t.value = "%s";'
           't.dispatchEvent(new Event("change"));' % TOKEN)

        a, b = backends
        first = h.wait_until("both backends 'up' on the page",
                             shows({a.address: "up", b.address: "up"}), h.START_TIMEOUT)
        if first["listeners"] != ["front"] or first["bannerClass"] != "ok":
            raise h.TestFailure("page after load: %s" % first)
        h.log("page shows both backends up: %s | %s" % (first["meta"], first["banner"]))

        # The drain / enable buttons, with the token from the field.
        button = 'document.querySelector(\'tr[data-backend="%s"] button\')' % a.address
        if js("return " + button + ".textContent;") != "drain":
            raise h.TestFailure("no drain button on %s" % a.address)
        js(button + ".click();")
        h.wait_until("%s 'draining' after its drain button" % a.address,
                     shows({a.address: "draining", b.address: "up"}), h.START_TIMEOUT)
        postern.wait_log(r'msg="backend drained by admin" pool=app backend=%s' % a.address)
        js(button + ".click();")  # now "enable"
        h.wait_until("%s 'up' after its enable button" % a.address,
                     shows({a.address: "up", b.address: "up"}), h.START_TIMEOUT)
        h.log("drain and enable buttons: %s went draining and back up" % a.address)

        # A rejected reload shows with its positioned error.
        with open(postern.config, "a") as f:
            f.write("\n[no_such_table]\n")
        status, answer = h.http_post(url + "/reload", token=TOKEN)
        h.log("POST /reload of a broken file: %d %s" % (status, answer.strip()))
        shown = h.wait_until("the rejected reload on the page", lambda: js(
            'const r = document.querySelector("#reloads tr[data-result=rejected]");'
            'return r ? r.innerText : null;'), h.START_TIMEOUT)
        if "postern.toml:" not in shown or "no_such_table" not in shown:
            raise h.TestFailure("the rejected reload shows no positioned error: %r" % shown)

        killed = time.monotonic()
        b.kill()
        after = h.wait_until("%s 'down' on the page" % b.address,
                             shows({a.address: "up", b.address: "down"}), DOWN_BOUND)
        h.log("%s shown down %.2f s after the kill (probe: 200 ms x 2, page poll 1 s)"
              % (b.address, time.monotonic() - killed))
        if after["bannerClass"] != "ok":
            raise h.TestFailure("the page reports a problem: %s" % after["banner"])

        shot = browser.call("Page.captureScreenshot", {"format": "png"}, session=session)
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        h.log("screenshot: %s" % screenshot)

        problems = browser.problems(since_token)
        if problems:
            raise h.TestFailure("the page logged errors:\n  " + "\n  ".join(problems))

        # Postern gone: the page says so plainly (and keeps retrying).
        postern.stop()
        def reports_lost():
            s = state()
            return s if s["bannerClass"] == "error" and "Postern lost" in s["banner"] else None
        lost = h.wait_until("the page to report the lost connection", reports_lost,
                            h.START_TIMEOUT)
        h.log("after postern stopped the page says: %s" % lost["banner"])

    try:
        code = h.run("dashboard in chromium", body)
        if code != 0 and postern:
            postern.dump_logs()
        if code != 0 and browser:
            with open(browser.log_path, errors="replace") as f:
                h.log("---- chromium log ----\n" + f.read()[-4000:])
        return code
    finally:
        if browser:
            browser.close()
        if postern:
            postern.stop()
            postern.remove_files()
        for backend in backends:
            backend.kill()


if __name__ == "__main__":
    sys.exit(main())
