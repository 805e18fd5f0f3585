"""The client and worker protocol around the codec: no message strands a task
or a worker. A worker's answer the edge cannot take ends its task at once
with an explicit error and leaves the worker serving; only the worker a task
runs on may answer it; task keys do not follow each other; every malformed
request whose id can be read, and every seed REQ client, gets an answer."""

import os
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import HEADER, REQUEST, Cluster, check, run  # noqa: E402

import zmq  # noqa: E402

READY, TASK, RESULT, HEARTBEAT, DISCONNECT, ACCEPTED = (b"\x10", b"\x11", b"\x12", b"\x13",
                                                     b"\x14", b"\x15")
LIMIT = 4096          # the edge's max_message_bytes in these tests
ANSWER_S = 2.0        # an answer "at once": well inside a heartbeat-free wait
DEADLINE_MS = 20000   # the clients' deadline: a timeout would take this long


class FakeWorker:
    """A native worker driven by hand: READY, then whatever the test sends."""

    def __init__(self, c, edge, service="echo", slots=None):
        self.socket = c.ctx.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(edge.backend)
        said = [] if slots is None else [struct.pack(">I", slots)]
        self.socket.send_multipart([HEADER, READY, service.encode()] + said)

    def task(self, timeout=5.0):
        """The next TASK as (key bytes, body frames); fails if none comes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.socket.poll(100):
                continue
            msg = self.socket.recv_multipart()
            if msg[:2] == [HEADER, TASK]:
                return msg[2], msg[3:]
        check(False, "the worker got no task within %.1fs" % timeout)

    def no_task_for(self, seconds):
        """True if no TASK comes within seconds (heartbeats aside)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.socket.poll(50) and self.socket.recv_multipart()[:2] == [HEADER, TASK]:
                return False
        return True

    def heard(self, command, timeout=5.0):
        """The message of this command the edge sent within timeout, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.socket.poll(100):
                msg = self.socket.recv_multipart()
                if msg[:2] == [HEADER, command]:
                    return msg
        return None

    def send(self, *frames):
        self.socket.send_multipart([HEADER] + list(frames))

    def echo(self, timeout=5.0):
        """Takes the next task and answers it ok with its own body."""
        key, frames = self.task(timeout)
        self.send(RESULT, key, b"\x00", *frames)

    def close(self):
        self.socket.close()


def edge_with_worker(c, name):
    edge = c.start_edge(name, "--max-message-bytes", str(LIMIT), "--heartbeat-ms", "200")
    worker = FakeWorker(c, edge)
    c.wait_idle_workers(edge, "echo", 1)
    return edge, worker


def answered_at_once(client, request_id):
    """The reply to request_id, which must come within ANSWER_S."""
    started = time.monotonic()
    reply = client.recv(ANSWER_S)
    check(reply is not None, "request %d: no answer within %.1fs" % (request_id, ANSWER_S))
    check(reply[0] == request_id, "expected request %d, got %r" % (request_id, reply[:2]))
    return reply[1], reply[2], time.monotonic() - started


def check_refused_answer_then_served(c, name, bad_result, expected="too-large"):
    """A worker's RESULT built by bad_result(key) is refused: its client gets
    expected at once, and the same worker takes and answers the next task."""
    edge, worker = edge_with_worker(c, name)
    client = c.client(edge)
    first = client.send([b"first"], service="echo", timeout_ms=DEADLINE_MS)
    key, _ = worker.task()
    worker.send(*bad_result(key))
    status, body, _ = answered_at_once(client, first)
    check(status == expected, "%s: expected %s, got %s %r" % (name, expected, status, body))
    check(body and body[0].startswith(b"the worker's reply could not be taken: "),
          "%s: the reason was %r" % (name, body))
    second = client.send([b"second"], service="echo", timeout_ms=DEADLINE_MS)
    worker.echo()
    status, body, _ = answered_at_once(client, second)
    check(status == "ok" and body == [b"second"], "%s: then %s %r" % (name, status, body))
    client.close()
    worker.close()
    return body


def test_a_result_over_the_limit_ends_its_task_and_the_worker_serves_on():
    with Cluster("toolarge") as c:
        check_refused_answer_then_served(
            c, "A", lambda key: [RESULT, key, b"\x00", b"x" * 3000, b"y" * 3000])


def test_a_result_in_one_frame_over_the_limit_ends_its_task():
    with Cluster("bigframe") as c:
        check_refused_answer_then_served(c, "A", lambda key: [RESULT, key, b"\x00", b"x" * 5000])


def test_a_result_with_too_many_frames_ends_its_task():
    with Cluster("toomany") as c:
        check_refused_answer_then_served(
            c, "A", lambda key: [RESULT, key, b"\x00"] + [b"x"] * 17)


def test_a_result_with_more_frames_than_a_message_holds_ends_its_task():
    with Cluster("truncated") as c:
        check_refused_answer_then_served(
            c, "A", lambda key: [RESULT, key, b"\x00"] + [b"x"] * 40)


def test_a_result_with_an_unknown_status_ends_its_task():
    with Cluster("status") as c:
        check_refused_answer_then_served(c, "A", lambda key: [RESULT, key, b"\xc8", b"x"],
                                         expected="task-error")


def test_a_worker_saying_nonsense_is_removed_and_its_task_served_at_once():
    nonsense = {
        "an unknown command": [b"\x7f", b"nonsense"],
        "a client's command": [REQUEST, struct.pack(">Q", 1), b"echo", struct.pack(">I", 0)],
        "READY for a name of the edge's own": [READY, b"spillway.stats"],
    }
    for what, frames in nonsense.items():
        with Cluster("nonsense") as c:
            edge, worker = edge_with_worker(c, "A")
            client = c.client(edge)
            request = client.send([b"task"], service="echo", timeout_ms=DEADLINE_MS)
            worker.task()
            other = FakeWorker(c, edge)
            c.wait_idle_workers(edge, "echo", 1)
            worker.send(*frames)
            check(worker.heard(DISCONNECT), "%s: the worker was not told to go" % what)
            other.echo(ANSWER_S)
            status, body, _ = answered_at_once(client, request)
            check(status == "ok" and body == [b"task"], "%s: then %s %r" % (what, status, body))
            s = c.stats(edge)
            check(s["services"]["echo"]["workers"] == "1",
                  "%s: workers %r" % (what, s["services"]["echo"]))
            client.close()
            worker.close()
            other.close()


def test_only_the_worker_a_task_runs_on_may_answer_it():
    with Cluster("forged") as c:
        edge, worker = edge_with_worker(c, "A")
        client = c.client(edge)
        request = client.send([b"real"], service="echo", timeout_ms=DEADLINE_MS)
        key, frames = worker.task()
        # A peer that never said READY, and a worker of another service that
        # runs nothing, both answer with the key they somehow learnt.
        stranger = c.ctx.socket(zmq.DEALER)
        stranger.linger = 0
        stranger.connect(edge.backend)
        stranger.send_multipart([HEADER, RESULT, key, b"\x00", b"forged by a stranger"])
        rival = FakeWorker(c, edge, service="resize")
        c.wait_idle_workers(edge, "resize", 1)
        rival.send(RESULT, key, b"\x00", b"forged by a rival")
        c.wait_for("both forgeries to be dropped",
                   lambda: int(c.stats(edge)["edge"]["late_replies"]) >= 2)
        check(client.recv(0.2) is None, "a forged answer reached the client")
        worker.send(RESULT, key, b"\x00", *frames)
        status, body, _ = answered_at_once(client, request)
        check(status == "ok" and body == [b"real"], "the client got %s %r" % (status, body))
        for s in (client, worker, rival):
            s.close()
        stranger.close()


def test_task_keys_do_not_follow_each_other():
    with Cluster("keys") as c:
        edge, worker = edge_with_worker(c, "A")
        client = c.client(edge)
        keys = []
        for i in range(20):
            request = client.send([b"%d" % i], service="echo", timeout_ms=DEADLINE_MS)
            key, frames = worker.task()
            keys.append(struct.unpack(">Q", key)[0])
            worker.send(RESULT, key, b"\x00", *frames)
            answered_at_once(client, request)
        tags = [k >> 32 for k in keys]
        steps = [b - a for a, b in zip(tags, tags[1:])]
        check(len(set(keys)) == len(keys), "keys repeat: %r" % keys)
        check(steps.count(1) <= 1 and steps.count(0) == 0,
              "keys follow each other: %r" % [hex(k) for k in keys])
        client.close()
        worker.close()


def test_malformed_requests_are_answered():
    with Cluster("requests") as c:
        edge, worker = edge_with_worker(c, "A")
        native = c.ctx.socket(zmq.DEALER)
        native.linger = 0
        native.connect(edge.frontend)
        head = lambda rid: [HEADER, REQUEST, struct.pack(">Q", rid), b"echo",  # noqa: E731
                            struct.pack(">I", DEADLINE_MS)]
        cases = {
            1: head(1) + [b"x"] * 23,                 # more frames than a message holds
            2: head(2) + [b"x" * 1000] * 10,          # 10,000 bytes in frames under the limit
            3: head(3) + [b"x"] * 17,                 # one body frame too many
            4: [HEADER, REQUEST, struct.pack(">Q", 4), b"bad name!", struct.pack(">I", 0)],
            5: [HEADER, REQUEST, struct.pack(">Q", 5), b"echo", b"\0\0"],  # short timeout
        }
        expected = {1: (b"\x08", b"too large: "), 2: (b"\x08", b"too large: "),
                    3: (b"\x08", b"too large: "), 4: (b"\x05", b"bad request: "),
                    5: (b"\x05", b"bad request: ")}
        for frames in cases.values():
            native.send_multipart(frames)
        for _ in range(len(cases)):
            check(native.poll(int(ANSWER_S * 1000)), "a malformed request went unanswered")
            reply = native.recv_multipart()
            rid = struct.unpack(">Q", reply[2])[0]
            status, reason = expected[rid]
            check(reply[3] == status and reply[4].startswith(reason),
                  "request %d: %r" % (rid, reply[3:5]))
            cases.pop(rid)
        check(not cases, "unanswered: %r" % list(cases))
        native.close()
        # Seed REQ clients wait for a reply whatever they sent: they get one.
        for frames in ([b"x"] * 17, [b"x" * 3000, b"y" * 3000], [b"x"] * 40, [b"x" * 5000]):
            req = c.ctx.socket(zmq.REQ)
            req.linger = 0
            req.connect(edge.frontend)
            req.send_multipart(frames)
            check(req.poll(int(ANSWER_S * 1000)), "a REQ client hangs after %d frames"
                  % len(frames))
            reply = req.recv_multipart()
            check(len(reply) == 1 and reply[0].startswith(b"error: too-large: "),
                  "REQ client got %r" % reply[:1])
            req.close()
        worker.close()


def test_an_empty_service_means_the_default_service():
    with Cluster("emptyservice") as c:
        edge = c.start_edge("A", "--default-service", "echo")
        worker = FakeWorker(c, edge, service="")
        c.wait_idle_workers(edge, "echo", 1)
        client = c.client(edge)
        request = client.send([b"hello"], service="", timeout_ms=DEADLINE_MS)
        worker.echo()
        status, body, _ = answered_at_once(client, request)
        check(status == "ok" and body == [b"hello"], "got %s %r" % (status, body))
        client.close()
        worker.close()


def test_a_stopping_edge_tells_its_workers():
    with Cluster("stopping") as c:
        edge, worker = edge_with_worker(c, "A")
        c.stop(edge)
        bye = worker.heard(DISCONNECT, ANSWER_S)
        check(bye == [HEADER, DISCONNECT, b"edge stopping", struct.pack(">I", 200)],
              "the worker was not told the edge stopped: %r" % bye)
        worker.close()


def test_a_clients_deadline_is_cut_to_max_timeout_ms():
    with Cluster("deadline") as c:
        edge = c.start_edge("A", "--max-timeout-ms", "300", "--heartbeat-ms", "100")
        worker = FakeWorker(c, edge)
        c.wait_idle_workers(edge, "echo", 1)
        client = c.client(edge)
        client.send([b"forever"], service="echo", timeout_ms=0xFFFFFFFF)
        worker.task()  # and never answered
        reply = client.recv(ANSWER_S)
        check(reply is not None and reply[1] == "timeout",
              "a 49-day deadline was not cut to 300 ms: %r" % (reply,))
        client.close()
        worker.close()


def test_a_client_holds_at_most_max_client_tasks():
    with Cluster("perclient") as c:
        edge = c.start_edge("A", "--max-client-tasks", "3")
        worker = FakeWorker(c, edge, slots=10)
        c.wait_idle_workers(edge, "echo", 1)
        greedy, other = c.client(edge), c.client(edge)
        for i in range(5):
            greedy.send([b"g%d" % i], service="echo", timeout_ms=DEADLINE_MS)
        keys = [worker.task()[0] for _ in range(3)]
        refused = [greedy.recv(ANSWER_S) for _ in range(2)]
        check(all(r and r[1] == "overloaded" and b"max_client_tasks" in r[2][0] for r in refused),
              "past its limit a client got %r" % refused)
        # Another client is not held back by the greedy one.
        served = other.send([b"other"], service="echo", timeout_ms=DEADLINE_MS)
        key, body = worker.task()
        worker.send(RESULT, key, b"\x00", *body)
        check(other.recv(ANSWER_S)[:2] == (served, "ok"), "the other client was not served")
        # An answer frees a place for the greedy one.
        worker.send(RESULT, keys[0], b"\x00", b"done")
        check(greedy.recv(ANSWER_S)[1] == "ok", "the greedy client's task was not answered")
        again = greedy.send([b"again"], service="echo", timeout_ms=DEADLINE_MS)
        key, _ = worker.task()
        worker.send(RESULT, key, b"\x00", b"again")
        check(greedy.recv(ANSWER_S)[:2] == (again, "ok"), "the freed place was not given")
        for x in (greedy, other, worker):
            x.close()


def u32s(*values):
    return [struct.pack(">I", v) for v in values]


def test_ready_is_accepted_with_the_edges_settings_and_refusals_say_why():
    with Cluster("accepted") as c:
        edge = c.start_edge("A", "--max-message-bytes", str(LIMIT), "--heartbeat-ms", "200",
                            "--liveness", "4", "--max-workers", "2")
        first = FakeWorker(c, edge, slots=4)
        said = first.heard(ACCEPTED, ANSWER_S)
        check(said == [HEADER, ACCEPTED] + u32s(200, 4, 4, LIMIT), "ACCEPTED was %r" % said)
        second = FakeWorker(c, edge, service="")  # the default service
        check(second.heard(ACCEPTED, ANSWER_S) == [HEADER, ACCEPTED] + u32s(200, 4, 1, LIMIT),
              "a one-slot worker of the default service was not accepted")
        # Refusals name their reason and when to come back: after a liveness.
        refusals = [(FakeWorker(c, edge), b"the edge has max_workers workers"),
                    (FakeWorker(c, edge, service="spillway.stats"),
                     b"service names starting with spillway. are the edge's")]
        for worker, reason in refusals:
            bye = worker.heard(DISCONNECT, ANSWER_S)
            check(bye == [HEADER, DISCONNECT, reason] + u32s(800), "refused with %r" % bye)
            worker.close()
        # A peer the edge does not know is told to say READY, at once.
        stranger = FakeWorker(c, edge, service="echo")
        stranger.heard(DISCONNECT, ANSWER_S)  # the pool is full
        stranger.send(HEARTBEAT)
        bye = stranger.heard(DISCONNECT, ANSWER_S)
        check(bye == [HEADER, DISCONNECT, b"unknown worker: say READY"] + u32s(0),
              "a stranger's heartbeat got %r" % bye)
        for w in (first, second, stranger):
            w.close()


def test_another_protocol_version_is_named_in_the_log():
    with Cluster("version") as c:
        edge = c.start_edge("A")
        s = c.ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(edge.frontend)
        s.send_multipart([b"SPW9", REQUEST, struct.pack(">Q", 1), b"echo", struct.pack(">I", 0)])
        c.wait_for("the edge to say which version it speaks",
                   lambda: "unknown protocol version: Spillway speaks SPW2" in c.log_tail(edge))
        #  An SPW1 client is answered in its own layout, so it fails at once.
        s.send_multipart([b"SPW1", REQUEST, struct.pack(">Q", 2), b"echo", struct.pack(">I", 0),
                          b"x"])
        check(s.poll(ANSWER_S * 1000), "the SPW1 client got no answer")
        reply = s.recv_multipart()
        check(reply == [b"SPW1", b"\x02", struct.pack(">Q", 2), b"\x05",
                        b"this edge speaks SPW2; the client speaks SPW1"],
              "the SPW1 client got %r" % reply)
        s.close()


def seed_echo_worker(ctx, endpoint, stop):
    """The Guide's REQ worker: READY, then send each task back whole."""
    s = ctx.socket(zmq.REQ)
    s.linger = 0
    s.connect(endpoint)
    s.send(b"READY")
    while not stop.is_set():
        if s.poll(100):
            s.send_multipart(s.recv_multipart())
    s.close()


def test_one_big_seed_request_does_not_disable_the_seed_workers():
    with Cluster("seedbig") as c:
        edge = c.start_edge("A")
        stop = threading.Event()
        threads = [threading.Thread(target=seed_echo_worker, args=(c.ctx, edge.backend, stop),
                                    daemon=True) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            c.wait_idle_workers(edge, "default", 3)
            req = c.ctx.socket(zmq.REQ)
            req.linger = 0
            req.connect(edge.frontend)
            # Allowed at the frontend; the echo of it, with its envelope, is not.
            req.send(b"x" * (1048576 - 5))
            check(req.poll(int(ANSWER_S * 1000) * 5), "the big request was not answered")
            reply = req.recv_multipart()
            check(len(reply) == 1 and reply[0].startswith(
                b"error: too-large: the worker's reply could not be taken: "),
                "got %r" % [f[:80] for f in reply])
            c.wait_idle_workers(edge, "default", 3, timeout=5)
            for i in range(6):
                req.send(b"small %d" % i)
                check(req.poll(int(ANSWER_S * 1000)), "a small request after it hangs")
                check(req.recv_multipart() == [b"small %d" % i], "a small request's echo")
            req.close()
        finally:
            stop.set()
            for t in threads:
                t.join(5)


def test_a_worker_with_slots_takes_that_many_tasks_at_once():
    with Cluster("slots") as c:
        edge = c.start_edge("A", "--heartbeat-ms", "200")
        worker = FakeWorker(c, edge, slots=4)
        c.wait_for("a worker of four free slots", lambda: c.stats(edge)["services"]
                   .get("echo", {}).get("idle") == "4")
        s = c.stats(edge)["services"]["echo"]
        check(s["workers"] == "1" and s["slots"] == "4", "stats: %r" % s)
        client = c.client(edge)
        requests = [client.send([b"%d" % i], service="echo", timeout_ms=DEADLINE_MS)
                    for i in range(5)]
        tasks = [worker.task() for _ in range(4)]   # four before any answer
        check(worker.no_task_for(0.3), "a fifth task came while four slots were busy")
        for key, frames in reversed(tasks):         # answered in any order
            worker.send(RESULT, key, b"\x00", *frames)
        worker.echo()                               # the fifth, once a slot freed
        replies = {}
        for _ in requests:
            reply = client.recv(ANSWER_S)
            check(reply is not None, "replies: %r" % replies)
            replies[reply[0]] = (reply[1], reply[2])
        check(replies == {r: ("ok", [b"%d" % i]) for i, r in enumerate(requests)},
              "replies: %r" % replies)
        client.close()
        worker.close()


def test_a_leaving_worker_of_slots_has_its_tasks_served_by_others():
    with Cluster("slotsleave") as c:
        edge = c.start_edge("A", "--heartbeat-ms", "200")
        leaving = FakeWorker(c, edge, slots=4)
        c.wait_for("four free slots", lambda: c.stats(edge)["services"]
                   .get("echo", {}).get("idle") == "4")
        client = c.client(edge)
        requests = [client.send([b"%d" % i], service="echo", timeout_ms=DEADLINE_MS)
                    for i in range(2)]
        held = [leaving.task() for _ in requests]
        check(len(held) == 2, "the first worker should hold both tasks")
        other = FakeWorker(c, edge)
        c.wait_for("the second worker", lambda: c.stats(edge)["services"]["echo"]["idle"] == "3")
        # It leaves with free slots left: its tasks must not come back to it.
        leaving.send(DISCONNECT)
        replies = {}
        for _ in requests:
            other.echo(ANSWER_S)
            reply = client.recv(ANSWER_S)
            check(reply is not None, "no reply; got %r" % replies)
            replies[reply[0]] = (reply[1], reply[2])
        check(replies == {r: ("ok", [b"%d" % i]) for i, r in enumerate(requests)},
              "replies: %r" % replies)
        for s in (client, leaving, other):
            s.close()


def test_stats_say_their_schema_and_which_side_they_count():
    with Cluster("stats") as c:
        edge = c.start_edge("A")
        first = c.stats(edge)["edge"]
        check(first.get("schema") == "1", "schema: %r" % first.get("schema"))
        check("served_by_others" in first and "served_remote" not in first
              and "too_large" in first,
              "keys: %r" % sorted(first))


run([
    test_a_result_over_the_limit_ends_its_task_and_the_worker_serves_on,
    test_a_result_in_one_frame_over_the_limit_ends_its_task,
    test_a_result_with_too_many_frames_ends_its_task,
    test_a_result_with_more_frames_than_a_message_holds_ends_its_task,
    test_a_result_with_an_unknown_status_ends_its_task,
    test_a_worker_saying_nonsense_is_removed_and_its_task_served_at_once,
    test_only_the_worker_a_task_runs_on_may_answer_it,
    test_task_keys_do_not_follow_each_other,
    test_malformed_requests_are_answered,
    test_an_empty_service_means_the_default_service,
    test_a_stopping_edge_tells_its_workers,
    test_ready_is_accepted_with_the_edges_settings_and_refusals_say_why,
    test_a_clients_deadline_is_cut_to_max_timeout_ms,
    test_a_client_holds_at_most_max_client_tasks,
    test_another_protocol_version_is_named_in_the_log,
    test_stats_say_their_schema_and_which_side_they_count,
    test_one_big_seed_request_does_not_disable_the_seed_workers,
    test_a_worker_with_slots_takes_that_many_tasks_at_once,
    test_a_leaving_worker_of_slots_has_its_tasks_served_by_others,
])
