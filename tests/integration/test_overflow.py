"""Overflow between edges through the hub: the real hub and edges as
processes, native and seed clients, workers that say which edge served."""

import json
import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, CLI_BIN, EDGE_BIN, Cluster, check, run  # noqa: E402

import zmq  # noqa: E402

HUB_BIN = os.path.join(BUILD, "hub", "spillway-hub")
HB = "200"  # heartbeat_ms everywhere: faults are noticed in 600 ms


def start_hub(c, label="hub"):
    control, state = c.endpoint("hub-control"), c.endpoint("hub-state")
    hub = c.start(label, [HUB_BIN, "--control", control, "--state", state,
                          "--heartbeat-ms", HB, "--liveness", "3"])
    hub.control = control
    return hub


def start_edge(c, hub, name, *args, label=None):
    label = label or "edge-" + name
    fe, be, cloud = (c.endpoint(label + "-fe"), c.endpoint(label + "-be"),
                     c.endpoint(label + "-cloud"))
    edge = c.start(label,
                   [EDGE_BIN, "--name", name, "--frontend", fe, "--backend", be,
                    "--cloud", cloud, "--hub", hub.control, "--heartbeat-ms", HB] + list(args))
    edge.frontend, edge.backend, edge.name = fe, be, name
    return edge


def start_workers(c, edge, count, service="job", work="sleep 0.05"):
    """Workers that answer 'EDGE:' + the body, so tests see who served."""
    for i in range(count):
        c.start("worker-%s-%d" % (edge.name, i),
                [CLI_BIN, "worker", "--edge", edge.backend, "--service", service,
                 "--heartbeat-ms", HB, "--exec", "%s; printf '%s:'; cat" % (work, edge.name)])


def joined(c, edge):
    return c.stats(edge)["edge"]["hub"] == "joined"


def hub_sees(c, hub, names, idle=None):
    """True when the hub's status lists every name as alive and, for the
    edges named in idle ({name: n}), at least n idle workers: grants are
    decided on what the hub sees, not on what the edges know."""
    client = c.client(type("E", (), {"frontend": hub.control})())
    try:
        status, frames = client.call([b""], service="spillway.status", timeout=2)
    finally:
        client.close()
    if status != "ok":
        return False
    edges = {e["name"]: e for e in json.loads(frames[0])["edges"]}
    if not all(n in edges and edges[n]["state"] == "alive" for n in names):
        return False
    return all(edges[n]["idle"] >= count for n, count in (idle or {}).items())


def run_load(c, edge, count, service="job", window=16, timeout=60):
    """Sends count tasks through a window; returns {edge name: served}."""
    client = c.client(edge)
    served, outstanding, sent = {}, {}, 0
    deadline = time.monotonic() + timeout
    while sent < count or outstanding:
        while sent < count and len(outstanding) < window:
            body = b"task-%d" % sent
            outstanding[client.send([body], service=service, timeout_ms=20000)] = body
            sent += 1
        check(time.monotonic() < deadline, "load did not finish: %d outstanding" % len(outstanding))
        reply = client.recv(5)
        check(reply is not None, "no reply for 5 s with %d outstanding" % len(outstanding))
        request_id, status, frames = reply
        body = outstanding.pop(request_id)
        check(status == "ok", "task %r: %s %r" % (body, status, frames))
        where, _, echoed = frames[0].partition(b":")
        check(echoed == body, "expected %r back, got %r" % (body, frames[0]))
        served[where.decode()] = served.get(where.decode(), 0) + 1
    client.close()
    return served


def borrower_and_lender(c, work="true", args=()):
    """A hub, edge A with no workers and edge B with 2 idle ones the hub has
    seen: the smallest cluster where A borrows from B."""
    hub = start_hub(c)
    a, b = start_edge(c, hub, "A", *args), start_edge(c, hub, "B", *args)
    start_workers(c, b, 2, work=work)
    c.wait_idle_workers(b, "job", 2)
    c.wait_for("the hub to see both", lambda: hub_sees(c, hub, ["A", "B"], {"B": 2}))
    return hub, a, b


class FakeLender(threading.Thread):
    """An edge that registers with the hub as a lender of 'job' with 4 idle
    workers, offers credit to whoever says HELLO, and then misbehaves:
    mode 'busy' answers every DELEGATE busy (with credit, so that it is
    sent more), mode 'silent' takes every task and answers none (while it
    answers heartbeats). Runs in its own thread with its own sockets."""

    def __init__(self, c, hub, name, mode):
        super().__init__(daemon=True)
        self.ctx, self.hub, self.name, self.mode = c.ctx, hub.control, name, mode
        self.endpoint = c.endpoint(name + "-cloud")
        self.delegates = 0
        self.stopping = threading.Event()

    def run(self):
        h, u32, u64 = b"SPW2", (lambda v: struct.pack(">I", v)), (lambda v: struct.pack(">Q", v))
        epoch = u64(int.from_bytes(os.urandom(8), "big"))
        control, cloud = self.ctx.socket(zmq.DEALER), self.ctx.socket(zmq.ROUTER)
        control.linger = cloud.linger = 0
        control.connect(self.hub)
        cloud.bind(self.endpoint)
        control.send_multipart([h, b"\x20", self.name.encode(), epoch, self.endpoint.encode(), b""])
        record = b"\x03job" + struct.pack(">IIIIIII", 4, 4, 0, 0, 0, 0, 0) + b"\x01"
        beat_at = 0
        poller = zmq.Poller()
        poller.register(control, zmq.POLLIN)
        poller.register(cloud, zmq.POLLIN)
        while not self.stopping.is_set():
            if time.monotonic() >= beat_at:
                control.send_multipart([h, b"\x26", self.name.encode(), epoch, u64(0), u64(0),
                                        record])
                beat_at = time.monotonic() + int(HB) / 1000.0
            for sock, _ in poller.poll(50):
                msg = sock.recv_multipart()
                if sock is control:
                    continue  # WELCOME, MATCH, HEARTBEAT: nothing to do
                peer, cmd = msg[0], msg[2]
                if cmd == b"\x35":  # HELLO
                    cloud.send_multipart([peer, h, b"\x32", b"job", u32(4), u32(3000)])
                elif cmd == b"\x13":  # HEARTBEAT
                    cloud.send_multipart([peer, h, b"\x13"])
                elif cmd == b"\x30":  # DELEGATE
                    self.delegates += 1
                    if self.mode == "busy":
                        cloud.send_multipart([peer, h, b"\x31", msg[4], b"\x07", u32(1), b"busy"])
        control.close()
        cloud.close()


def misbehaving_lender(c, mode, *args):
    """A hub, edge A with clients and no workers, edge B with 2 workers, and
    a fake lender F of 4 idle workers that misbehaves as mode says."""
    hub = start_hub(c)
    a, b = start_edge(c, hub, "A", *args), start_edge(c, hub, "B")
    start_workers(c, b, 2, work="sleep 0.01")
    fake = FakeLender(c, hub, "F", mode)
    fake.start()
    c.wait_idle_workers(b, "job", 2)
    c.wait_for("the hub to see all three", lambda: hub_sees(c, hub, ["A", "B", "F"], {"B": 2}))
    return a, fake


def test_a_lender_answering_only_busy_is_cut_off_and_b_serves():
    with Cluster("busylender") as c:
        a, fake = misbehaving_lender(c, "busy")
        started = time.monotonic()
        served = run_load(c, a, 100, window=8)
        took = time.monotonic() - started
        fake.stopping.set()
        check(served.get("B") == 100, "served by %r" % served)
        cut = int(c.stats(a)["edge"]["lenders_cut"])
        check(cut >= 1, "A never cut F off (it got %d DELEGATEs)" % fake.delegates)
        # Without the breaker every task bounced off F as long as credit
        # came back with each busy: thousands a second.
        check(fake.delegates < 60, "F got %d DELEGATEs in %.1fs" % (fake.delegates, took))
        fake.join(2)


def test_a_lender_that_answers_nothing_is_cut_off_and_its_tasks_served_elsewhere():
    with Cluster("silentlender") as c:
        a, fake = misbehaving_lender(c, "silent", "--lender-stall-ms", "600")
        started = time.monotonic()
        served = run_load(c, a, 40, window=8, timeout=30)
        took = time.monotonic() - started
        fake.stopping.set()
        # Deadlines are 20 s: the tasks F held came back long before.
        check(served.get("B") == 40 and took < 10,
              "served by %r in %.1fs (F took %d)" % (served, took, fake.delegates))
        check(fake.delegates >= 1, "F was never sent a task: the test tests nothing")
        check("it holds our tasks and answers none" in c.log_tail(a, 200),
              "A did not say why it cut F off")
        fake.join(2)


def test_edge_without_workers_is_served_by_others_in_proportion_to_spare():
    with Cluster("spare") as c:
        hub = start_hub(c)
        a, b, cc = start_edge(c, hub, "A"), start_edge(c, hub, "B"), start_edge(c, hub, "C")
        start_workers(c, b, 6)
        start_workers(c, cc, 2)
        c.wait_idle_workers(b, "job", 6)
        c.wait_idle_workers(cc, "job", 2)
        c.wait_for("the hub to see all three", lambda: hub_sees(c, hub, ["A", "B", "C"],
                                                                 {"B": 6, "C": 2}))
        served = run_load(c, a, 400, window=8)
        check(set(served) <= {"B", "C"} and sum(served.values()) == 400, "served: %r" % served)
        share = served.get("B", 0) / 400
        check(0.55 <= share <= 0.95, "B has 3/4 of the spare and served %.0f%% (%r)"
              % (share * 100, served))


def test_overloaded_edge_spills_and_beats_its_own_throughput():
    with Cluster("spill") as c:
        hub = start_hub(c)
        a, b, cc = start_edge(c, hub, "A"), start_edge(c, hub, "B"), start_edge(c, hub, "C")
        for edge in (a, b, cc):
            start_workers(c, edge, 2, work="sleep 0.1")
            c.wait_idle_workers(edge, "job", 2)
        c.wait_for("the hub to see all three", lambda: hub_sees(c, hub, ["A", "B", "C"],
                                                                 {"B": 2, "C": 2}))
        tasks = 120
        started = time.monotonic()
        served = run_load(c, a, tasks, window=24)
        took = time.monotonic() - started
        alone = tasks * 0.1 / 2  # A's two workers alone
        check(served.get("B", 0) + served.get("C", 0) > 0, "nothing spilled: %r" % served)
        check(took < alone * 0.75, "took %.1fs; A alone needs %.1fs (%r)" % (took, alone, served))


def test_hub_killed_local_goes_on_and_restarted_hub_resumes_delegation():
    with Cluster("hubdown") as c:
        hub, a, b = borrower_and_lender(c)
        check(run_load(c, a, 10) == {"B": 10}, "before: A's tasks should go to B")
        c.kill(hub)
        c.wait_for("A to notice the hub is gone", lambda: not joined(c, a), timeout=5)
        check(run_load(c, b, 20) == {"B": 20}, "local traffic at B must go on")
        hub2 = start_hub(c, label="hub-again")
        started = time.monotonic()
        c.wait_for("A to rejoin", lambda: joined(c, a) and hub_sees(c, hub2, ["A", "B"]),
                   timeout=5, interval=0.02)
        rejoined = time.monotonic() - started
        check(rejoined < 2 * 0.2 + 0.5, "rejoined after %.2fs" % rejoined)
        check(run_load(c, a, 10) == {"B": 10}, "after: delegation resumes")


def test_hub_restarted_with_tasks_in_flight_runs_none_of_them_twice():
    """A restarted hub hears every edge register again and tells the others
    it joined; that is no news of the process they know, so the tasks in
    flight there stay there and are answered once."""
    with Cluster("rehub") as c:
        hub, a, b = borrower_and_lender(c, work="sleep 1.5")
        client = c.client(a)
        ids = [client.send([b"x%d" % i], service="job", timeout_ms=20000) for i in range(2)]
        c.wait_for("A to delegate both", lambda: int(c.stats(a)["edge"]["delegated_out"]) >= 2)
        c.kill(hub)
        hub2 = start_hub(c, label="hub-again")
        c.wait_for("both to join the new hub", lambda: joined(c, a) and joined(c, b)
                   and hub_sees(c, hub2, ["A", "B"]), timeout=10, interval=0.02)
        replies = {}
        for _ in ids:
            reply = client.recv(10)
            check(reply is not None, "no reply after the hub restarted: %r" % replies)
            replies[reply[0]] = reply[1]
        client.close()
        check(all(replies[i] == "ok" for i in ids), "replies: %r" % replies)
        stats_a, stats_b = c.stats(a)["edge"], c.stats(b)["edge"]
        check(stats_a["requeued"] == "0" and stats_b["accepted"] == "2",
              "the tasks in flight were run again: A requeued %s, B accepted %s"
              % (stats_a["requeued"], stats_b["accepted"]))


def test_hub_killed_lending_set_up_runs_out_its_lease_then_stops():
    lease_ms = 1500
    with Cluster("lease") as c:
        hub, a, b = borrower_and_lender(c, args=("--credit-lease-ms", str(lease_ms)))
        check(run_load(c, a, 10) == {"B": 10}, "before: A's tasks should go to B")
        c.kill(hub)
        killed = time.monotonic()
        # The credit A holds still binds B: its tasks go on being served.
        check(run_load(c, a, 10) == {"B": 10}, "within the lease A's tasks should still go to B")
        client = c.client(a)

        def stopped():
            client.send([b"late"], service="job", timeout_ms=300)
            reply = client.recv(2)
            check(reply is not None, "no answer at all to a task with a 300 ms deadline")
            return reply[1] == "timeout"
        c.wait_for("A to stop borrowing once its credit lapsed", stopped, timeout=10, interval=0)
        elapsed = time.monotonic() - killed
        client.close()
        check(elapsed >= lease_ms / 1000, "lending stopped %.2fs after the hub died, before "
              "its %d ms lease ran out" % (elapsed, lease_ms))
        check(run_load(c, b, 5) == {"B": 5}, "B's own traffic must go on")


def test_bursts_apart_are_each_served_by_the_lender():
    """A borrower with no workers of its own forgets the service between
    bursts only once its match has ended, and the next burst is matched
    afresh: no burst waits for credit that was forgotten."""
    with Cluster("bursts") as c:
        hub, a, b = borrower_and_lender(c)
        check(run_load(c, a, 10) == {"B": 10}, "first burst")
        check(run_load(c, a, 10) == {"B": 10}, "second burst, right after")
        c.wait_for("A to forget the service once nothing uses it",
                   lambda: "job" not in c.stats(a)["services"], timeout=10)
        check(run_load(c, a, 10, timeout=10) == {"B": 10}, "a burst after the service was "
              "forgotten should be matched again")


def test_new_edge_joins_under_load_and_receives_overflow():
    with Cluster("join") as c:
        hub = start_hub(c)
        a = start_edge(c, hub, "A")
        start_workers(c, a, 1, work="sleep 0.05")
        c.wait_idle_workers(a, "job", 1)
        client = c.client(a)
        outstanding = {}
        answered = 0
        d = None
        deadline = time.monotonic() + 60
        while answered < 150:
            check(time.monotonic() < deadline, "load did not finish")
            while len(outstanding) < 10:
                outstanding[client.send([b"x"], service="job", timeout_ms=20000)] = 1
            reply = client.recv(5)
            check(reply is not None and reply[1] == "ok", "reply: %r" % (reply,))
            outstanding.pop(reply[0])
            answered += 1
            if answered == 20:
                d = start_edge(c, hub, "D")
                start_workers(c, d, 3, work="sleep 0.05")
        while outstanding:
            reply = client.recv(10)
            check(reply is not None, "lost tasks at the end")
            outstanding.pop(reply[0])
        client.close()
        check(int(c.stats(d)["edge"]["delegated_in"]) > 0, "the new edge got no overflow")


def test_duplicate_edge_name_is_refused_with_its_reason():
    with Cluster("dup") as c:
        hub = start_hub(c)
        a = start_edge(c, hub, "A")
        c.wait_for("A to join", lambda: joined(c, a))
        twin = start_edge(c, hub, "A", label="edge-A-twin")
        twin.expect_clean = False
        try:
            rc = twin.wait(10)
        except Exception:
            raise AssertionError("the duplicate edge did not exit")
        check(rc != 0, "the duplicate edge exited 0")
        log = c.log_tail(twin)
        check("name 'A' is held by a live edge" in log, "no reason in its log: %s" % log)
        check(joined(c, a), "the first A must stay joined")


def test_seed_req_clients_at_an_edge_without_workers_are_served_elsewhere():
    with Cluster("seedspill") as c:
        hub = start_hub(c)
        a, b = start_edge(c, hub, "A"), start_edge(c, hub, "B")
        for i in range(2):
            c.start("echo-%d" % i, [CLI_BIN, "worker", "--edge", b.backend, "--echo",
                                    "--heartbeat-ms", HB])
        c.wait_idle_workers(b, "default", 2)
        c.wait_for("the hub to see both", lambda: hub_sees(c, hub, ["A", "B"], {"B": 2}))
        req = c.ctx.socket(zmq.REQ)
        req.connect(a.frontend)
        for i in range(20):
            frames = [b"seed-%d" % i, b"two"]
            req.send_multipart(frames)
            check(req.poll(10000), "no reply to the REQ client")
            reply = req.recv_multipart()
            check(reply == frames, "expected %r, got %r" % (frames, reply))
        req.close()


def test_serving_edge_killed_mid_task_its_tasks_are_rerouted_and_answered_once():
    with Cluster("killserving") as c:
        hub = start_hub(c)
        a, b, cc = start_edge(c, hub, "A"), start_edge(c, hub, "B"), start_edge(c, hub, "C")
        b_workers = []
        for i in range(3):
            b_workers.append(c.start("worker-B-%d" % i,
                                     [CLI_BIN, "worker", "--edge", b.backend, "--service", "job",
                                      "--heartbeat-ms", HB, "--exec", "sleep 30; cat"],
                                     new_session=True))
        start_workers(c, cc, 3, work="sleep 0.02")
        c.wait_idle_workers(b, "job", 3)
        c.wait_idle_workers(cc, "job", 3)
        c.wait_for("the hub to see all three", lambda: hub_sees(c, hub, ["A", "B", "C"],
                                                                 {"B": 3, "C": 3}))
        client = c.client(a)
        ids = {client.send([b"t%d" % i], service="job", timeout_ms=30000): b"t%d" % i
               for i in range(12)}
        # B's slow workers hold some of them: kill B and its workers at once.
        c.wait_for("B to hold delegated tasks",
                   lambda: int(c.stats(b)["edge"]["delegated_in"]) > 0)
        c.kill(b)
        for w in b_workers:
            c.kill_group(w)
        answered = set()
        deadline = time.monotonic() + 20
        while len(answered) < len(ids):
            check(time.monotonic() < deadline, "only %d of %d answered" % (len(answered), len(ids)))
            reply = client.recv(5)
            check(reply is not None, "no reply for 5 s")
            request_id, status, frames = reply
            check(request_id not in answered, "request %d answered twice" % request_id)
            check(status == "ok" and frames[0] == b"C:" + ids[request_id],
                  "request %d: %s %r" % (request_id, status, frames))
            answered.add(request_id)
        check(client.recv(1) is None, "an extra reply arrived")
        client.close()


def test_serving_edge_restarted_under_its_name_its_old_tasks_are_rerouted():
    with Cluster("restart") as c:
        hub = c.start("hub", [HUB_BIN, "--control", c.endpoint("hub-control"), "--state",
                              c.endpoint("hub-state"), "--heartbeat-ms", "1000"])
        hub.control = c.endpoint("hub-control")
        a = start_edge(c, hub, "A", "--heartbeat-ms", "200")
        # B heartbeats fast, so that its second life registers the moment
        # the hub lets go of the first, racing the hub's own death notice.
        b = start_edge(c, hub, "B", "--heartbeat-ms", "50", label="edge-B")
        slow = [c.start("slow-%d" % i, [CLI_BIN, "worker", "--edge", b.backend, "--service",
                                        "job", "--heartbeat-ms", "50", "--exec", "sleep 30"],
                        new_session=True) for i in range(2)]
        c.wait_idle_workers(b, "job", 2)
        c.wait_for("the hub to see B's workers", lambda: hub_sees(c, hub, ["A", "B"], {"B": 2})
                   and c.stats(a)["edge"]["hub"] == "joined")
        client = c.client(a)
        ids = [client.send([b"x%d" % i], service="job", timeout_ms=20000) for i in range(2)]
        c.wait_for("A to delegate both", lambda: int(c.stats(a)["edge"]["delegated_out"]) >= 2,
                   timeout=10)
        c.kill(b)
        for w in slow:
            c.kill_group(w)
        b2 = c.start("edge-B-again", [EDGE_BIN, "--name", "B", "--frontend", b.frontend,
                                      "--backend", b.backend, "--cloud", c.endpoint("edge-B-cloud"),
                                      "--hub", hub.control, "--heartbeat-ms", "50"])
        for i in range(2):
            c.start("again-%d" % i, [CLI_BIN, "worker", "--edge", b.backend, "--service", "job",
                                     "--heartbeat-ms", "50", "--exec", "printf B:; cat"])
        replies = {}
        for _ in ids:
            reply = client.recv(15)
            check(reply is not None, "no reply after B restarted: %r" % replies)
            replies[reply[0]] = (reply[1], reply[2])
        check(all(replies[i][0] == "ok" for i in ids), "expected both re-routed and ok: %r" % replies)
        check(b2.poll() is None, "the restarted B exited")
        client.close()


def test_client_made_up_service_names_cannot_fill_the_table():
    with Cluster("names") as c:
        hub = start_hub(c)
        a = start_edge(c, hub, "A", "--max-services", "8")
        client = c.client(a)
        for i in range(50):
            client.send([b"junk"], service="typo%d" % i, timeout_ms=1)
        for _ in range(50):
            check(client.recv(5) is not None, "a made-up service got no answer")
        c.start("worker", [CLI_BIN, "worker", "--edge", a.backend, "--service", "real",
                           "--heartbeat-ms", HB, "--exec", "cat"])
        c.wait_idle_workers(a, "real", 1)
        status, frames = client.call([b"hello"], service="real", timeout=5, timeout_ms=2000)
        check(status == "ok" and frames == [b"hello"], "got %s %r" % (status, frames))
        client.close()


def test_overflow_prefers_edges_of_the_origins_zone():
    with Cluster("zone") as c:
        hub = start_hub(c)
        a = start_edge(c, hub, "A", "--zone", "eu-west")
        b = start_edge(c, hub, "B", "--zone", "eu-west")
        far = start_edge(c, hub, "C", "--zone", "us-east")
        start_workers(c, b, 2, work="sleep 0.02")
        start_workers(c, far, 6, work="sleep 0.02")
        c.wait_idle_workers(b, "job", 2)
        c.wait_idle_workers(far, "job", 6)
        c.wait_for("the hub to see B and C idle", lambda: hub_sees(c, hub, ["A", "B", "C"],
                                                                   {"B": 2, "C": 6}))
        # Two at a time: the near edge always has room for them.
        served = run_load(c, a, 60, window=2)
        # Without the zone, most-spare would send C, with three times B's
        # spare, about three quarters of them.
        check(served.get("B", 0) > served.get("C", 0), "B shares A's zone and should serve "
              "more of A's overflow than C, which has more spare: %r" % served)


if __name__ == "__main__":
    run([
        test_a_lender_answering_only_busy_is_cut_off_and_b_serves,
        test_a_lender_that_answers_nothing_is_cut_off_and_its_tasks_served_elsewhere,
        test_overflow_prefers_edges_of_the_origins_zone,
        test_serving_edge_restarted_under_its_name_its_old_tasks_are_rerouted,
        test_client_made_up_service_names_cannot_fill_the_table,
        test_serving_edge_killed_mid_task_its_tasks_are_rerouted_and_answered_once,
        test_edge_without_workers_is_served_by_others_in_proportion_to_spare,
        test_overloaded_edge_spills_and_beats_its_own_throughput,
        test_hub_killed_local_goes_on_and_restarted_hub_resumes_delegation,
        test_hub_restarted_with_tasks_in_flight_runs_none_of_them_twice,
        test_hub_killed_lending_set_up_runs_out_its_lease_then_stops,
        test_bursts_apart_are_each_served_by_the_lender,
        test_new_edge_joins_under_load_and_receives_overflow,
        test_duplicate_edge_name_is_refused_with_its_reason,
        test_seed_req_clients_at_an_edge_without_workers_are_served_elsewhere,
    ])
