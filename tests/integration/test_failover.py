"""Faults the client rides out: its edge killed or stalled, an edge that is
not there. A client given several edges sends each request to the first
that is up and sends it again, same id, to another when that edge dies or
stops answering; it delivers one reply per request."""

import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import CLI_BIN, EDGE_BIN, Cluster, check, run  # noqa: E402
from test_overflow import hub_sees, joined, start_edge as start_member, start_hub  # noqa: E402

import zmq  # noqa: E402


def cli(*args, timeout=60):
    return subprocess.run([CLI_BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def accepted(c, edge):
    return int(c.stats(edge)["edge"]["accepted"])


def test_bench_across_two_edges_answers_everything_when_the_first_is_killed():
    with Cluster("failover-kill") as c:
        a, b = c.start_edge("A"), c.start_edge("B")
        for edge in (a, b):
            c.start_worker(edge, "worker-" + edge.label, "--echo", "--slots", "8")
            c.wait_idle_workers(edge, "default", 1)
        bench = c.start("bench", [CLI_BIN, "bench", "--edge", a.frontend + "," + b.frontend,
                                  "--clients", "4", "--window", "8", "--duration", "4",
                                  "--timeout", "10000"])
        c.wait_for("A to serve the bench", lambda: accepted(c, a) > 500)
        c.kill(a)
        check(bench.wait(60) == 0, "bench exited %s:\n%s" % (bench.returncode, c.log_tail(bench)))
        total = [line for line in c.log_tail(bench).splitlines() if line.startswith("total:")]
        check(total and "errors=0" in total[0], "bench: %r" % total)
        sent = int(total[0].split("sent=")[1].split()[0])
        done = int(total[0].split("done=")[1].split()[0])
        check(sent == done and done > 0, "sent %d, done %d" % (sent, done))
        check(accepted(c, b) > 0, "B served nothing")


def test_submit_skips_an_edge_that_is_not_there():
    with Cluster("failover-absent") as c:
        b = c.start_edge("B")
        c.start_worker(b, "worker", "--echo")
        c.wait_idle_workers(b, "default", 1)
        started = time.monotonic()
        result = cli("submit", "--edge", c.endpoint("nobody") + "," + b.frontend,
                     "--timeout", "10000", "hello")
        check(result.returncode == 0 and result.stdout == "hello\n",
              "submit: %d %r %r" % (result.returncode, result.stdout, result.stderr))
        check(time.monotonic() - started < 5, "it took %.1fs" % (time.monotonic() - started))
        bad = cli("submit", "--edge", b.frontend + ",", "x")
        check(bad.returncode == 2 and "--edge" in bad.stderr, "an empty endpoint: %r" % bad.stderr)


def test_a_stalled_edges_tasks_go_to_the_next_within_its_heartbeats():
    with Cluster("failover-stall") as c:
        a, b = c.start_edge("A"), c.start_edge("B")
        c.start_worker(a, "slow", "--exec", "sleep 30; cat")
        c.start_worker(b, "fast", "--echo", "--slots", "4")
        for edge in (a, b):
            c.wait_idle_workers(edge, "default", 1)
        submit = c.start("submit", [CLI_BIN, "submit", "--edge", a.frontend + "," + b.frontend,
                                    "--count", "4", "--timeout", "20000", "task"])
        c.wait_for("A to hold the tasks", lambda: accepted(c, a) >= 4)
        os.kill(a.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            check(submit.wait(20) == 0, "submit exited %s:\n%s"
                  % (submit.returncode, c.log_tail(submit)))
            elapsed = time.monotonic() - started
            # ZMTP heartbeats: a silent edge is down after 3 x 1 s.
            check(elapsed < 8, "the tasks took %.1fs to come back from B" % elapsed)
            check("4 ok, 0 failed" in c.log_tail(submit), "submit: %r" % c.log_tail(submit))
        finally:
            os.kill(a.pid, signal.SIGCONT)
        check(accepted(c, b) >= 4, "B did not take A's tasks")


def seed_call(c, edge, body, timeout=10.0):
    """One seed (REQ) request; the reply, or None."""
    s = c.ctx.socket(zmq.REQ)
    s.linger = 0
    s.connect(edge.frontend)
    try:
        s.send(body)
        return s.recv() if s.poll(int(timeout * 1000)) else None
    finally:
        s.close()


def test_a_draining_edge_finishes_its_tasks_sends_new_ones_elsewhere_and_exits_0():
    with Cluster("drain") as c:
        hub = start_hub(c)
        a, b = start_member(c, hub, "A"), start_member(c, hub, "B")
        # The held tasks' service is A's alone: they stay at A.
        c.start_worker(a, "slow", "--service", "slow", "--exec", "sleep 1; cat",
                       "--heartbeat-ms", "200")
        c.start_worker(b, "fast", "--echo", "--heartbeat-ms", "200")
        c.wait_idle_workers(a, "slow", 1)
        c.wait_idle_workers(b, "default", 1)
        for edge in (a, b):
            c.wait_for("%s to join" % edge.name, lambda e=edge: joined(c, e))
        client = c.client(a)
        ids = [client.send([b"held-%d" % i], service="slow", timeout_ms=20000)
               for i in range(3)]
        c.wait_for("A to hold 3 tasks", lambda: int(c.stats(a)["edge"]["tasks"]) == 3)
        drained = cli("drain", "--edge", a.frontend)
        check(drained.returncode == 0 and "3 tasks held" in drained.stdout,
              "drain: %d %r %r" % (drained.returncode, drained.stdout, drained.stderr))
        late = client.call([b"late"], service="slow", timeout=5)
        check(late[0] == "busy" and b"draining" in late[1][0], "a new native task: %r" % (late,))
        elsewhere = cli("submit", "--edge", a.frontend + "," + b.frontend, "--timeout", "10000",
                        "elsewhere")
        check(elsewhere.returncode == 0 and elsewhere.stdout == "elsewhere\n",
              "a failover client during the drain: %r" % (elsewhere.stderr,))
        c.wait_for("the hub to see A draining", lambda: any(
            e["name"] == "A" and e["state"] == "draining" for e in hub_edges(c, hub)))
        seed = seed_call(c, a, b"seed-task", timeout=15)
        check(seed == b"seed-task", "a seed client during the drain got %r" % seed)
        replies = {}
        while len(replies) < 3:
            reply = client.recv(15)
            check(reply is not None, "only %d of the held tasks answered" % len(replies))
            replies[reply[0]] = reply
        check(all(replies[i][1] == "ok" for i in ids), "held tasks: %r" % replies)
        check(a.wait(10) == 0, "A exited %s" % a.returncode)
        check("event=draining" in c.log_tail(a, 100), "no drain in A's log")
        client.close()


def hub_edges(c, hub):
    client = c.client(type("E", (), {"frontend": hub.control})())
    try:
        status, frames = client.call([b""], service="spillway.status", timeout=2)
    finally:
        client.close()
    import json
    return json.loads(frames[0])["edges"] if status == "ok" else []


def test_sigterm_drains_and_stops_at_the_drain_timeout():
    with Cluster("drain-timeout") as c:
        a = c.start_edge("A", "--drain-timeout-ms", "1000")
        c.start_worker(a, "stuck", "--exec", "sleep 30; cat")
        c.wait_idle_workers(a, "default", 1)
        client = c.client(a)
        request_id = client.send([b"stuck"], timeout_ms=60000)
        c.wait_for("A to run the task", lambda: int(c.stats(a)["edge"]["tasks"]) == 1)
        started = time.monotonic()
        a.send_signal(signal.SIGTERM)
        check(a.wait(10) == 0, "A exited %s" % a.returncode)
        elapsed = time.monotonic() - started
        check(0.8 < elapsed < 5, "A stopped after %.1fs, its drain timeout is 1 s" % elapsed)
        reply = client.recv(5)
        check(reply and reply[0] == request_id and reply[1] == "busy",
              "the task it could not finish: %r" % (reply,))
        client.close()


def test_a_rolling_restart_of_every_edge_under_load_loses_and_fails_nothing():
    with Cluster("rolling") as c:
        hub = start_hub(c)
        edges = [start_member(c, hub, name) for name in ("A", "B", "C")]
        for edge in edges:
            c.start_worker(edge, "worker-" + edge.name, "--exec", "sleep 0.01; cat",
                           "--slots", "4", "--heartbeat-ms", "200")
            c.wait_idle_workers(edge, "default", 1)
        bench = c.start("bench", [CLI_BIN, "bench", "--edge",
                                  ",".join(e.frontend for e in edges), "--clients", "4",
                                  "--window", "4", "--duration", "9", "--timeout", "20000"])
        c.wait_for("the bench to run", lambda: int(c.stats(edges[0])["edge"]["accepted"]) > 50)
        for i, edge in enumerate(edges):
            edge.send_signal(signal.SIGTERM)
            check(edge.wait(20) == 0, "%s exited %s when drained" % (edge.name, edge.returncode))
            # The same endpoints: its workers and the bench's clients come back.
            again = start_member(c, hub, edge.name)
            edges[i] = again
            c.wait_idle_workers(again, "default", 1)
        check(bench.wait(60) == 0, "bench exited %s:\n%s" % (bench.returncode, c.log_tail(bench)))
        total = [line for line in c.log_tail(bench).splitlines() if line.startswith("total:")]
        check(total and "errors=0" in total[0], "bench: %r" % total)


run([
    test_bench_across_two_edges_answers_everything_when_the_first_is_killed,
    test_submit_skips_an_edge_that_is_not_there,
    test_a_stalled_edges_tasks_go_to_the_next_within_its_heartbeats,
    test_a_draining_edge_finishes_its_tasks_sends_new_ones_elsewhere_and_exits_0,
    test_sigterm_drains_and_stops_at_the_drain_timeout,
    test_a_rolling_restart_of_every_edge_under_load_loses_and_fails_nothing,
])
