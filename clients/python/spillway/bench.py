"""python3 -m spillway bench: how much this package costs.

At each depth (requests outstanding: 1, 16 and 64 by default) it measures,
in the same run, rates of 16-byte round trips over ipc:// in a temporary
folder:

- ``raw``: pyzmq alone, a DEALER in this process sending one REQUEST's
  frames, built once, to a ROUTER that answers each with its REPLY: the
  fastest Python can go with these messages. The ROUTER is C (the
  benchmarks' ceiling program, from ``--build``) so that the figures are
  the Python side's; without it, a second Python process.
- ``spillway``: this package's Client (send/recv, the window kept full)
  against the same ROUTER, which answers its REQUEST with a REPLY: what the
  package costs over raw pyzmq (``ratio``, the figure that must be 0.7).
- ``via_edge``: the same Client through a real edge to a C echo worker
  (``spillway worker --echo``), and ``c_client``, the C client (``spillway
  bench``) through the same edge: ``ratio_c`` = via_edge / c_client.

raw, spillway and via_edge run in alternating turns of 0.25 s, so that
they see the same machine. It prints one line per depth, then
``min_ratio`` (the least ``ratio``). The edge and the C programs come
from ``--build`` (a meson build folder) or PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import zmq

from . import protocol as proto
from .client import Client
from .errors import NoService

BODY = b"0123456789abcdef"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=3.0,
                   help="seconds per measurement (default 3)")
    p.add_argument("--depths", default="1,16,64", help="outstanding requests (default 1,16,64)")
    p.add_argument("--build", help="a meson build folder with spillway-edge and spillway "
                                   "(default: PATH)")


def _program(build: str | None, sub: str, name: str) -> str:
    path = os.path.join(build, sub, name) if build else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise SystemExit("bench: %s not found%s" % (name, " in " + build if build else
                                                    " on PATH: give --build"))
    return path


def echo_router(endpoint: str) -> None:
    """The far end of the round trips without an edge, until killed: it
    answers each REQUEST with its REPLY (ok, the same body)."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.bind(endpoint)
    print("ready", flush=True)
    ok = b"\x00"
    while True:
        frames = router.recv_multipart()
        frames[2:6] = [proto.REPLY, frames[3], ok]  # [id, SPW2, 02, request id, ok, body]
        router.send_multipart(frames)


class Raw:
    """pyzmq alone, sending the frames of a REQUEST built once, so that the
    wire and the far end's work are the package's."""

    def __init__(self, endpoint: str):
        self.dealer = zmq.Context.instance().socket(zmq.DEALER)
        self.dealer.linger = 0
        self.dealer.connect(endpoint)
        self.request = proto.request(1, b"echo", 10000, [BODY])
        self.dealer.send_multipart(self.request)  # the connection is up first
        self.dealer.recv_multipart()

    def run(self, depth: int, seconds: float) -> int:
        """Round trips done in seconds with depth outstanding (the window's
        last replies are awaited, not counted)."""
        dealer, request = self.dealer, self.request
        for _ in range(depth):
            dealer.send_multipart(request)
        done = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            dealer.recv_multipart()
            done += 1
            dealer.send_multipart(request)
        for _ in range(depth):
            dealer.recv_multipart()
        return done

    def close(self) -> None:
        self.dealer.close()


class Package:
    """This package's Client, its window kept full with send/recv."""

    def __init__(self, endpoint: str):
        self.client = Client(endpoint)
        deadline = time.monotonic() + 10
        while True:  # the connection is up, and an edge's worker there, first
            try:
                self.client.submit("echo", BODY, timeout=5)
                break
            except NoService:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: no echo worker reached the edge in 10 s") from None
                time.sleep(0.05)

    def run(self, depth: int, seconds: float) -> int:
        client = self.client
        for _ in range(depth):
            client.send("echo", BODY, timeout=10)
        done = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            reply = client.recv(10)
            if reply is None or not reply.ok:
                raise SystemExit("bench: a request failed: %r" % (reply,))
            done += 1
            client.send("echo", BODY, timeout=10)
        while client.outstanding:
            client.recv(10)
        return done

    def close(self) -> None:
        self.client.close()


#  The runners take turns of SLICE_S, so that all see the same machine.
SLICE_S = 0.25


def in_turns(runners: list, depth: int, seconds: float) -> list[float]:
    """Each runner's rate at depth, over seconds in all, in alternating turns."""
    for runner in runners:
        runner.run(depth, 0.05)  # warm
    slices = max(2, round(seconds / SLICE_S))
    done = [0] * len(runners)
    for _ in range(slices):
        for i, runner in enumerate(runners):
            done[i] += runner.run(depth, SLICE_S)
    return [n / (slices * SLICE_S) for n in done]


def c_rate(cli: str, endpoint: str, depth: int, duration: float) -> float:
    out = subprocess.run([cli, "bench", "--edge", endpoint, "--service", "echo",
                          "--clients", "1", "--window", str(depth), "--size", str(len(BODY)),
                          "--duration", str(max(1, round(duration))), "--no-check", "--quiet"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=duration + 30).stdout
    for word in out.split():
        if word.startswith("rate="):
            return float(word[5:].rstrip("/s"))
    raise SystemExit("bench: spillway bench printed no rate:\n" + out)


def run(args: argparse.Namespace) -> int:
    depths = [int(d) for d in args.depths.split(",")]
    edge_bin = _program(args.build, "edge", "spillway-edge")
    cli = _program(args.build, "cli", "spillway")
    folder = tempfile.mkdtemp(prefix="spillway-bench-")
    procs = []
    try:
        echo_ep = "ipc://%s/echo" % folder
        ceiling = os.path.join(args.build, "tests", "ceiling") if args.build else None
        if ceiling and os.access(ceiling, os.X_OK):
            #  A far end in C, so that the figures are this side's cost.
            far = "C (tests/bench/ceiling: zmq_proxy and a worker)"
            back = "ipc://%s/echo-back" % folder
            procs.append(subprocess.Popen([ceiling, "proxy", echo_ep, back]))
            procs.append(subprocess.Popen([ceiling, "worker", back]))
        else:
            far = "Python (no ceiling program in --build)"
            echo = subprocess.Popen([sys.executable, "-c",
                                     "import sys; from spillway.bench import echo_router; "
                                     "echo_router(sys.argv[1])", echo_ep],
                                    stdout=subprocess.PIPE, text=True,
                                    env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
            procs.append(echo)
            echo.stdout.readline()
        fe, be = "ipc://%s/fe" % folder, "ipc://%s/be" % folder
        log = open(os.path.join(folder, "edge.log"), "wb")
        procs.append(subprocess.Popen([edge_bin, "--name", "bench", "--frontend", fe,
                                       "--backend", be, "--log-level", "warning"],
                                      stderr=log))
        procs.append(subprocess.Popen([cli, "worker", "--edge", be, "--service", "echo",
                                       "--echo", "--slots", "64"], stderr=log))
        print("python %s, pyzmq %s, %.1fs per figure; raw: pyzmq's DEALER sending a REQUEST "
              "built once; spillway: this package's Client; both against an echo ROUTER in %s; "
              "via_edge and c_client: through an edge to a C echo worker"
              % (sys.version.split()[0], zmq.__version__, args.duration, far), flush=True)
        worst = None
        runners = [Raw(echo_ep), Package(echo_ep), Package(fe)]
        for depth in depths:
            raw, ours, via_edge = in_turns(runners, depth, args.duration)
            theirs = c_rate(cli, fe, depth, args.duration)
            ratio = ours / raw if raw else 0.0
            worst = ratio if worst is None else min(worst, ratio)
            print("outstanding=%d raw=%.0f/s spillway=%.0f/s ratio=%.2f via_edge=%.0f/s "
                  "c_client=%.0f/s ratio_c=%.2f"
                  % (depth, raw, ours, ratio, via_edge, theirs,
                     via_edge / theirs if theirs else 0.0), flush=True)
        for runner in runners:
            runner.close()
        print("min_ratio=%.2f" % (worst or 0.0))
        return 0
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
