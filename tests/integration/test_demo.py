"""deploy/demo, shortened to 9 s and without installing or building: it tells
issue 3's story (a hub, three edges of unequal size, one killed, one added),
loses no task, exits 0, and leaves no process and no folder behind, also when
it is stopped half-way."""

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
FOLDER = re.compile(r"^\s*folder\s+(\S+)$", re.M)
BLOCK = re.compile(r"^--- t=\d+s", re.M)
KILLED = re.compile(r"^\*\*\* t=\d+s: killed edge-c with SIGKILL\b.*\*\*\*$", re.M)
STARTED = re.compile(r"^\*\*\* t=\d+s: started edge-d\b.*\*\*\*$", re.M)
TABLE_HEADER = re.compile(r"^edge\s+sent\s+answered\s+local\s+remote\s+lost$", re.M)
TABLE_ROW = re.compile(r"^(edge-[a-d])\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$", re.M)


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


def blocks_after(output, position):
    """The status blocks (header line to the next block or event) after position."""
    starts = [m.start() for m in BLOCK.finditer(output) if m.start() > position]
    blocks = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(output)
        block = output[start:end]
        event = re.search(r"^\*\*\*", block, re.M)
        blocks.append(block[:event.start()] if event else block)
    return blocks


def edge_state(block, name):
    found = re.search(r"^%s\s+(alive|dead)\s" % re.escape(name), block, re.M)
    return found.group(1) if found else None


def test_demo_tells_the_story_and_leaves_nothing_running(*flags):
    started = time.monotonic()
    result = subprocess.run([DEMO, "--duration", "9"] + list(flags), capture_output=True,
                            timeout=60, env=demo_env())
    took = time.monotonic() - started
    output = result.stdout.decode("utf-8", "replace")
    errors = result.stderr.decode("utf-8", "replace")
    check(result.returncode == 0, "demo exited %d:\n%s\n%s" % (result.returncode, output, errors))
    check(took < 25, "the 9 s demo took %.1fs:\n%s" % (took, output))

    killed = KILLED.search(output)
    check(killed, "no line about killing edge-c:\n%s" % output)
    joined = STARTED.search(output)
    check(joined, "no line about starting edge-d:\n%s" % output)
    check(killed.start() < joined.start(), "edge-d started before edge-c died:\n%s" % output)

    first = blocks_after(output, 0)[:1]
    check(first and all(edge_state(first[0], e) == "alive" for e in ("edge-a", "edge-b", "edge-c")),
          "the first status block does not show edge-a, -b, -c alive:\n%s" % output)
    check(any(edge_state(b, "edge-c") == "dead" for b in blocks_after(output, killed.end())),
          "no status block after the kill shows edge-c dead:\n%s" % output)
    check(any(edge_state(b, "edge-d") == "alive" for b in blocks_after(output, joined.end())),
          "no status block after the start shows edge-d alive:\n%s" % output)

    header = TABLE_HEADER.search(output)
    check(header, "no final table:\n%s" % output)
    rows = {m.group(1): [int(x) for x in m.groups()[1:]]
            for m in TABLE_ROW.finditer(output, header.end())}
    check(sorted(rows) == ["edge-a", "edge-b", "edge-c", "edge-d"],
          "expected a row per edge, got %s:\n%s" % (sorted(rows), output))
    for name, (sent, answered, local, remote, lost) in rows.items():
        check(sent > 0 and lost == 0 and answered == sent and local + remote == answered,
              "%s: sent=%d answered=%d local=%d remote=%d lost=%d:\n%s"
              % (name, sent, answered, local, remote, lost, output))
    check(rows["edge-a"][2] == 0 and rows["edge-a"][3] > 0,
          "edge-a has no workers: every task of its clients is served remotely:\n%s" % output)
    check(re.search(r"^lost: 0 ", output, re.M), "no 'lost: 0' line:\n%s" % output)
    check_nothing_left(folder_of(output), output)
    return output


def test_the_secure_demo_tells_the_same_story():
    output = test_demo_tells_the_story_and_leaves_nothing_running("--secure")
    check("CURVE on every link" in output, "the demo did not say it runs secured:\n%s" % output)
    check(re.search(r"the web page: http://127\.0\.0\.1:\d+/", output)
          and re.search(r"wants a bearer token; the page asks for it: [0-9a-f]{32}", output),
          "the secure demo gave no page address and token:\n%s" % output)


def test_demo_stopped_by_sigterm_leaves_nothing_running():
    proc = subprocess.Popen([DEMO, "--duration", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=demo_env())
    output = b""
    deadline = time.monotonic() + 30
    try:
        while not BLOCK.search(output.decode("utf-8", "replace")):
            left = deadline - time.monotonic()
            check(left > 0, "no status block within 30s:\n%s" % output.decode())
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
    for bad in ("soon", "5", "09"):
        result = subprocess.run([DEMO, "--duration", bad], capture_output=True, timeout=30,
                                env=demo_env())
        check(result.returncode == 2 and result.stderr.count(b"\n") == 1,
              "--duration %s: expected one line and exit 2, got %d %r"
              % (bad, result.returncode, result.stderr))


run([
    test_demo_tells_the_story_and_leaves_nothing_running,
    test_the_secure_demo_tells_the_same_story,
    test_demo_stopped_by_sigterm_leaves_nothing_running,
    test_demo_rejects_a_bad_duration,
])
