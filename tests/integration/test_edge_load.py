"""The edge under load: 10 native clients x 1,000 tasks over 4 workers.

Every reply must match its request (same request id, same body), every task
must be answered exactly once, and the edge's own count must agree.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Cluster, check, run  # noqa: E402

import zmq  # noqa: E402

CLIENTS = 10
TASKS = 1000
WINDOW = 50  # requests each client keeps outstanding


def test_ten_clients_thousand_tasks_four_workers_all_answered_exactly_once():
    with Cluster("load") as c:
        edge = c.start_edge("A")
        for i in range(4):
            c.start_worker(edge, "worker-%d" % i, "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 4)

        clients = [c.client(edge) for _ in range(CLIENTS)]
        expected = [dict() for _ in range(CLIENTS)]  # request id -> body
        sent = [0] * CLIENTS
        answered = [0] * CLIENTS
        poller = zmq.Poller()
        for client in clients:
            poller.register(client.socket, zmq.POLLIN)

        def top_up(i):
            while sent[i] < TASKS and len(expected[i]) < WINDOW:
                body = b"client-%d-task-%d" % (i, sent[i])
                expected[i][clients[i].send([body], service="echo")] = body
                sent[i] += 1

        for i in range(CLIENTS):
            top_up(i)
        deadline = time.monotonic() + 90
        while sum(answered) < CLIENTS * TASKS:
            check(time.monotonic() < deadline, "only %d of %d answered in time"
                  % (sum(answered), CLIENTS * TASKS))
            events = dict(poller.poll(1000))
            for i, client in enumerate(clients):
                if client.socket not in events:
                    continue
                while True:
                    reply = client.recv(0)
                    if reply is None:
                        break
                    request_id, status, frames = reply
                    check(status == "ok", "client %d request %d: status %s %r"
                          % (i, request_id, status, frames))
                    check(request_id in expected[i], "client %d: reply to unknown or already "
                          "answered request %d" % (i, request_id))
                    body = expected[i].pop(request_id)
                    check(frames == [body], "client %d request %d: expected %r, got %r"
                          % (i, request_id, body, frames))
                    answered[i] += 1
                top_up(i)
        # Nothing more may arrive: each task was answered once.
        check(not poller.poll(200), "an extra reply arrived after all were answered")
        stats = c.stats(edge)
        check(int(stats["edge"]["done"]) == CLIENTS * TASKS,
              "edge counts %s done, expected %d" % (stats["edge"]["done"], CLIENTS * TASKS))
        check(int(stats["services"]["echo"]["done"]) == CLIENTS * TASKS, "echo done mismatch")
        for client in clients:
            client.close()


def test_multi_frame_bodies_come_back_intact():
    with Cluster("frames") as c:
        edge = c.start_edge("A")
        c.start_worker(edge, "worker", "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 1)
        client = c.client(edge)
        frames = [b"", b"one", b"\x00\x01\x02", b"x" * 100000]
        status, body = client.call(frames, service="echo")
        check(status == "ok" and body == frames, "expected %d frames back, got %s %d frames"
              % (len(frames), status, len(body)))
        client.close()


run([
    test_ten_clients_thousand_tasks_four_workers_all_answered_exactly_once,
    test_multi_frame_bodies_come_back_intact,
])
