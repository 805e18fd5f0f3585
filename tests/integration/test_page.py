"""The hub's web page in headless Chromium (Debian's chromium, driven by
playwright-core from npm, tests/web/page.js): it loads without a console
error, shows the edges of a running cluster, shows lending while overflow
runs, and shows a killed edge dead within liveness x heartbeat (plus the
page's one-second refresh)."""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, CLI_BIN, SOURCE, Cluster, check, free_port, http_get, run  # noqa: E402

HUB_BIN = os.path.join(BUILD, "hub", "spillway-hub")
DRIVER = os.path.join(SOURCE, "tests", "web", "page.js")
NODE = shutil.which("node")
CHROMIUM = shutil.which("chromium")
HEARTBEAT_MS, LIVENESS = 300, 3


class Page:
    """The page in a browser, one step at a time (tests/web/page.js)."""

    def __init__(self, url):
        self.proc = subprocess.Popen([NODE, DRIVER, url], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self.expect("loaded")

    def expect(self, step):
        line = self.proc.stdout.readline().strip()
        check(line == "ok " + step, "page step %r: %r" % (step, line))

    def step(self, step):
        self.proc.stdin.write(step + "\n")
        self.proc.stdin.flush()
        self.expect(step)

    def done(self):
        self.proc.stdin.write("done\n")
        self.proc.stdin.flush()
        out, _ = self.proc.communicate(timeout=30)
        return out.splitlines()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


def test_the_page_shows_the_cluster_its_lending_and_a_death():
    if not (NODE and CHROMIUM and os.path.isdir(os.path.join(SOURCE, "tests", "web",
                                                             "node_modules"))):
        print("    skipped: needs node, Debian's chromium and tests/web's npm ci "
              "(./tests/run installs them)")
        return
    with Cluster("page") as c:
        port = free_port()
        control, state = c.endpoint("hub-control"), c.endpoint("hub-state")
        c.start("hub", [HUB_BIN, "--control", control, "--state", state, "--http",
                        "127.0.0.1:%d" % port, "--heartbeat-ms", str(HEARTBEAT_MS),
                        "--liveness", str(LIVENESS)])
        edges = {}
        for name in ("A", "B", "C"):
            edges[name] = c.start_edge(name, "--hub", control, "--cloud",
                                       c.endpoint(name + "-cloud"),
                                       "--heartbeat-ms", str(HEARTBEAT_MS))
        # A has no workers: everything its clients send is lent by B and C.
        for name in ("B", "C"):
            c.start_worker(edges[name], "worker-" + name, "--service", "work", "--slots", "4",
                           "--exec", "sleep 0.05; cat")
        c.wait_for("the hub's page", lambda: http_get(port, "/")[0] == 200)
        c.start("bench", [CLI_BIN, "bench", "--edge", edges["A"].frontend, "--service", "work",
                          "--clients", "4", "--window", "8", "--duration", "60", "--quiet",
                          "--no-check"], expect_clean=False)
        page = Page("http://127.0.0.1:%d/" % port)
        try:
            for name in ("A", "B", "C"):
                page.step('show #edges tr[data-edge="%s"].alive' % name)
            page.step('show line.arrow[data-borrower="A"]')
            # Its width is a rate: A's delegated tasks a second, by share.
            c.wait_for("a pair lending to A at a rate", lambda: any(
                p["borrower"] == "A" and p["rate"] > 0
                for p in json.loads(http_get(port, "/api/v1/pairs")[1])["pairs"]))
            # The search asks the hub for every edge whose name holds it.
            page.step("type #search b")
            page.step('hide #edges tr[data-edge="A"]')
            page.step('show #edges tr[data-edge="B"]')
            page.step("type #search")   # empty: the first page again
            page.step('show #edges tr[data-edge="A"]')
            page.step("show #card-queued")
            c.kill(edges["C"])
            killed = time.monotonic()
            page.step('show #edges tr[data-edge="C"].dead')
            took = time.monotonic() - killed
            print("    the page showed C dead %.1fs after its kill" % took)
            bound = LIVENESS * HEARTBEAT_MS / 1000 + 1.0 + HEARTBEAT_MS / 1000 + 1.0
            check(took <= bound, "C was shown dead after %.1fs (bound %.1fs)" % (took, bound))
            page.step('show g.node.dead[data-edge="C"]')
            shot = os.environ.get("SPW_PAGE_SCREENSHOT")
            if shot:
                page.step("screenshot " + shot)
            lines = page.done()
        finally:
            page.close()
        errors = [l for l in lines if l.startswith("error ")]
        check(lines and lines[-1 - len(errors)] == "errors 0" and not errors,
              "console errors: %r" % lines)


run([test_the_page_shows_the_cluster_its_lending_and_a_death])
