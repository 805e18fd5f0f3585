"""Hubs and links that fail: two hubs, an edge ⇄ hub link cut, an edge ⇄
edge link stalled, a slow link. Links are cut, stalled and delayed by a
small TCP proxy of the harness (LinkProxy) on 127.0.0.1."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (CLI_BIN, EDGE_BIN, Cluster, LinkProxy, check, free_port,  # noqa: E402
                     run)
from test_overflow import HB, HUB_BIN, start_workers  # noqa: E402


def start_hub_at(c, label, port=None):
    """A hub whose control endpoint is tcp (so a proxy can sit before it)."""
    control = "tcp://127.0.0.1:%d" % (port or free_port())
    hub = c.start(label, [HUB_BIN, "--name", label, "--control", control,
                          "--state", c.endpoint(label + "-state"),
                          "--heartbeat-ms", HB, "--liveness", "3"])
    hub.control, hub.port = control, int(control.rsplit(":", 1)[1])
    return hub


def start_edge_on(c, name, hubs, *args, cloud=None):
    fe, be = c.endpoint("edge-%s-fe" % name), c.endpoint("edge-%s-be" % name)
    cloud = cloud or c.endpoint("edge-%s-cloud" % name)
    edge = c.start("edge-" + name, [EDGE_BIN, "--name", name, "--frontend", fe, "--backend", be,
                                    "--cloud", cloud, "--hub", hubs, "--heartbeat-ms", HB]
                   + list(args))
    edge.frontend, edge.backend, edge.name = fe, be, name
    return edge


def hub_status(c, hub):
    client = c.client(type("E", (), {"frontend": hub.control})())
    try:
        status, frames = client.call([b""], service="spillway.status", timeout=2)
    except Exception:
        return None
    finally:
        client.close()
    return json.loads(frames[0]) if status == "ok" else None


def alive_at(c, hub, names):
    status = hub_status(c, hub)
    if not status:
        return False
    alive = {e["name"] for e in status["edges"] if e["state"] == "alive"}
    return set(names) <= alive


class Load:
    """A window of tasks kept going at an edge; counts who served them."""

    def __init__(self, c, edge, window=8):
        self.client, self.window = c.client(edge), window
        self.outstanding, self.served, self.served_at = {}, {}, {}

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            while len(self.outstanding) < self.window:
                self.outstanding[self.client.send([b"t"], service="job", timeout_ms=30000)] = 1
            reply = self.client.recv(5)
            check(reply is not None, "no reply for 5 s, %d out" % len(self.outstanding))
            check(reply[1] == "ok", "a task answered %s %r" % (reply[1], reply[2]))
            self.outstanding.pop(reply[0], None)
            where = reply[2][0].partition(b":")[0].decode()
            self.served[where] = self.served.get(where, 0) + 1
            self.served_at.setdefault(where, []).append(time.monotonic())

    def finish(self):
        while self.outstanding:
            reply = self.client.recv(15)
            check(reply is not None and reply[1] == "ok", "at the end: %r" % (reply,))
            self.outstanding.pop(reply[0], None)
        self.client.close()


def longest_gap(times, after):
    later = [t for t in times if t >= after]
    return max((b - a for a, b in zip(later, later[1:])), default=0.0)


def test_two_hubs_edges_fail_over_when_the_active_dies_and_come_back():
    with Cluster("two-hubs") as c:
        first, second = start_hub_at(c, "hub1"), start_hub_at(c, "hub2")
        hubs = first.control + "," + second.control
        a, b = start_edge_on(c, "A", hubs), start_edge_on(c, "B", hubs)
        start_workers(c, a, 1, work="sleep 0.02")
        start_workers(c, b, 3, work="sleep 0.02")
        c.wait_for("both on the first hub", lambda: alive_at(c, first, ["A", "B"]))
        check(not alive_at(c, second, ["A"]), "an edge registered with the standby hub")
        load = Load(c, a)
        load.pump(2)
        check(load.served.get("B", 0) > 0, "no overflow before the kill: %r" % load.served)
        c.kill(first)
        killed = time.monotonic()
        moved = None
        while moved is None:
            check(time.monotonic() - killed < 5, "the edges did not move to the second hub")
            load.pump(0.05)
            if alive_at(c, second, ["A", "B"]):
                moved = time.monotonic() - killed
        load.pump(2)
        # Two of the hub's heartbeats (200 ms) of silence, then they register.
        check(moved < 1.0, "the edges took %.2fs to move to the second hub" % moved)
        gap = longest_gap(load.served_at.get("B", []), killed)
        served_after = len([t for t in load.served_at.get("B", []) if t > killed + 1.5])
        check(served_after > 0, "no overflow after the hub died: %r" % load.served)
        # Two heartbeats (200 ms) to notice, then register and match.
        check(gap < 1.5, "overflow stopped for %.2fs when the hub died" % gap)
        # The first hub back: the edges return to it, the preferred one.
        again = start_hub_at(c, "hub1", port=first.port)
        load.pump(2)
        c.wait_for("both back on the first hub", lambda: alive_at(c, again, ["A", "B"]), timeout=5)
        load.pump(1)
        load.finish()
        check("hub_failover" in c.log_tail(a, 200), "A did not log its failover")
        print("    hub died: edges on the second in %.2fs, overflow gap %.2fs; served %r"
              % (moved, gap, load.served))


def test_a_cut_hub_link_leaves_local_work_going_and_lending_resumes_when_it_heals():
    with Cluster("cut-hub") as c:
        hub = start_hub_at(c, "hub")
        proxy = LinkProxy(hub.port)
        try:
            a = start_edge_on(c, "A", proxy.endpoint)
            b = start_edge_on(c, "B", hub.control)
            start_workers(c, a, 1, work="sleep 0.02")
            start_workers(c, b, 3, work="sleep 0.02")
            c.wait_for("both joined", lambda: alive_at(c, hub, ["A", "B"]))
            load = Load(c, a)
            load.pump(1.5)
            check(load.served.get("B", 0) > 0, "no overflow before the cut")
            proxy.cut()
            c.wait_for("the hub to see A die", lambda: not alive_at(c, hub, ["A"]), timeout=5)
            cut_served = dict(load.served)
            load.pump(4)  # past A's credit lease: lending set up runs out
            check(load.served.get("A", 0) > cut_served.get("A", 0), "A's own work stopped")
            proxy.heal()
            healed = time.monotonic()
            c.wait_for("A to join again", lambda: alive_at(c, hub, ["A"]), timeout=10)
            load.pump(3)
            after = [t for t in load.served_at.get("B", []) if t > healed]
            check(after, "lending did not resume after the link healed: %r" % load.served)
            load.finish()
        finally:
            proxy.close()


def lender_behind_proxy(c, hub, *args):
    """Edges A and B, where A (and any edge) reaches B's cloud through a
    proxy; returns (a, b, proxy)."""
    cloud_port = free_port()
    proxy = LinkProxy(cloud_port)
    a = start_edge_on(c, "A", hub.control, *args)
    b = start_edge_on(c, "B", hub.control, "--advertise", proxy.endpoint, *args,
                      cloud="tcp://127.0.0.1:%d" % cloud_port)
    return a, b, proxy


def test_a_stalled_lender_link_sends_the_tasks_back_within_liveness():
    with Cluster("stall-peer") as c:
        hub = start_hub_at(c, "hub")
        a, b, proxy = lender_behind_proxy(c, hub)
        try:
            start_workers(c, a, 1, work="sleep 0.02")
            start_workers(c, b, 3, work="sleep 0.3")
            c.wait_for("both joined", lambda: alive_at(c, hub, ["A", "B"]))
            load = Load(c, a)
            load.pump(1.5)
            check(load.served.get("B", 0) > 0, "no overflow before the stall")
            proxy.stall()
            stalled = time.monotonic()
            load.pump(3)
            load.finish()
            # Every task answered ok (checked by pump), those held at B
            # re-run at A after liveness x heartbeat (600 ms).
            check(time.monotonic() - stalled < 20, "the load took too long")
            check(load.served.get("A", 0) > 0, "A served nothing after the stall")
            late = [t for t in load.served_at.get("B", []) if t > stalled + 0.5]
            check(not late, "B answered through a stalled link")
        finally:
            proxy.close()


def test_overflow_across_a_50ms_link_still_pays():
    with Cluster("slow-link") as c:
        hub = start_hub_at(c, "hub")
        a, b, proxy = lender_behind_proxy(c, hub, "--prefetch", "4")
        proxy.delay(25)  # each way: 50 ms round trip
        try:
            start_workers(c, a, 1, work="sleep 0.05")
            start_workers(c, b, 4, work="sleep 0.05")
            c.wait_for("both joined", lambda: alive_at(c, hub, ["A", "B"]))
            load = Load(c, a, window=32)
            started = time.monotonic()
            load.pump(5)
            load.finish()
            elapsed = time.monotonic() - started
            rate = sum(load.served.values()) / elapsed
            alone = 1 / 0.05  # A's one worker: 20 tasks a second
            print("    50 ms link: %.0f tasks/s (A alone: %.0f/s), served %r"
                  % (rate, alone, load.served))
            check(rate > 2 * alone, "overflow over a 50 ms link gave %.0f/s, A alone %.0f/s"
                  % (rate, alone))
        finally:
            proxy.close()


if __name__ == "__main__":
    run([
        test_two_hubs_edges_fail_over_when_the_active_dies_and_come_back,
        test_a_cut_hub_link_leaves_local_work_going_and_lending_resumes_when_it_heals,
        test_a_stalled_lender_link_sends_the_tasks_back_within_liveness,
        test_overflow_across_a_50ms_link_still_pays,
    ])
