"""A real partition: the edges on either side of a veth pair between two
network namespaces, the link set down and up again. Needs root (ip netns);
skipped with a message otherwise (exit 77, meson's SKIP).

Namespace one holds the hub and the lender B, namespace two the borrower
A; they talk over 10.231.<n>.1 and .2, addresses that exist only on the
pair. Clients and workers reach their edge over ipc://, which namespaces
do not separate."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import EDGE_BIN, Cluster, check, run  # noqa: E402
from test_links import Load  # noqa: E402
from test_overflow import HB, HUB_BIN, start_workers  # noqa: E402


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True, timeout=10)


class Partition:
    """Two namespaces joined by a veth pair; cut() and heal() the pair."""

    def __init__(self):
        tag = "%d" % (os.getpid() % 100000)
        self.one, self.two = "spw1-" + tag, "spw2-" + tag
        self.net = "10.231.%d" % (os.getpid() % 250)
        self.left, self.right = "spwa" + tag, "spwb" + tag
        ip("netns", "add", self.one)
        ip("netns", "add", self.two)
        ip("link", "add", self.left, "type", "veth", "peer", "name", self.right)
        ip("link", "set", self.left, "netns", self.one)
        ip("link", "set", self.right, "netns", self.two)
        for ns, dev, host in ((self.one, self.left, 1), (self.two, self.right, 2)):
            ip("-n", ns, "addr", "add", "%s.%d/24" % (self.net, host), "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        self.host_one, self.host_two = self.net + ".1", self.net + ".2"

    def argv(self, ns, argv):
        return ["ip", "netns", "exec", ns] + argv

    def cut(self):
        ip("-n", self.two, "link", "set", self.right, "down")

    def heal(self):
        ip("-n", self.two, "link", "set", self.right, "up")

    def close(self):
        for ns in (self.one, self.two):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, timeout=10)


def test_a_partition_between_namespaces_keeps_local_work_and_heals():
    with Cluster("netns") as c:
        part = Partition()
        try:
            control = "tcp://%s:5560" % part.host_one
            c.start("hub", part.argv(part.one, [
                HUB_BIN, "--control", "tcp://%s:5560" % part.host_one, "--state",
                c.endpoint("hub-state"), "--heartbeat-ms", HB, "--liveness", "3"]))
            edges = {}
            for name, ns, host in (("B", part.one, part.host_one), ("A", part.two, part.host_two)):
                fe, be = c.endpoint("edge-%s-fe" % name), c.endpoint("edge-%s-be" % name)
                edge = c.start("edge-" + name, part.argv(ns, [
                    EDGE_BIN, "--name", name, "--frontend", fe, "--backend", be,
                    "--cloud", "tcp://%s:5557" % host, "--hub", control,
                    "--heartbeat-ms", HB]))
                edge.frontend, edge.backend, edge.name = fe, be, name
                edges[name] = edge
            a, b = edges["A"], edges["B"]
            start_workers(c, a, 1, work="sleep 0.02")
            start_workers(c, b, 3, work="sleep 0.02")
            c.wait_for("A to join the hub across the pair",
                       lambda: c.stats(a)["edge"]["hub"] == "joined")
            c.wait_for("B to join", lambda: c.stats(b)["edge"]["hub"] == "joined")
            load = Load(c, a)
            load.pump(2)
            check(load.served.get("B", 0) > 0, "no overflow across the pair: %r" % load.served)
            part.cut()
            cut_at = time.monotonic()
            before = dict(load.served)
            load.pump(4)
            check(load.served.get("A", 0) > before.get("A", 0), "A's own work stopped")
            late = [t for t in load.served_at.get("B", []) if t > cut_at + 1.0]
            check(not late, "B answered across a cut link")
            part.heal()
            healed = time.monotonic()
            c.wait_for("A to join again", lambda: c.stats(a)["edge"]["hub"] == "joined",
                       timeout=15)
            load.pump(3)
            after = [t for t in load.served_at.get("B", []) if t > healed]
            check(after, "lending did not resume after the partition healed: %r" % load.served)
            load.finish()
            print("    partition: served %r" % load.served)
        finally:
            for proc in reversed(c.procs):
                c.stop(proc, check_exit=False)
            part.close()


if __name__ == "__main__":
    if os.geteuid() != 0 or not shutil.which("ip"):
        print("skipped: a partition needs root and ip (iproute2) for network namespaces")
        sys.exit(77)
    try:
        probe = subprocess.run(["ip", "netns", "add", "spw-probe-%d" % os.getpid()],
                               capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "delete", "spw-probe-%d" % os.getpid()],
                       capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        probe = None
    if probe is None or probe.returncode != 0:
        print("skipped: this machine cannot make network namespaces (ip netns add failed)")
        sys.exit(77)
    run([test_a_partition_between_namespaces_keeps_local_work_and_heals])
