"""Seed compatibility: the seed's own REQ clients and REQ workers, unchanged,
against a spillway-edge; and each mixed with the native kind."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import EDGE_BIN, Cluster, check, run  # noqa: E402
import seed_peering3  # noqa: E402

import zmq  # noqa: E402

SEED_REPLIES = 40


def start_seed_edge(c, *args):
    prefix = os.path.join(c.dir, "seed")
    edge = c.start("edge-seed", [EDGE_BIN, "--name", "seed",
                                 "--frontend", "ipc://%s-localfe.ipc" % prefix,
                                 "--backend", "ipc://%s-localbe.ipc" % prefix] + list(args))
    edge.frontend = "ipc://%s-localfe.ipc" % prefix
    edge.backend = "ipc://%s-localbe.ipc" % prefix
    return edge, prefix


def test_seed_clients_and_workers_run_unchanged():
    with Cluster("seed") as c:
        edge, prefix = start_seed_edge(c)
        monitor = c.ctx.socket(zmq.PULL)
        monitor.bind("ipc://%s-monitor.ipc" % prefix)
        for i in range(4):
            threading.Thread(target=seed_peering3.worker_task, args=(prefix, i), daemon=True).start()
        c.wait_idle_workers(edge, "default", 4)
        for i in range(10):
            threading.Thread(target=seed_peering3.client_task, args=(prefix, i), daemon=True).start()
        replies = 0
        deadline = time.monotonic() + 60
        while replies < SEED_REPLIES:
            check(time.monotonic() < deadline, "only %d seed replies in 60 s" % replies)
            if not monitor.poll(1000):
                continue
            text = monitor.recv_string()
            check("lost task" not in text, "a seed client reported: %s" % text)
            replies += 1
        monitor.close()


def test_seed_req_client_multi_frame_gets_same_shape_from_native_worker():
    with Cluster("seed-mixed") as c:
        edge = c.start_edge("A")
        c.start_worker(edge, "worker", "--echo")  # the default service
        c.wait_idle_workers(edge, "default", 1)
        req = c.ctx.socket(zmq.REQ)
        req.connect(edge.frontend)
        for frames in ([b"hello"], [b"a", b"", b"c"]):
            req.send_multipart(frames)
            check(req.poll(10000), "no reply to a REQ client")
            reply = req.recv_multipart()
            check(reply == frames, "expected %r, got %r" % (frames, reply))
        req.close()


def test_native_client_served_by_seed_worker():
    with Cluster("seed-worker") as c:
        edge, prefix = start_seed_edge(c)
        threading.Thread(target=seed_peering3.worker_task, args=(prefix, 0), daemon=True).start()
        c.wait_idle_workers(edge, "default", 1)
        client = c.client(edge)
        status, frames = client.call([b"task-1", b"part-2"])
        check(status == "ok" and frames == [b"task-1", b"part-2"],
              "expected ok with both frames, got %s %r" % (status, frames))
        client.close()


def test_silent_seed_worker_task_goes_to_another_after_its_timeout():
    with Cluster("seed-silent") as c:
        edge = c.start_edge("A", "--seed-worker-timeout-ms", "300", "--heartbeat-ms", "100")
        silent = c.ctx.socket(zmq.REQ)
        silent.connect(edge.backend)
        silent.send(b"READY")
        c.wait_idle_workers(edge, "default", 1)
        client = c.client(edge)
        request_id = client.send([b"important"])
        check(silent.poll(5000), "the silent worker never got the task")
        silent.recv_multipart()  # and never answers
        good = c.ctx.socket(zmq.REQ)
        good.connect(edge.backend)
        good.send(b"READY")
        check(good.poll(10000), "the task never reached the second worker")
        good.send_multipart(good.recv_multipart())
        reply = client.recv(10)
        check(reply is not None and reply[0] == request_id and reply[1] == "ok"
              and reply[2] == [b"important"], "expected the task answered ok, got %r" % (reply,))
        stats = c.stats(edge)
        check(int(stats["edge"]["requeued"]) == 1, "expected 1 requeue, got %s"
              % stats["edge"]["requeued"])
        for s in (silent, good):
            s.close()
        client.close()


def test_seed_client_gets_error_text_when_no_worker_offers_the_service():
    with Cluster("seed-noservice") as c:
        edge = c.start_edge("A")
        req = c.ctx.socket(zmq.REQ)
        req.connect(edge.frontend)
        req.send(b"anyone?")
        check(req.poll(10000), "no reply to a REQ client")
        reply = req.recv_multipart()
        check(reply == [b"error: no-service: no worker offers service 'default'"],
              "got %r" % reply)
        req.close()


run([
    test_seed_clients_and_workers_run_unchanged,
    test_seed_req_client_multi_frame_gets_same_shape_from_native_worker,
    test_native_client_served_by_seed_worker,
    test_silent_seed_worker_task_goes_to_another_after_its_timeout,
    test_seed_client_gets_error_text_when_no_worker_offers_the_service,
])
