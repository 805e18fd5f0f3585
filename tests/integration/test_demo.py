"""deploy/demo, shortened and without installing or building: it shows live
lines, exits 0, and leaves no process and no folder behind, also when it is
stopped half-way."""

import os
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, SOURCE, check, run  # noqa: E402

DEMO = os.path.join(SOURCE, "deploy", "demo")
LIVE_LINE = re.compile(r"^t=\d+s done=\d+ rate=\d+/s in-flight=\d+ queued=(\d+|\?) "
                       r"p50=(-|[\d.]+ms) p99=(-|[\d.]+ms) errors=\d+$", re.M)
FOLDER = re.compile(r"^\s*folder\s+(\S+)$", re.M)


def demo_env():
    env = dict(os.environ)
    env["SPW_DEMO_SKIP_BUILD"] = "1"
    env["SPW_BUILD_DIR"] = os.path.abspath(BUILD)
    env.pop("DEMO_KEEP", None)
    return env


def folder_of(output):
    found = FOLDER.search(output)
    check(found, "the demo's header names no folder:\n%s" % output)
    return found.group(1)


def check_nothing_left(folder, output):
    left = subprocess.run(["pgrep", "-a", "-f", folder], capture_output=True)
    check(left.returncode == 1, "processes of the demo still run:\n%s" % left.stdout.decode())
    check(not os.path.exists(folder), "the demo left its folder %s" % folder)
    check("demo finished: nothing left running" in output,
          "the demo did not say it finished:\n%s" % output)


def test_demo_shows_live_lines_and_leaves_nothing_running():
    result = subprocess.run([DEMO, "--duration", "3"], capture_output=True, timeout=120,
                            env=demo_env())
    output = result.stdout.decode("utf-8", "replace")
    check(result.returncode == 0, "demo exited %d:\n%s\n%s"
          % (result.returncode, output, result.stderr.decode("utf-8", "replace")))
    live = LIVE_LINE.findall(output)
    check(len(live) >= 2, "expected live lines, got:\n%s" % output)
    check(re.search(r"^total: sent=\d+ done=\d+ errors=0 ", output, re.M),
          "expected a summary without errors:\n%s" % output)
    check(re.search(r"^edge stats: edge=demo-a ", output, re.M),
          "expected the edge's final stats line:\n%s" % output)
    check_nothing_left(folder_of(output), output)


def test_demo_stopped_by_sigterm_leaves_nothing_running():
    proc = subprocess.Popen([DEMO, "--duration", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=demo_env())
    output = b""
    deadline = time.monotonic() + 60
    try:
        while not LIVE_LINE.search(output.decode("utf-8", "replace")):
            left = deadline - time.monotonic()
            check(left > 0, "no live line within 60s:\n%s" % output.decode())
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                check(chunk, "the demo ended early:\n%s" % output.decode())
                output += chunk
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = (output + rest).decode("utf-8", "replace")
    check(proc.returncode != 0, "a demo stopped half-way should not exit 0:\n%s" % output)
    check_nothing_left(folder_of(output), output)


def test_demo_rejects_a_bad_duration():
    result = subprocess.run([DEMO, "--duration", "soon"], capture_output=True, timeout=30,
                            env=demo_env())
    check(result.returncode == 2 and result.stderr.count(b"\n") == 1,
          "expected one line and exit 2, got %d %r" % (result.returncode, result.stderr))


run([
    test_demo_shows_live_lines_and_leaves_nothing_running,
    test_demo_stopped_by_sigterm_leaves_nothing_running,
    test_demo_rejects_a_bad_duration,
])
