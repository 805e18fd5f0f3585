"""./deploy/cluster, as root: a hub and three edges, each in its own network
namespace on a bridge, with configs written as for separate hosts; overflow
from the host without workers to the others, one host killed and one added,
the hub's web page reachable from this machine while it runs, and no task
lost. Skipped with a message (exit 77, meson's SKIP) without root."""

import os
import shutil
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, SOURCE, check  # noqa: E402


def main():
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("skipped: deploy/cluster needs root and ip (iproute2) for network namespaces")
        sys.exit(77)
    env = dict(os.environ, SPW_CLUSTER_SKIP_BUILD="1", SPW_BUILD_DIR=BUILD)
    proc = subprocess.Popen([os.path.join(SOURCE, "deploy", "cluster"), "--edges", "3",
                             "--duration", "6"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    lines, page = [], None
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("the web page: "):
                url = line.split()[3]
                with urllib.request.urlopen(url, timeout=5) as response:
                    page = (response.status, response.read().decode())
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "\n".join(lines)
    print(output)
    check(proc.returncode == 0, "deploy/cluster exited %d" % proc.returncode)
    check(page and page[0] == 200 and "<title>Spillway</title>" in page[1],
          "the page was not served from the hub's namespace: %r" % (page and page[0]))
    for said in ("host edge-2 killed", "host edge-4 added", "edge-2  dead", "lost: 0"):
        check(said in output, "the output does not say %r" % said)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    check("-switch" not in left,
          "namespaces left behind: %s" % left)
    print("1 passed, 0 failed")


main()
