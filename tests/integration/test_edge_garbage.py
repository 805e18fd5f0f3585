"""Hostile input: 10,000 garbage messages on each endpoint, after which the
edge still serves a normal client, has counted the drops, and exits cleanly."""

import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import HEADER, Cluster, check, run  # noqa: E402

import zmq  # noqa: E402

MESSAGES = 10000


def garbage(rng):
    """A message that is wrong in one of many ways, some of them close to right."""
    kind = rng.randrange(10)
    rand = lambda n: bytes(rng.getrandbits(8) for _ in range(n))  # noqa: E731
    if kind == 0:
        return [rand(rng.randrange(0, 40))]
    if kind == 1:
        return [rand(rng.randrange(0, 10)) for _ in range(rng.randrange(1, 40))]
    if kind == 2:
        return [HEADER]
    if kind == 3:
        return [HEADER, bytes([rng.randrange(256)])] + [rand(rng.randrange(0, 9))
                                                      for _ in range(rng.randrange(0, 4))]
    if kind == 4:  # a request with a bad field
        return [HEADER, b"\x01", rand(rng.choice([7, 8, 9])), rand(rng.randrange(0, 70)),
                rand(rng.choice([3, 4, 5]))]
    if kind == 5:  # too many body frames
        return [HEADER, b"\x01", struct.pack(">Q", 1), b"echo", struct.pack(">I", 0)] + [b"x"] * 40
    if kind == 6:  # worker commands from the wrong side, results for unknown tasks
        return [HEADER, b"\x12", rand(8), bytes([rng.randrange(12)])]
    if kind == 7:  # REQ-shaped
        return [b"", rand(rng.randrange(0, 12))] + [rand(3) for _ in range(rng.randrange(0, 3))]
    if kind == 8:
        return [HEADER, b"\x10", rand(rng.randrange(0, 80))]
    return [b"SPW1", b"\x01"]


def flood(c, endpoint, seed):
    rng = random.Random(seed)
    sockets = [c.ctx.socket(zmq.DEALER) for _ in range(8)]
    for s in sockets:
        s.sndhwm = 0
        s.connect(endpoint)
    for i in range(MESSAGES):
        sockets[i % len(sockets)].send_multipart(garbage(rng))
    return sockets


def test_edge_survives_garbage_on_both_endpoints_and_still_serves():
    with Cluster("garbage") as c:
        edge = c.start_edge("A", "--heartbeat-ms", "200")
        c.start_worker(edge, "worker", "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 1)
        sockets = flood(c, edge.frontend, 1) + flood(c, edge.backend, 2)
        # Every garbage message is read before this request, which comes after
        # them on the same pipes only if sent on the same socket: send one on
        # a flood socket so we know the frontend flood has been consumed.
        c.wait_for("the flood to be counted", lambda: (
            int(c.stats(edge)["edge"]["dropped_frontend"]) > MESSAGES * 0.8
            and int(c.stats(edge)["edge"]["dropped_backend"]) > MESSAGES * 0.5), timeout=60)
        client = c.client(edge)
        status, frames = client.call([b"still here"], service="echo")
        check(status == "ok" and frames == [b"still here"], "after the flood: %s %r" % (status, frames))
        client.close()
        for s in sockets:
            s.close()
        check(edge.poll() is None, "the edge died")


def test_bad_request_with_readable_id_is_answered_bad_request():
    with Cluster("badreq") as c:
        edge = c.start_edge("A")
        s = c.ctx.socket(zmq.DEALER)
        s.connect(edge.frontend)
        s.send_multipart([HEADER, b"\x01", struct.pack(">Q", 77), b"bad service!", struct.pack(">I", 0), b"x"])
        check(s.poll(5000), "no answer to a bad request")
        reply = s.recv_multipart()
        check(reply[:4] == [HEADER, b"\x02", struct.pack(">Q", 77), b"\x05"],
              "expected bad-request for id 77, got %r" % reply[:4])
        check(reply[4] == b"bad request: bad service name", "reason was %r" % reply[4:])
        s.close()


run([
    test_edge_survives_garbage_on_both_endpoints_and_still_serves,
    test_bad_request_with_readable_id_is_answered_bad_request,
])
