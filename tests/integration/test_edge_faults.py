"""Faults at one edge: dead workers, deadlines, full queues, unknown services."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import CLI_BIN, Cluster, check, run  # noqa: E402

FAST = ("--heartbeat-ms", "100", "--liveness", "3")


def start_exec_worker(c, edge, label, command, service="job"):
    proc = c.start(label, [CLI_BIN, "worker", "--edge", edge.backend, "--service", service,
                           "--heartbeat-ms", "100", "--exec", command])
    return proc


def running(c, edge, service, count):
    return lambda: int(c.stats(edge)["services"].get(service, {}).get("running", -1)) == count


def test_worker_killed_mid_task_its_task_completed_by_another_exactly_once():
    with Cluster("kill") as c:
        edge = c.start_edge("A", *FAST)
        slow = c.start(label="slow", new_session=True, argv=[CLI_BIN, "worker", "--edge", edge.backend,
                                           "--service", "job", "--heartbeat-ms", "100",
                                           "--exec", "sleep 60"])
        c.wait_idle_workers(edge, "job", 1)
        client = c.client(edge)
        request_id = client.send([b"payload-42"], service="job", timeout_ms=30000)
        c.wait_for("the slow worker to take the task", running(c, edge, "job", 1))
        c.kill_group(slow)
        start_exec_worker(c, edge, "good", "cat")
        reply = client.recv(15)
        check(reply is not None, "no reply after the worker was killed")
        check(reply[0] == request_id and reply[1] == "ok" and reply[2] == [b"payload-42"],
              "expected ok payload-42 for request %d, got %r" % (request_id, reply))
        check(client.recv(1.0) is None, "a second reply arrived for the same task")
        stats = c.stats(edge)["edge"]
        check(stats["workers_lost"] == "1" and stats["requeued"] == "1" and stats["done"] == "1",
              "expected 1 worker lost, 1 requeue, 1 done; got %s/%s/%s"
              % (stats["workers_lost"], stats["requeued"], stats["done"]))
        client.close()


def test_task_fails_after_max_attempts_workers_die():
    with Cluster("attempts") as c:
        edge = c.start_edge("A", *FAST, "--max-attempts", "2")
        client = c.client(edge)
        request_id = None
        for attempt in range(2):
            slow = c.start("slow-%d" % attempt,
                           [CLI_BIN, "worker", "--edge", edge.backend, "--service",
                            "job", "--heartbeat-ms", "100", "--exec", "sleep 60"],
                           new_session=True)
            if request_id is None:
                c.wait_idle_workers(edge, "job", 1)
                request_id = client.send([b"doomed"], service="job", timeout_ms=30000)
            c.wait_for("worker %d to take the task" % attempt, lambda: (
                c.stats(edge)["services"]["job"]["workers"] == "1"
                and c.stats(edge)["services"]["job"]["running"] == "1"))
            c.kill_group(slow)
            c.wait_for("the edge to notice the death", lambda: int(
                c.stats(edge)["edge"]["workers_lost"]) == attempt + 1)
        reply = client.recv(10)
        check(reply is not None and reply[0] == request_id and reply[1] == "failed",
              "expected 'failed', got %r" % (reply,))
        check(b"gave up after 2 attempts" in reply[2][0], "reason was %r" % reply[2])
        client.close()


def test_worker_error_is_reported_as_task_error_not_retried():
    with Cluster("taskerror") as c:
        edge = c.start_edge("A", *FAST)
        start_exec_worker(c, edge, "failing", "exit 3")
        c.wait_idle_workers(edge, "job", 1)
        client = c.client(edge)
        status, frames = client.call([b"x"], service="job")
        check(status == "task-error", "expected task-error, got %s %r" % (status, frames))
        check(c.stats(edge)["edge"]["requeued"] == "0", "a task error must not be retried")
        client.close()


def test_deadline_passes_client_gets_timeout_and_late_reply_is_dropped():
    with Cluster("deadline") as c:
        edge = c.start_edge("A", *FAST)
        start_exec_worker(c, edge, "slow", "sleep 1; cat")
        c.wait_idle_workers(edge, "job", 1)
        client = c.client(edge)
        started = time.monotonic()
        status, frames = client.call([b"late"], service="job", timeout_ms=200)
        took = time.monotonic() - started
        check(status == "timeout", "expected timeout, got %s" % status)
        check(took < 0.9, "timeout came after %.2fs, deadline was 0.2s" % took)
        c.wait_for("the late reply to be dropped",
                   lambda: c.stats(edge)["edge"]["late_replies"] == "1")
        status, frames = client.call([b"next"], service="job", timeout_ms=5000)
        check(status == "ok" and frames == [b"next"], "the worker should serve again: %s" % status)
        client.close()


def test_full_queue_answers_overloaded_at_once():
    with Cluster("overload") as c:
        edge = c.start_edge("A", *FAST, "--queue-max", "2")
        start_exec_worker(c, edge, "slow", "sleep 2; cat")
        c.wait_idle_workers(edge, "job", 1)
        client = c.client(edge)
        ids = [client.send([b"t%d" % i], service="job", timeout_ms=20000) for i in range(5)]
        # 1 runs, 2 wait, 2 are refused at once.
        first = [client.recv(1.0) for _ in range(2)]
        check(all(r is not None and r[1] == "overloaded" for r in first),
              "expected two immediate 'overloaded', got %r" % first)
        check(sorted(r[0] for r in first) == ids[3:], "the last two should be refused")
        client.close()


def test_unknown_service_answers_no_service_at_once():
    with Cluster("noservice") as c:
        edge = c.start_edge("A")
        client = c.client(edge)
        status, frames = client.call([b"x"], service="nobody", timeout=5)
        check(status == "no-service" and frames == [b"no worker offers service 'nobody'"],
              "got %s %r" % (status, frames))
        client.close()


def test_worker_leaving_cleanly_is_forgotten_at_once():
    with Cluster("leave") as c:
        edge = c.start_edge("A", *FAST)
        worker = start_exec_worker(c, edge, "w", "cat")
        c.wait_idle_workers(edge, "job", 1)
        c.stop(worker)
        c.wait_for("the worker to be forgotten",
                   lambda: c.stats(edge)["services"]["job"]["workers"] == "0", timeout=5)


run([
    test_worker_killed_mid_task_its_task_completed_by_another_exactly_once,
    test_task_fails_after_max_attempts_workers_die,
    test_worker_error_is_reported_as_task_error_not_retried,
    test_deadline_passes_client_gets_timeout_and_late_reply_is_dropped,
    test_full_queue_answers_overloaded_at_once,
    test_unknown_service_answers_no_service_at_once,
    test_worker_leaving_cleanly_is_forgotten_at_once,
])
