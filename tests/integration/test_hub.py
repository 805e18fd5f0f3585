"""spillway-hub on its own, driven by fake edges written in Python from the
protocol (docs/protocol.md, the hub section): registration and refusal,
the state flow into `spillway status`, death by silence and the news of it,
matches of lenders with borrowers told once and changed only when the
state does, and garbage that must not hurt it."""

import json
import os
import select
import socket
import signal
import struct
import subprocess
import sys
import time

import zmq

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD, CLI_BIN, HEADER, Cluster, check, free_port, http_get,  # noqa: E402
                     metrics_of, run)

HUB_BIN = os.path.join(BUILD, "hub", "spillway-hub")
BENCH_HUB_BIN = os.path.join(BUILD, "tests", "bench-hub")

HEADER_V2 = HEADER  # every link speaks SPW2
HEARTBEAT, DISCONNECT = b"\x13", b"\x14"
REGISTER, WELCOME, REFUSED, MEMBER, STATE, MATCH = (
    b"\x20", b"\x21", b"\x22", b"\x25", b"\x26", b"\x27")
OLD_ASK = b"\x23"  # SPW1's ASK, retired
JOINED, DIED, LEFT = 1, 2, 3
LEND_TO, BORROW_FROM, NO_OFFER = 1, 2, 1


def start_hub(c, *args, label="hub"):
    """Starts a hub on ipc:// endpoints of the cluster's folder and waits
    until it answers its status."""
    control, state = c.endpoint(label + "-control"), c.endpoint(label + "-state")
    proc = c.start(label, [HUB_BIN, "--name", label, "--control", control, "--state", state]
                   + list(args))
    proc.control, proc.state = control, state
    c.wait_for("the hub to answer its status", lambda: status_json(proc, timeout_ms=500))
    return proc


def status_json(hub, timeout_ms=3000):
    """The hub's status as a dict, through `spillway status --json`; None if
    the hub did not answer."""
    result = subprocess.run([CLI_BIN, "status", "--hub", hub.control, "--json",
                             "--timeout", str(timeout_ms)],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout)


def edge_status(hub, name):
    status = status_json(hub)
    for edge in (status or {}).get("edges", []):
        if edge["name"] == name:
            return edge
    return None


ROLE_NONE, ROLE_LENDER, ROLE_BORROWER = 0, 1, 2


def role_of(workers, idle, queued, lent, borrowed):
    """The role an edge's figures give it (spw_role_of, docs/protocol.md)."""
    if idle == 0 and queued + borrowed > 0:
        return ROLE_BORROWER
    if workers > 0 and queued == 0 and borrowed == 0 and idle + lent > 0:
        return ROLE_LENDER
    return ROLE_NONE


def figures(*services):
    """STATE records: (service, workers, idle, queued, running, rate_milli
    [, lent, borrowed [, role]])...; the role defaults to the one the
    figures give, as if it had settled."""
    out = b""
    for service in services:
        name, numbers = service[0], (list(service[1:]) + [0, 0])[:7]
        workers, idle, queued, _, _, lent, borrowed = numbers
        role = service[8] if len(service) > 8 else role_of(workers, idle, queued, lent, borrowed)
        out += bytes([len(name)]) + name.encode()
        out += struct.pack(">IIIIIIIB", *numbers, role)
    return out


def parse_matches(records):
    """MATCH records as [(name, endpoint, role, slots_milli)]."""
    matches, i = [], 0
    while i < len(records):
        n = records[i]
        name = records[i + 1:i + 1 + n].decode()
        i += 1 + n
        n = records[i]
        endpoint = records[i + 1:i + 1 + n].decode()
        i += 1 + n
        i += 8  # the partner's epoch
        role, slots = records[i], struct.unpack(">I", records[i + 1:i + 5])[0]
        matches.append((name, endpoint, role, slots))
        i += 5
    return matches


class FakeEdge:
    """An edge as the hub sees it: a DEALER on the control endpoint and,
    once welcomed, a PUB connected to the state endpoint it was told."""

    def __init__(self, c, hub, name, epoch=None, zone=""):
        self.c, self.hub, self.name, self.zone = c, hub, name, zone
        self.epoch = epoch if epoch is not None else int.from_bytes(os.urandom(8), "big")
        self.endpoint = c.endpoint(name + "-cloud")
        self.control = c.ctx.socket(zmq.DEALER)
        self.control.linger = 0
        self.control.connect(hub.control)
        self.pub = None
        self.inbox = []
        self.services = b""
        self.out = self.in_ = 0
        self.companions = []  # edges that beat whenever this one does

    def send(self, *frames):
        header = HEADER_V2 if frames[0][0] >= 0x20 else HEADER
        self.control.send_multipart([header] + list(frames))

    def register(self):
        self.send(REGISTER, self.name.encode(), struct.pack(">Q", self.epoch),
                  self.endpoint.encode(), self.zone.encode())
        reply = self.expect(lambda m: m[1] in (WELCOME, REFUSED), "WELCOME or REFUSED")
        if reply[1] == WELCOME and self.pub is None:
            self.pub = self.c.ctx.socket(zmq.PUB)
            self.pub.linger = 0
            self.pub.connect(reply[2].decode())
        return reply

    def publish(self):
        if self.pub is not None:
            self.pub.send_multipart([HEADER_V2, STATE, self.name.encode(),
                                     struct.pack(">Q", self.epoch), struct.pack(">Q", self.out),
                                     struct.pack(">Q", self.in_), self.services])

    def beat(self):
        """What a live edge does every heartbeat: HEARTBEAT and STATE (and
        its companions with it, so that waiting on one keeps all alive)."""
        for edge in [self] + self.companions:
            edge.send(HEARTBEAT)
            edge.publish()

    def poll(self):
        while self.control.poll(0):
            self.inbox.append(self.control.recv_multipart())

    def expect(self, predicate, what, timeout=5.0, beat=True):
        """Waits for a message the predicate accepts, beating meanwhile;
        returns it and removes it from the inbox."""
        def found():
            if beat:
                self.beat()
            self.poll()
            for i, msg in enumerate(self.inbox):
                check(msg[0] == (HEADER_V2 if msg[1][0] >= 0x20 else HEADER),
                      "%s got a message without its header: %r" % (self.name, msg))
                if predicate(msg):
                    return self.inbox.pop(i)
            return None
        return self.c.wait_for("%s to receive %s" % (self.name, what), found, timeout)

    def close(self):
        self.control.close()
        if self.pub is not None:
            self.pub.close()


def fake_fleet(c, hub, *names):
    """FakeEdges of names, registered, each beating with all the others."""
    edges = [FakeEdge(c, hub, name) for name in names]
    for edge in edges:
        check(edge.register()[1] == WELCOME, "%s not welcomed" % edge.name)
        edge.companions = [e for e in edges if e is not edge]
    return edges


def wait_for_figures(c, hub, edges, name, predicate, what):
    """Waits until the hub's status of edge name satisfies predicate, with
    every edge in edges beating meanwhile (a PUB's first messages are lost
    until it has connected)."""
    def seen():
        for edge in edges:
            edge.beat()
        status = edge_status(hub, name)
        return status if status and predicate(status) else None
    return c.wait_for(what, seen)


def test_hub_starts_from_flags_alone_and_answers_status():
    with Cluster("hub-flags") as c:
        hub = start_hub(c)
        status = status_json(hub)
        check(status["hub"] == "hub" and status["policy"] == "most-spare"
              and status["edges"] == [], "status of an empty hub: %r" % status)
        table = subprocess.run([CLI_BIN, "status", "--hub", hub.control], capture_output=True,
                               text=True, timeout=30)
        check(table.returncode == 0 and "NAME" in table.stdout and "OUT/s" in table.stdout,
              "status table: %d %r %r" % (table.returncode, table.stdout, table.stderr))
        for flag in ("--help", "--version"):
            result = subprocess.run([HUB_BIN, flag], capture_output=True, text=True, timeout=10)
            check(result.returncode == 0 and result.stdout, "%s: %r" % (flag, result))


def test_status_without_a_hub_fails_in_one_line():
    with Cluster("hub-nohub") as c:
        result = subprocess.run([CLI_BIN, "status", "--hub", c.endpoint("nobody"),
                                 "--timeout", "300"], capture_output=True, text=True, timeout=30)
        expected = "spillway status: the hub at %s did not answer within 300 ms\n" % c.endpoint("nobody")
        check(result.returncode == 1 and result.stderr == expected,
              "got %d %r" % (result.returncode, result.stderr))


def test_bad_config_line_is_an_exact_error_and_exit_1():
    with Cluster("hub-config") as c:
        path = os.path.join(c.dir, "hub.yaml")
        with open(path, "w") as f:
            f.write("name: h\ncontrol: %s\nheartbeat_msec: 100\n" % c.endpoint("control"))
        result = subprocess.run([HUB_BIN, "--config", path], capture_output=True, text=True,
                                timeout=10)
        expected = "%s:3:1: unknown key 'heartbeat_msec' (did you mean 'heartbeat_ms'?)\n" % path
        check(result.returncode == 1 and result.stderr == expected,
              "got %d %r" % (result.returncode, result.stderr))
        check(not os.path.exists(os.path.join(c.dir, "control.ipc")), "the hub bound before failing")
        checked = subprocess.run([CLI_BIN, "check-config", path], capture_output=True, text=True,
                                 timeout=10)
        check(checked.returncode == 1 and checked.stderr == expected,
              "check-config: %d %r" % (checked.returncode, checked.stderr))
        with open(path, "w") as f:
            f.write("policy: shortest-wait\n")
        checked = subprocess.run([CLI_BIN, "check-config", path], capture_output=True, text=True,
                                 timeout=10)
        check(checked.returncode == 0, "a good hub config: %d %r" % (checked.returncode, checked.stderr))
        result = subprocess.run([HUB_BIN, "--polcy", "random"], capture_output=True, text=True,
                                timeout=10)
        check(result.returncode == 2 and result.stderr.startswith("spillway-hub: unknown flag '--polcy'"),
              "bad flag: %d %r" % (result.returncode, result.stderr))


def test_edge_registers_and_a_second_edge_of_the_same_name_is_refused():
    with Cluster("hub-register") as c:
        hub = start_hub(c, "--heartbeat-ms", "200", "--liveness", "5")
        a = FakeEdge(c, hub, "A")
        welcome = a.register()
        check(welcome[1] == WELCOME, "A was not welcomed: %r" % welcome)
        check(welcome[2].decode() == hub.state and struct.unpack(">I", welcome[3])[0] == 200
              and struct.unpack(">I", welcome[4])[0] == 5, "WELCOME fields: %r" % welcome)
        impostor = FakeEdge(c, hub, "A", epoch=a.epoch + 1)
        refused = impostor.register()
        check(refused[1] == REFUSED, "the second A was not refused: %r" % refused)
        check(refused[2] == b"name 'A' is held by a live edge", "reason: %r" % refused[2])
        check(struct.unpack(">I", refused[3])[0] == 1000, "retry_ms: %r" % refused[3])
        # The first A, registering again (same epoch), is still welcome.
        check(a.register()[1] == WELCOME, "A's second registration was refused")
        a.close()
        impostor.close()


def test_status_shows_the_figures_an_edge_reported():
    with Cluster("hub-state") as c:
        hub = start_hub(c)
        a = FakeEdge(c, hub, "A", zone="eu-west")
        check(a.register()[1] == WELCOME, "A not welcomed")
        a.services = figures(("echo", 4, 3, 2, 1, 2500), ("resize", 1, 0, 0, 1, 0))
        a.out, a.in_ = 10, 5
        edge = wait_for_figures(c, hub, [a], "A", lambda e: e["workers"] == 5,
                                "A's figures in the status")
        check(edge["state"] == "alive" and edge["zone"] == "eu-west"
              and edge["endpoint"] == a.endpoint and edge["idle"] == 3 and edge["queued"] == 2
              and edge["running"] == 2, "edge figures: %r" % edge)
        echo = [s for s in edge["services"] if s["name"] == "echo"]
        check(echo and echo[0]["workers"] == 4 and echo[0]["idle"] == 3 and echo[0]["queued"] == 2
              and echo[0]["running"] == 1 and abs(echo[0]["rate"] - 2.5) < 1e-9
              and echo[0]["lent"] == 0 and echo[0]["borrowed"] == 0, "echo figures: %r" % echo)
        # The delegated totals grow by 20 a second: the status shows a rate.
        started = time.monotonic()

        def rate_seen():
            a.out = 10 + int(20 * (time.monotonic() - started))
            a.beat()
            e = edge_status(hub, "A")
            return e if e and 10 <= e["delegated_out_per_s"] <= 30 else None
        c.wait_for("A's delegated_out_per_s near 20", rate_seen, timeout=10)
        table = subprocess.run([CLI_BIN, "status", "--hub", hub.control], capture_output=True,
                               text=True, timeout=30)
        row = [line for line in table.stdout.splitlines() if line.startswith("A ")]
        check(row and "alive" in row[0] and "echo,resize" in row[0] and "eu-west" in row[0],
              "table row of A: %r" % table.stdout)
        a.close()


def test_silent_edge_is_declared_dead_and_its_partners_are_told():
    with Cluster("hub-death") as c:
        hub = start_hub(c, "--heartbeat-ms", "100", "--liveness", "3")
        a, b, d = FakeEdge(c, hub, "A"), FakeEdge(c, hub, "B"), FakeEdge(c, hub, "D")
        check(all(e.register()[1] == WELCOME for e in (a, b, d)), "not welcomed")
        # A lends echo to B: they are partners. D takes part in nothing, so
        # it hears nothing of them (no news whose count grows as edges^2).
        a.services = figures(("echo", 3, 3, 0, 0, 1000))
        b.services = figures(("echo", 1, 0, 10, 1, 1000))
        a.beat()
        b.beat()
        next_match(b, "echo")
        next_match(a, "echo")
        b.expect(lambda m: m[1] == HEARTBEAT, "the hub's heartbeat")
        # A falls silent; B goes on beating and hears of A's death in time.
        silent_since = time.monotonic()
        died = b.expect(lambda m: m[1] == MEMBER and m[2][0] == DIED, "MEMBER died A", timeout=5)
        elapsed = time.monotonic() - silent_since
        check(died[3] == b"A" and died[4] == a.endpoint.encode()
              and died[5] == struct.pack(">Q", a.epoch), "died: %r" % died)
        check(elapsed < 0.3 + 0.1 + 1.0, "A declared dead only after %.2fs" % elapsed)
        edge = edge_status(hub, "A")
        check(edge and edge["state"] == "dead", "A in status: %r" % edge)
        check(edge_status(hub, "B")["state"] == "alive", "B should be alive")
        d.poll()
        check(not [m for m in d.inbox if m[1] == MEMBER], "D heard news of others: %r" % d.inbox)
        # A dead edge that speaks again is told to register again.
        a.inbox.clear()
        a.send(HEARTBEAT)
        a.expect(lambda m: m[1] == DISCONNECT, "DISCONNECT for a dead edge", beat=False)
        check(a.register()[1] == WELCOME, "A could not come back")
        a.beat()
        next_match(b, "echo")
        # An edge that says goodbye is gone at once, and its partners hear it.
        a.send(DISCONNECT)
        b.expect(lambda m: m[1] == MEMBER and m[2][0] == LEFT and m[3] == b"A", "MEMBER left A")
        c.wait_for("A gone from the status", lambda: edge_status(hub, "A") is None
                   and edge_status(hub, "B") is not None)
        d.poll()
        check(not [m for m in d.inbox if m[1] == MEMBER], "D heard news of others: %r" % d.inbox)
        for e in (a, b, d):
            e.close()


def next_match(edge, service, timeout=5.0):
    """The next MATCH of service the edge hears: (flags, [records])."""
    msg = edge.expect(lambda m: m[1] == MATCH and m[2] == service.encode(),
                      "MATCH of %s" % service, timeout)
    return msg[3][0], parse_matches(msg[4])


def no_match_for(edge, service, seconds):
    """True if the edge, beating, hears no MATCH of service for seconds."""
    try:
        next_match(edge, service, timeout=seconds)
    except Exception:
        return True
    return False


def test_match_pairs_borrower_and_lender_once_and_again_only_on_change():
    with Cluster("hub-match") as c:
        hub = start_hub(c, "--heartbeat-ms", "100")
        a, b = FakeEdge(c, hub, "A"), FakeEdge(c, hub, "B")
        check(a.register()[1] == WELCOME and b.register()[1] == WELCOME, "not welcomed")
        a.companions, b.companions = [b], [a]
        # A has a backlog its one worker cannot take; B has 3 idle workers.
        a.services = figures(("echo", 1, 0, 10, 1, 1000))
        b.services = figures(("echo", 3, 3, 0, 0, 1000))
        flags, to_a = next_match(a, "echo")
        check(flags == 0 and to_a == [("B", b.endpoint, BORROW_FROM, 3000)],
              "A should borrow B's 3 slots: %r" % to_a)
        flags, to_b = next_match(b, "echo")
        check(flags == 0 and to_b == [("A", a.endpoint, LEND_TO, 3000)],
              "B should lend its 3 slots to A: %r" % to_b)
        status = status_json(hub)
        roles = {e["name"]: e["services"][0]["role"] for e in status["edges"]}
        check(status["schema"] == 2 and roles == {"A": "borrower", "B": "lender"},
              "status: schema %r, roles %r" % (status.get("schema"), roles))
        # The same figures, beat after beat, are not news: no message.
        check(no_match_for(a, "echo", 0.5) and no_match_for(b, "echo", 0.1),
              "a MATCH was repeated with nothing changed")
        # Lending shows as lent at B and borrowed at A: still the same match.
        a.services = figures(("echo", 1, 0, 7, 1, 1000, 0, 3))
        b.services = figures(("echo", 3, 0, 0, 3, 1000, 3, 0))
        check(no_match_for(a, "echo", 0.5), "the match changed as lending went on")
        # B grows to 6 slots: a material change, told to both.
        b.services = figures(("echo", 6, 3, 0, 3, 1000, 3, 0))
        flags, to_a = next_match(a, "echo")
        check(to_a == [("B", b.endpoint, BORROW_FROM, 6000)], "after B grew: %r" % to_a)
        check(next_match(b, "echo")[1] == [("A", a.endpoint, LEND_TO, 6000)], "B grew")
        # A's backlog is gone for good: after the hold, both hear the end.
        a.services = figures(("echo", 1, 1, 0, 0, 1000))
        b.services = figures(("echo", 6, 6, 0, 0, 1000))
        ended = time.monotonic()
        flags, to_a = next_match(a, "echo")
        check(to_a == [] and time.monotonic() - ended >= 0.15,
              "the match should end, after a hold of two heartbeats: %r" % to_a)
        check(next_match(b, "echo")[1] == [], "B should hear the match end")
        # Waiting on a service no live edge offers is answered with the flag.
        a.services = figures(("echo", 1, 1, 0, 0, 1000), ("resize", 0, 0, 2, 0, 0))
        flags, records = next_match(a, "resize")
        check(flags == NO_OFFER and records == [], "resize: %r %r" % (flags, records))
        status = status_json(hub)
        check(status["counters"]["matches"] >= 6 and status["counters"]["messages_in"] > 0
              and "messages_per_delegated" in status, "status: %r" % status)
        # An edge nobody registered is told to register.
        stranger = FakeEdge(c, hub, "C")
        stranger.send(HEARTBEAT)
        stranger.expect(lambda m: m[1] == DISCONNECT, "DISCONNECT for an unregistered edge",
                        beat=False)
        for edge in (a, b, stranger):
            edge.close()


def test_a_borrower_is_served_on_arrival_and_released_as_it_stops():
    """A borrower that appears after a matching takes the spare that
    matching left at once; one that stops is withdrawn at once where its
    lender lends to others, and held (then ended) where it does not."""
    with Cluster("hub-delta") as c:
        hub = start_hub(c, "--heartbeat-ms", "300")
        l, b1, b2 = fake_fleet(c, hub, "L", "B1", "B2")
        l.services = figures(("echo", 10, 10, 0, 0, 1000))
        b1.services = figures(("echo", 1, 0, 4, 1, 1000))
        b2.services = figures(("echo", 1, 1, 0, 0, 1000))
        check(next_match(b1, "echo")[1] == [("L", l.endpoint, BORROW_FROM, 4000)], "B1")
        check(next_match(l, "echo")[1] == [("B1", b1.endpoint, LEND_TO, 4000)], "L")
        before = status_json(hub)["counters"]
        # B2 comes: L's spare serves it, and L hears both borrowers.
        b2.services = figures(("echo", 1, 0, 3, 1, 1000))
        check(next_match(b2, "echo")[1] == [("L", l.endpoint, BORROW_FROM, 3000)], "B2 came")
        check(sorted(next_match(l, "echo")[1])
              == [("B1", b1.endpoint, LEND_TO, 4000), ("B2", b2.endpoint, LEND_TO, 3000)],
              "L should lend to both")
        after = status_json(hub)["counters"]
        check(after["served_at_once"] > before["served_at_once"],
              "B2 should be served at once: %r -> %r" % (before, after))
        # B2 stops: L lends to B1 still, so the match ends now, no hold.
        b2.services = figures(("echo", 1, 1, 0, 0, 1000))
        check(next_match(b2, "echo")[1] == [], "B2 should hear its match end")
        check(next_match(l, "echo")[1] == [("B1", b1.endpoint, LEND_TO, 4000)],
              "L should lend to B1 alone")
        check(status_json(hub)["counters"]["released_at_once"] > after["released_at_once"],
              "B2 should be released at once, not held")
        # B1 stops: L lends to nobody else, so the match is held two
        # heartbeats from the matching that last decided it (at most one
        # heartbeat before the stop), then ends for both.
        held = status_json(hub)["counters"]
        b1.services = figures(("echo", 1, 1, 0, 0, 1000))
        check(no_match_for(b1, "echo", 0.3), "B1's match ended without its hold")
        ended = next_match(b1, "echo")[1]
        check(ended == [], "B1's match should end after its hold: %r" % ended)
        check(next_match(l, "echo")[1] == [], "L should hear the end")
        # The heartbeat's slices ended it, both sides at once, not a matching.
        now = status_json(hub)["counters"]
        check(now["holds_ended"] == held["holds_ended"] + 2,
              "the hold should end in the slices for both edges: %r -> %r"
              % (held["holds_ended"], now["holds_ended"]))
        for edge in (l, b1, b2):
            edge.close()


def test_a_lender_that_falls_or_a_borrower_that_grows_is_served_from_spare():
    """A lender whose supply falls below what it lends keeps, in order,
    the pairs its supply still covers, and what that cuts from a borrower
    is made up at once from another lender's spare; a borrower whose
    backlog grows gets the rise from the spare of a lender it does not hold
    yet. Neither waits for a matching, and the next ones keep what they
    decided."""
    with Cluster("hub-shrink") as c:
        hub = start_hub(c, "--heartbeat-ms", "300")
        edges = fake_fleet(c, hub, "L1", "L2", "L3", "B")
        l1, l2, l3, b = edges
        l1.services = figures(("echo", 10, 10, 0, 0, 1000))
        l2.services = figures(("echo", 4, 4, 0, 0, 1000))
        l3.services = figures(("echo", 3, 3, 0, 0, 1000))
        b.services = figures(("echo", 1, 0, 8, 1, 1000))
        # The most spare first: L1 alone serves B's 8.
        check(next_match(b, "echo")[1] == [("L1", l1.endpoint, BORROW_FROM, 8000)], "B")
        check(next_match(l1, "echo")[1] == [("B", b.endpoint, LEND_TO, 8000)], "L1")
        before = status_json(hub)["counters"]
        # L1 falls to 5: it keeps 5 of its pair, and L2 (the most spare) gives B 3.
        l1.services = figures(("echo", 10, 5, 0, 0, 1000))
        check(next_match(l1, "echo")[1] == [("B", b.endpoint, LEND_TO, 5000)], "L1 fell")
        check(next_match(l2, "echo")[1] == [("B", b.endpoint, LEND_TO, 3000)], "L2 fills in")
        check(sorted(next_match(b, "echo")[1])
              == [("L1", l1.endpoint, BORROW_FROM, 5000), ("L2", l2.endpoint, BORROW_FROM, 3000)],
              "B should borrow from both")
        # B grows to 11: L2's last slot is passed over (B holds L2), L3 gives 3.
        b.services = figures(("echo", 1, 0, 11, 1, 1000))
        check(next_match(l3, "echo")[1] == [("B", b.endpoint, LEND_TO, 3000)], "L3 gives 3")
        check(sorted(next_match(b, "echo")[1])
              == [("L1", l1.endpoint, BORROW_FROM, 5000), ("L2", l2.endpoint, BORROW_FROM, 3000),
                  ("L3", l3.endpoint, BORROW_FROM, 3000)], "B should borrow from all three")
        after = status_json(hub)["counters"]
        check(after["shrunk_at_once"] == before["shrunk_at_once"] + 1
              and after["grown_at_once"] == before["grown_at_once"] + 1,
              "the fall and the rise should be served at once: %r -> %r" % (before, after))
        # The heartbeat's matchings keep that: no news for anyone.
        check(no_match_for(b, "echo", 0.7) and no_match_for(l1, "echo", 0.1)
              and no_match_for(l2, "echo", 0.1) and no_match_for(l3, "echo", 0.1),
              "a matching changed what the deltas decided")
        for edge in edges:
            edge.close()


def test_a_lender_that_falls_holding_only_held_matches_asks_no_matching():
    """A borrower stops: its lender keeps their match for the hold (two
    beats). If that lender falls meanwhile, below what it was told, no
    matching runs for it: one would keep the held match as told."""
    with Cluster("hub-held-fall") as c:
        hub = start_hub(c, "--heartbeat-ms", "1000")
        l1, b = fake_fleet(c, hub, "L1", "B")
        l1.services = figures(("echo", 10, 10, 0, 0, 1000))
        b.services = figures(("echo", 1, 0, 8, 1, 1000))
        check(next_match(l1, "echo")[1] == [("B", b.endpoint, LEND_TO, 8000)], "L1")
        b.services = figures(("echo", 1, 0, 0, 1, 1000))

        def echo_of(edge):
            return next(s for s in edge["services"] if s["name"] == "echo")
        wait_for_figures(c, hub, [b], "B", lambda e: echo_of(e)["role"] == "none", "B stopped")
        before = status_json(hub)["counters"]
        l1.services = figures(("echo", 10, 5, 0, 0, 1000))
        wait_for_figures(c, hub, [l1], "L1", lambda e: echo_of(e)["idle"] == 5, "L1 fell")
        after = status_json(hub)["counters"]
        check(after["matchings"] - after["matchings_everyone"]
              == before["matchings"] - before["matchings_everyone"],
              "a matching ran for the fall: %r -> %r" % (before, after))
        for edge in (l1, b):
            edge.close()


def test_a_falling_lender_ends_its_holds_at_once_when_it_lends_to_others():
    """L lends to B, which stops: held (L lends to nobody else). C comes and
    takes L's spare: L now lends to C and still holds B. L falls: a
    matching would end the hold (L lends to others), and so does the fall
    at once, without a matching: B hears its match end, L hears C alone."""
    with Cluster("hub-held-ends") as c:
        hub = start_hub(c, "--heartbeat-ms", "5000")   # no heartbeat's matching in between
        l, b, cc = fake_fleet(c, hub, "L", "B", "C")
        l.services = figures(("echo", 10, 10, 0, 0, 1000))
        b.services = figures(("echo", 1, 0, 8, 1, 1000))
        cc.services = figures(("echo", 1, 0, 0, 1, 1000))
        check(next_match(l, "echo")[1] == [("B", b.endpoint, LEND_TO, 8000)], "L lends to B")
        check(next_match(b, "echo")[1] == [("L", l.endpoint, BORROW_FROM, 8000)], "B")
        b.services = figures(("echo", 1, 0, 0, 1, 1000))
        check(no_match_for(b, "echo", 0.3), "B's match ended without its hold")
        cc.services = figures(("echo", 1, 0, 2, 1, 1000))
        check(next_match(cc, "echo")[1] == [("L", l.endpoint, BORROW_FROM, 2000)], "C came")
        check(sorted(next_match(l, "echo")[1])
              == [("B", b.endpoint, LEND_TO, 8000), ("C", cc.endpoint, LEND_TO, 2000)],
              "L should lend to C and hold B")
        before = status_json(hub)["counters"]
        l.services = figures(("echo", 10, 5, 0, 0, 1000))
        check(next_match(b, "echo")[1] == [], "B should hear its held match end")
        check(next_match(l, "echo")[1] == [("C", cc.endpoint, LEND_TO, 2000)],
              "L should lend to C alone")
        after = status_json(hub)["counters"]
        check(after["matchings"] == before["matchings"]
              and after["shrunk_at_once"] == before["shrunk_at_once"] + 1,
              "the fall should be served at once: %r -> %r" % (before, after))
        for edge in (l, b, cc):
            edge.close()


def test_http_endpoint_serves_health_readiness_and_metrics():
    with Cluster("hub-http") as c:
        port = free_port()
        hub = start_hub(c, "--heartbeat-ms", "100", "--http", "127.0.0.1:%d" % port)
        check(http_get(port, "/healthz") == (200, "ok\n"), "healthz")
        c.wait_for("readyz to say ready", lambda: http_get(port, "/readyz")[0] == 200)
        edge = FakeEdge(c, hub, "A")
        check(edge.register()[1] == WELCOME, "not welcomed")
        edge.services = figures(("echo", 2, 2, 0, 0, 1000))

        def counted():
            edge.beat()
            samples = metrics_of(http_get(port, "/metrics")[1])
            return samples if samples.get('spillway_hub_edges{state="alive"}') == 1 else None
        samples = c.wait_for("/metrics to count the edge alive", counted)
        check(samples["spillway_hub_registrations_total"] == 1
              and samples['spillway_hub_loop_turn_seconds_bucket{le="+Inf"}']
              == samples["spillway_hub_loop_turn_seconds_count"] > 0
              and samples['spillway_hub_matching_seconds_bucket{le="+Inf"}']
              == samples["spillway_hub_matching_seconds_count"],
              "metrics: %r" % samples)
        # /api/v1/status is the status's first page, as `status --json` says it.
        api = json.loads(http_get(port, "/api/v1/status")[1])
        cli = status_json(hub)
        check(api["schema"] == cli["schema"] and set(api) == set(cli)
              and [e["name"] for e in api["edges"]] == ["A"],
              "api: %r, cli keys %r" % (api, sorted(cli)))
        # With a query string the loop answers it, as a status request: a
        # search over every edge, a page, a clear 400.
        other = FakeEdge(c, hub, "site-B")
        check(other.register()[1] == WELCOME, "site-B not welcomed")
        found = json.loads(http_get(port, "/api/v1/status?search=SITE&limit=5")[1])
        check(found["query"]["search"] == "SITE" and found["query"]["limit"] == 5
              and found["matched"] == 1 and [e["name"] for e in found["edges"]] == ["site-B"]
              and found["summary"]["edges"] == 2, "search: %r" % found)
        # Without a query it is rendered when read and kept for a beat:
        # fresh within one, and outside the status budget (50 a second).
        c.wait_for("/api/v1/status to list site-B", lambda: [
            e["name"] for e in json.loads(http_get(port, "/api/v1/status")[1])["edges"]]
            == ["A", "site-B"])
        codes = [http_get(port, "/api/v1/status")[0] for _ in range(80)]
        check(codes == [200] * 80, "plain reads of the status met its budget: %r" % codes)
        code, text = http_get(port, "/api/v1/status?sort=loud")
        check(code == 400 and "sort=" in text, "a bad query: %r %r" % (code, text))
        code, text = http_get(port, "/api/v1/status?search=a%20b")
        check(code == 400 and "space" in text, "a query with a space: %r %r" % (code, text))
        check(http_get(port, "/nope")[0] == 404, "an unknown path is 404")
        check(http_get(port, "/metrics", method="POST")[0] == 405, "POST is 405")
        # Idle connections held open past the endpoint's bound do not slow
        # the hub: its status still answers at once.
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        started = time.monotonic()
        check(status_json(hub, timeout_ms=1000) is not None and time.monotonic() - started < 1.0,
              "the hub's status was slow with idle http connections")
        for s in idle:
            s.close()
        edge.close()
        other.close()


def test_http_endpoint_wants_its_token_and_refuses_bad_settings():
    with Cluster("hub-http-token") as c:
        port = free_port()
        token_file = os.path.join(c.dir, "token")
        with open(token_file, "w") as f:
            f.write("s3cret\n")
        start_hub(c, "--http", "127.0.0.1:%d" % port, "--http-token-file", token_file)
        check(http_get(port, "/metrics")[0] == 401, "no token should be 401")
        check(http_get(port, "/metrics", token="wrong")[0] == 401, "a wrong token is 401")
        check(http_get(port, "/metrics", token="s3cret")[0] == 200, "the token opens /metrics")
        check(http_get(port, "/healthz")[0] == 200, "healthz wants no token")
        check(http_get(port, "/")[0] == 200, "the page wants no token (its data does)")
        check(http_get(port, "/api/v1/status")[0] == 401, "/api/v1/status wants the token")
        for value, said in (("nowhere", "HOST:PORT"), ("127.0.0.1:0", "1 to 65535"),
                            ("example.org:80", "IPv4 address")):
            result = subprocess.run([HUB_BIN, "--control", c.endpoint("x"), "--state",
                                     c.endpoint("y"), "--http", value],
                                    capture_output=True, text=True, timeout=10)
            check(result.returncode != 0 and said in result.stderr,
                  "--http %s: exit %d, %r" % (value, result.returncode, result.stderr))
        result = subprocess.run([HUB_BIN, "--control", c.endpoint("x"), "--state",
                                 c.endpoint("y"), "--http", "127.0.0.1:%d" % port],
                                capture_output=True, text=True, timeout=10)
        check(result.returncode != 0 and "cannot serve http" in result.stderr,
              "a port in use: exit %d, %r" % (result.returncode, result.stderr))


def test_garbage_on_both_sockets_does_not_kill_it():
    with Cluster("hub-garbage") as c:
        hub = start_hub(c)
        a = FakeEdge(c, hub, "A")
        check(a.register()[1] == WELCOME, "not welcomed")
        junk = c.ctx.socket(zmq.DEALER)
        junk.linger = 0
        junk.connect(hub.control)
        garbage = [
            [b""], [b"hello"], [HEADER], [HEADER, b"\x99"], [HEADER_V2, b"\x20\x20"],
            [HEADER_V2, REGISTER, b"bad name!", b"\0" * 8, b"tcp://x:1", b""],
            [HEADER_V2, REGISTER, b"A", b"\0" * 7, b"tcp://x:1", b""],
            [HEADER_V2, REGISTER, b"Z", b"\0" * 8, b"not an endpoint", b""],
            [b"SPW1", REGISTER, b"Y", b"\0" * 8, b"tcp://x:1", b""],  # an SPW1 edge
            [HEADER_V2, OLD_ASK, b"echo", b"\0\0\0\1"],
            [HEADER_V2, STATE, b"A"], [HEADER_V2, WELCOME, b"x", b"\0\0\0\1", b"\0\0\0\1"],
            [HEADER, b"\x01", b"\0" * 8, b"spillway.status", b"\0\0\0"],
            [b"x"] * 100,
            [HEADER, HEARTBEAT, b"extra"],
        ]
        for frames in garbage:
            junk.send_multipart(frames)
        pub = c.ctx.socket(zmq.PUB)
        pub.linger = 0
        pub.connect(hub.state)
        state_garbage = [
            [b"junk"], [HEADER_V2, STATE], [HEADER, HEARTBEAT],
            [HEADER_V2, STATE, b"A", struct.pack(">Q", a.epoch), b"\0" * 8, b"\0" * 8, b"\5echo"],
            [HEADER_V2, STATE, b"nobody", b"\0" * 8, b"\0" * 8, b"\0" * 8, b""],
        ]

        def counted():
            for frames in state_garbage:
                pub.send_multipart(frames)
            a.beat()
            status = status_json(hub)
            counters = status["counters"] if status else {}
            return counters if counters.get("dropped_state", 0) >= 4 and \
                counters.get("states_unknown", 0) >= 1 else None
        counters = c.wait_for("the state garbage dropped and counted", counted)
        check(counters["dropped_control"] >= 12, "control drops: %r" % counters)
        # The bad REGISTER of Z was refused, not dropped.
        reply = junk.poll(2000) and junk.recv_multipart()
        check(reply and reply[1] in (REFUSED, DISCONNECT, b"\x02"), "junk got %r" % reply)
        # Other services are answered no-service; the hub still serves A.
        client = c.ctx.socket(zmq.DEALER)
        client.linger = 0
        client.connect(hub.control)
        client.send_multipart([HEADER, b"\x01", struct.pack(">Q", 7), b"echo", b"\0\0\0\0"])
        check(client.poll(5000), "no answer to a request for another service")
        reply = client.recv_multipart()
        check(reply[1] == b"\x02" and reply[3] == b"\x01", "reply to echo: %r" % reply)
        check(edge_status(hub, "A")["state"] == "alive", "A lost after the garbage")
        check(hub.poll() is None, "the hub died")
        for s in (junk, pub, client):
            s.close()
        a.close()


def test_top_refreshes_until_sigterm():
    with Cluster("hub-top") as c:
        hub = start_hub(c)
        top = subprocess.Popen([CLI_BIN, "top", "--hub", hub.control], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            out = b""
            while out.count(b"NAME") < 2 and time.monotonic() < deadline:
                ready, _, _ = select.select([top.stdout], [], [], 0.5)
                if ready:
                    out += os.read(top.stdout.fileno(), 65536)
            check(out.count(b"NAME") >= 2 and b"\033[H\033[2J" in out,
                  "top did not refresh: %r" % out[:300])
            top.send_signal(signal.SIGTERM)
            check(top.wait(10) == 0, "top exited %s after SIGTERM" % top.returncode)
        finally:
            if top.poll() is None:
                top.kill()
                top.wait()


def test_status_is_paged_and_rate_limited_and_edges_are_heard_through_a_flood():
    with Cluster("hub-status-bounds") as c:
        hub = start_hub(c, "--heartbeat-ms", "200", "--liveness", "10")
        edges = [FakeEdge(c, hub, "E%03d" % i) for i in range(150)]
        for edge in edges:
            edge.send(REGISTER, edge.name.encode(), struct.pack(">Q", edge.epoch),
                      edge.endpoint.encode(), b"")
        for edge in edges:
            reply = edge.expect(lambda m: m[1] in (WELCOME, REFUSED), "WELCOME", beat=False)
            check(reply[1] == WELCOME, "%s not welcomed" % edge.name)
        edges[0].companions = edges[1:]
        edges[0].beat()
        status = status_json(hub)
        check(status["summary"]["edges"] == 150 and status["matched"] == 150
              and len(status["edges"]) == 100 and status["next_offset"] == 100,
              "first page: %r" % {k: status[k] for k in ("summary", "matched", "next_offset")})
        rest = json.loads(subprocess.run(
            [CLI_BIN, "status", "--hub", hub.control, "--json", "--offset", "100"],
            capture_output=True, text=True, timeout=30).stdout)
        check([e["name"] for e in rest["edges"]] == ["E%03d" % i for i in range(100, 150)]
              and rest["next_offset"] is None, "second page: %r" % rest["next_offset"])
        one = subprocess.run([CLI_BIN, "status", "--hub", hub.control, "--edge", "E007"],
                             capture_output=True, text=True, timeout=30)
        rows = [line for line in one.stdout.splitlines() if line.startswith("E")]
        check(one.returncode == 0 and len(rows) == 1 and rows[0].startswith("E007 "),
              "--edge E007: %r" % one.stdout)
        bad = subprocess.run([CLI_BIN, "status", "--hub", hub.control, "--sort", "loud"],
                             capture_output=True, text=True, timeout=30)
        check(bad.returncode == 2 and "--sort" in bad.stderr, "--sort loud: %r" % bad.stderr)
        # A flood of status requests: at most the rate is answered, the rest
        # refused at once, and the edges' heartbeats are heard all along.
        flood = c.ctx.socket(zmq.DEALER)
        flood.linger = 0
        flood.connect(hub.control)
        started = time.monotonic()
        answers = {"ok": 0, "overloaded": 0}
        deadline = started + 3
        sent = 0
        while time.monotonic() < deadline:
            for _ in range(50):
                flood.send_multipart([HEADER, b"\x01", struct.pack(">Q", sent), b"spillway.status",
                                      b"\0\0\x03\xe8", b"limit=1000"])
                sent += 1
            edges[0].beat()
            while flood.poll(0):
                reply = flood.recv_multipart()
                status_name = {0: "ok", 3: "overloaded"}.get(reply[3][0], "other")
                answers[status_name] = answers.get(status_name, 0) + 1
            time.sleep(0.02)
        while flood.poll(500):
            reply = flood.recv_multipart()
            status_name = {0: "ok", 3: "overloaded"}.get(reply[3][0], "other")
            answers[status_name] = answers.get(status_name, 0) + 1
        elapsed = time.monotonic() - started
        print("    status flood: %d requests in %.1fs, %d answered, %d refused overloaded"
              % (sent, elapsed, answers["ok"], answers["overloaded"]))
        check(answers["overloaded"] > 0 and answers["ok"] <= 50 + 50 * elapsed + 5
              and answers["ok"] + answers["overloaded"] == sent,
              "%d sent in %.1fs: %r" % (sent, elapsed, answers))
        edges[0].beat()
        after = c.wait_for("the hub to answer status again", lambda: status_json(hub))
        check(after["summary"]["alive"] == 150 and after["counters"]["died"] == 0
              and after["counters"]["status_refused"] == answers["overloaded"],
              "after the flood: %r" % {"summary": after["summary"], "counters": after["counters"]})
        flood.close()


def test_matching_past_its_share_of_the_hub_waits_and_the_fleet_stays():
    """A fleet in short supply over 16 services asks for matchings all the
    time: past a quarter of the hub's time they wait (counted), and every
    edge stays registered and alive (bench-hub simulates the fleet)."""
    with Cluster("hub-budget") as c:
        port = free_port()
        hub = start_hub(c, "--max-edges", "1000", "--http", "127.0.0.1:%d" % port)
        fleet = subprocess.run([BENCH_HUB_BIN, "--hub", hub.control, "--edges", "300",
                                "--services", "16", "--lenders", "30", "--borrowers", "30",
                                "--flip-s", "2", "--duration", "3", "--settle", "1"],
                               capture_output=True, text=True, timeout=120)
        check(fleet.returncode == 0, "bench-hub exited %d: %s" % (fleet.returncode,
                                                               fleet.stderr[-800:]))
        figures = dict(line.split(": ", 1) for line in fleet.stdout.splitlines() if ": " in line)
        samples = metrics_of(http_get(port, "/metrics")[1])
        status = status_json(hub)
        # /metrics is published every beat: its sum may be a beat old.
        share = samples["spillway_hub_matching_seconds_sum"] / ((status["uptime_ms"] - 1000) / 1e3)
        print("    300 edges x 16 services, short: %d matchings deferred, matching %.0f %% "
              "of the hub's time" % (status["counters"]["matchings_deferred"], 100 * share))
        check(figures.get("reregistered") == "0" and status["counters"]["died"] == 0
              and status["summary"]["alive"] == 300,
              "the fleet suffered: %r %r" % (figures.get("reregistered"), status["counters"]))
        check(status["counters"]["matchings_deferred"] > 0 and share < 0.5,
              "matching took %.2f of the hub, %d deferred"
              % (share, status["counters"]["matchings_deferred"]))
        # Their MATCHes went out between the input, through the outbox,
        # which drains.
        check(status["counters"]["outbox_peak"] > 0
              and samples["spillway_hub_outbox_messages"] < status["counters"]["outbox_peak"],
              "outbox: peak %d, %d waiting" % (status["counters"]["outbox_peak"],
                                               samples["spillway_hub_outbox_messages"]))


if __name__ == "__main__":
    run([
        test_hub_starts_from_flags_alone_and_answers_status,
        test_status_without_a_hub_fails_in_one_line,
        test_bad_config_line_is_an_exact_error_and_exit_1,
        test_edge_registers_and_a_second_edge_of_the_same_name_is_refused,
        test_status_shows_the_figures_an_edge_reported,
        test_silent_edge_is_declared_dead_and_its_partners_are_told,
        test_match_pairs_borrower_and_lender_once_and_again_only_on_change,
        test_a_borrower_is_served_on_arrival_and_released_as_it_stops,
        test_a_lender_that_falls_or_a_borrower_that_grows_is_served_from_spare,
        test_a_lender_that_falls_holding_only_held_matches_asks_no_matching,
        test_a_falling_lender_ends_its_holds_at_once_when_it_lends_to_others,
        test_http_endpoint_serves_health_readiness_and_metrics,
        test_http_endpoint_wants_its_token_and_refuses_bad_settings,
        test_garbage_on_both_sockets_does_not_kill_it,
        test_top_refreshes_until_sigterm,
        test_status_is_paged_and_rate_limited_and_edges_are_heard_through_a_flood,
        test_matching_past_its_share_of_the_hub_waits_and_the_fleet_stays,
    ])
