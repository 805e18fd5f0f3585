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
from harness import CLI_BIN, Cluster, check, run  # noqa: E402


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


run([
    test_bench_across_two_edges_answers_everything_when_the_first_is_killed,
    test_submit_skips_an_edge_that_is_not_there,
    test_a_stalled_edges_tasks_go_to_the_next_within_its_heartbeats,
])
