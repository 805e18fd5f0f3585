"""A client and a worker written from docs/protocol.md alone (SPW2), driving a
real spillway-edge. Nothing was taken from the edge's C code or the harness's
client and worker (only how to find and start the edge, and run(), come from
harness.py): where these peers and the edge disagree, the page or the edge is
wrong. Every wait polls with a deadline; each edge runs on ipc:// endpoints in
its own temporary folder, removed with the edge stopped even on failure.

    SPW_BUILD_DIR=build /usr/bin/python3 tests/integration/test_literal_peers.py [test ...]
"""

import ctypes
import os
import queue
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

import zmq  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from harness import EDGE_BIN, TestFailure, check, run  # noqa: E402  (finding the binary, reporting)

# --- The protocol, as the page states it ----------------------------------
HEADER = b"SPW2"
REQUEST, REPLY = 0x01, 0x02
READY, TASK, RESULT, HEARTBEAT, DISCONNECT, ACCEPTED = 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
STATUS = {0: "ok", 1: "no-service", 2: "timeout", 3: "overloaded", 4: "failed",
          5: "bad-request", 6: "task-error", 7: "busy", 8: "too-large"}
MAX_BODY_FRAMES = 16
ANSWER_S = 2.0          # "answered at once": far inside the client's deadline
DEADLINE_MS = 20000     # the clients' timeout: a real timeout would take this long


def u64(n): return struct.pack(">Q", n)
def u32(n): return struct.pack(">I", n)
def cmd(c): return bytes([c])
def size(frames): return sum(len(f) for f in frames)


def until(what, predicate, timeout):
    """Polls predicate until it gives a true value; fails after timeout."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.02)
    raise TestFailure("no %s within %.1fs (last: %r)" % (what, timeout, last))


def get(q, what, timeout):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise TestFailure("no %s within %.1fs" % (what, timeout)) from None


class LiteralClient:
    """A DEALER on the frontend; REQUEST out, REPLY in, matched by request id."""

    def __init__(self, ctx, endpoint):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(endpoint)

    def send(self, rid, service=b"default", body=(), timeout_ms=DEADLINE_MS):
        self.send_raw([HEADER, cmd(REQUEST), u64(rid), service, u32(timeout_ms)] + list(body))

    def send_raw(self, frames):
        self.sock.send_multipart(frames)

    def recv(self, timeout=ANSWER_S):
        """One REPLY as (request id, status, body); fails if none comes."""
        if not self.sock.poll(int(timeout * 1000)):
            raise TestFailure("no reply within %.1fs" % timeout)
        m = self.sock.recv_multipart()
        check(len(m) >= 4 and m[0] == HEADER and m[1] == cmd(REPLY) and len(m[2]) == 8
              and len(m[3]) == 1, "not an SPW2 REPLY: %r" % m[:5])
        return struct.unpack(">Q", m[2])[0], m[3][0], m[4:]

    def collect(self, ids, timeout):
        """Replies for every id in ids, in whatever order they come."""
        got, deadline = {}, time.monotonic() + timeout
        while set(ids) - set(got):
            left = deadline - time.monotonic()
            check(left > 0, "replies missing for %s" % sorted(set(ids) - set(got)))
            rid, status, body = self.recv(left)
            check(rid in ids and rid not in got, "unexpected reply for id %d" % rid)
            got[rid] = (status, body)
        return got

    def call(self, service=b"default", body=(), timeout=ANSWER_S, rid=1, timeout_ms=DEADLINE_MS):
        self.send(rid, service, body, timeout_ms)
        got, status, frames = self.recv(timeout)
        check(got == rid, "reply for id %d, not %d" % (got, rid))
        return status, frames

    def quiet(self, seconds):
        """True if no message arrives for that long."""
        return not self.sock.poll(int(seconds * 1000))

    def close(self):
        self.sock.close()


class LiteralWorker(threading.Thread):
    """A DEALER on the backend, run in its own thread (which alone owns the
    socket). READY [slots] -> waits for ACCEPTED and keeps its heartbeat,
    liveness, slots and size limit; TASK -> handler, or the `tasks` queue for
    the test to answer with answer(); HEARTBEAT every heartbeat_ms, also
    while it runs tasks; on DISCONNECT waits retry_ms and says READY again on
    a new socket; on liveness x heartbeat of silence reconnects."""

    def __init__(self, ctx, endpoint, service=b"echo", slots=None, handler=None,
                 enforce_limit=True, reconnect=True, accept_wait=3.0):
        super().__init__(daemon=True)
        self.ctx, self.endpoint, self.service, self.slots = ctx, endpoint, service, slots
        self.handler, self.enforce_limit, self.reconnect = handler, enforce_limit, reconnect
        self.accept_wait = accept_wait    # the page gives no time to wait for ACCEPTED
        self.tasks, self.outbox = queue.Queue(), queue.Queue()
        self.accepted, self.disconnects = queue.Queue(), queue.Queue()
        self.params = None        # (heartbeat_ms, liveness, slots, max_message_bytes)
        self.heard = 0            # HEARTBEATs from the edge
        self.errors = []          # things the edge sent that the page does not allow
        self.frozen = threading.Event()   # set: act hung (send nothing, read nothing)
        self.stopping = threading.Event()
        self.start()

    def answer(self, key, status=0, body=()):
        self.outbox.put((key, status, list(body)))

    def stop(self):
        self.stopping.set()
        self.join(5)

    def run(self):
        backoff = 1
        while not self.stopping.is_set():
            retry_ms, reason = self.session()
            if self.stopping.is_set() or not self.reconnect:
                break
            refused = reason is not None and reason.split(":")[0] not in (
                "unknown worker", "edge stopping", "malformed")
            backoff = backoff * 2 if refused else 1   # refused again: back off further
            self.stopping.wait(retry_ms * (backoff // 2 or 1) / 1000.0)

    def session(self):
        """One socket's life; returns (ms to wait before the next, DISCONNECT reason)."""
        sock = self.ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(self.endpoint)
        ready = [HEADER, cmd(READY), self.service] + ([] if self.slots is None else [u32(self.slots)])
        sock.send_multipart(ready)
        self.params, held = None, set()
        started = last_heard = last_beat = time.monotonic()
        try:
            while not self.stopping.is_set():
                if self.frozen.is_set():
                    self.stopping.wait(0.01)
                    last_heard = time.monotonic()   # its clock stops while hung
                    continue
                while not self.outbox.empty():
                    key, status, body = self.outbox.get()
                    if key in held:
                        held.discard(key)
                        self.send_result(sock, key, status, body)
                    else:
                        self.errors.append("asked to answer a task not held: %r" % key)
                while sock.poll(10):
                    m = sock.recv_multipart()
                    last_heard = time.monotonic()
                    done = self.on_message(sock, m, held)
                    if done is not None:
                        return done
                now = time.monotonic()
                if self.params is None:
                    if now - started > self.accept_wait:
                        return 0, None    # no ACCEPTED: try again on a new socket
                    continue
                hb_s, liveness = self.params[0] / 1000.0, self.params[1]
                if now - last_beat >= hb_s:
                    sock.send_multipart([HEADER, cmd(HEARTBEAT)])
                    last_beat = now
                if now - last_heard > liveness * hb_s:
                    return 0, None        # the edge went silent: reconnect
            sock.send_multipart([HEADER, cmd(DISCONNECT)])
            return 0, None
        finally:
            sock.close()

    def on_message(self, sock, m, held):
        if len(m) < 2 or m[0] != HEADER or len(m[1]) != 1:
            self.errors.append("not SPW2: %r" % m[:3])
            return None
        c = m[1][0]
        if c == ACCEPTED and len(m) == 6 and all(len(f) == 4 for f in m[2:]):
            self.params = tuple(struct.unpack(">I", f)[0] for f in m[2:])
            self.accepted.put(self.params)
        elif c == TASK and len(m) >= 3 and len(m[2]) == 8:
            if self.params is None:
                self.errors.append("TASK before ACCEPTED")
            held.add(m[2])
            if self.params and len(held) > self.params[2]:
                self.errors.append("more tasks than the slots ACCEPTED gave")
            if self.handler:
                status, body = self.handler(m[3:])
                held.discard(m[2])
                self.send_result(sock, m[2], status, body)
            else:
                self.tasks.put((m[2], m[3:]))
        elif c == HEARTBEAT and len(m) == 2:
            self.heard += 1
        elif c == DISCONNECT and len(m) == 4 and len(m[3]) == 4:
            said = (m[2].decode("utf-8"), struct.unpack(">I", m[3])[0])
            self.disconnects.put(said)
            return said[1], said[0]
        else:
            self.errors.append("unexpected message: %r" % m[:4])
        return None

    def send_result(self, sock, key, status, body):
        frames = [HEADER, cmd(RESULT), key, bytes([status])] + list(body)
        if self.enforce_limit and self.params and (size(frames) > self.params[3]
                                                    or len(body) > MAX_BODY_FRAMES):
            frames = [HEADER, cmd(RESULT), key, bytes([6]), b"reply over the edge's limit"]
        sock.send_multipart(frames)


def echo(body):
    return 0, body


def die_with_parent():
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG: no orphaned edge


class Edge:
    """One spillway-edge process on ipc:// endpoints in a temporary folder,
    with the sockets and workers of one test; use as a context manager."""

    def __init__(self, *flags):
        self.dir = tempfile.mkdtemp(prefix="spw-literal-")
        self.ctx = zmq.Context()
        self.workers, self.clients = [], []
        ep = lambda n: "ipc://%s/%s.ipc" % (self.dir, n)
        self.frontend, self.backend = ep("fe"), ep("be")
        self.log_path = os.path.join(self.dir, "edge.log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [EDGE_BIN, "--name", "literal", "--frontend", self.frontend, "--backend",
                 self.backend, "--cloud", ep("cloud")] + list(flags),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent)

    def __enter__(self):
        try:
            until("edge answering spillway.stats", self.alive, 10.0)
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def alive(self):
        check(self.proc.poll() is None, "the edge exited %s" % self.proc.returncode)
        try:
            return self.stats(timeout=0.5)
        except TestFailure:
            return None

    def __exit__(self, exc_type, exc, tb):
        for w in self.workers:
            w.stop()
        for c in self.clients:
            c.close()
        self.proc.terminate()        # SIGTERM, then SIGKILL after 5 s
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.ctx.destroy(linger=0)
        if exc_type is not None:
            sys.stderr.write("---- edge log ----\n%s\n" % self.log()[-4000:])
        shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def client(self):
        self.clients.append(LiteralClient(self.ctx, self.frontend))
        return self.clients[-1]

    def worker(self, service=b"echo", **kw):
        self.workers.append(LiteralWorker(self.ctx, self.backend, service, **kw))
        return self.workers[-1]

    def stats(self, timeout=ANSWER_S):
        """{'edge': {key: value}, 'services': {name: {key: value}}}."""
        c = LiteralClient(self.ctx, self.frontend)
        try:
            status, body = c.call(b"spillway.stats", timeout=timeout)
        finally:
            c.close()
        check(status == 0 and len(body) == 1, "stats answered %s %r" % (STATUS.get(status), body))
        lines = body[0].decode("utf-8").splitlines()
        parse = lambda line: dict(p.split("=", 1) for p in line.split())
        return {"edge": parse(lines[0]),
                "services": {s["service"]: s for s in map(parse, lines[1:])}}


def accepted(worker, timeout=ANSWER_S):
    return get(worker.accepted, "ACCEPTED", timeout)


def no_errors(*workers):
    check(not any(w.errors for w in workers), "workers saw: %s" % [w.errors for w in workers])


# --- The cases ------------------------------------------------------------

def test_replies_match_by_id_with_several_outstanding():
    with Edge() as e:
        w = e.worker(b"echo", slots=4)
        accepted(w)
        c = e.client()
        bodies = {7: [b"one"], 2**64 - 1: [], 0: [b"", b"\x00\xff" * 3, b""],
                  12345: [bytes([i]) * i for i in range(MAX_BODY_FRAMES)]}
        for rid, body in bodies.items():
            c.send(rid, b"echo", body)
        tasks = [get(w.tasks, "task %d" % i, ANSWER_S) for i in range(4)]
        check(sorted(b for _, b in tasks) == sorted(bodies.values()), "task bodies changed")
        for key, body in reversed(tasks):           # answer in the other order
            w.answer(key, 0, body)
        got = c.collect(list(bodies), ANSWER_S)
        for rid, body in bodies.items():
            check(got[rid] == (0, body), "id %d: %r, sent %r" % (rid, got[rid], body))
        no_errors(w)


def test_accepted_is_sane_and_slots_fill_at_once():
    with Edge("--heartbeat-ms", "100", "--liveness", "3") as e:
        one = e.worker(b"single")
        check(accepted(one) == (100, 3, 1, 1048576), "ACCEPTED without slots: %r" % (one.params,))
        w = e.worker(b"four", slots=4)
        hb, liveness, slots, limit = accepted(w)
        check(hb == 100 and liveness == 3 and slots == 4 and limit > 0, "ACCEPTED %r" % (w.params,))
        c = e.client()
        for rid in range(1, 6):
            c.send(rid, b"four", [b"%d" % rid])
        held = [get(w.tasks, "task %d of 4" % i, ANSWER_S) for i in range(4)]
        # hold them past liveness x heartbeat: the worker's heartbeats keep it alive
        check(w.tasks.empty() and c.quiet(1.0) and w.tasks.empty(),
              "a fifth task or a reply came while 4 slots were busy")
        key, body = held.pop(0)
        w.answer(key, 0, body)
        held.append(get(w.tasks, "the fifth task", ANSWER_S))
        for key, body in held:
            w.answer(key, 0, body)
        got = c.collect(list(range(1, 6)), ANSWER_S)
        check(all(got[r] == (0, [b"%d" % r]) for r in got), "replies %r" % got)
        s = e.stats()["edge"]
        check(s["workers_lost"] == "0" and s["requeued"] == "0", "worker lost while busy: %r" % s)
        check(w.heard >= 5, "the edge sent only %d heartbeats in over 1 s" % w.heard)
        no_errors(one, w)


def test_a_reply_over_the_limit_is_too_large_and_the_worker_serves_on():
    with Edge("--max-message-bytes", "4096") as e:
        w = e.worker(b"big", enforce_limit=False)
        check(accepted(w)[3] == 4096, "ACCEPTED max_message_bytes %r" % (w.params,))
        c = e.client()
        c.send(1, b"big", [b"q"])
        key, _ = get(w.tasks, "the task", ANSWER_S)
        w.answer(key, 0, [b"x" * 5000])
        rid, status, body = c.recv(ANSWER_S)
        check((rid, status) == (1, 8), "oversized reply gave id %d %s" % (rid, STATUS.get(status)))
        check(len(body) == 1 and body[0].startswith(b"the worker's reply could not be taken: "),
              "too-large text %r" % body)
        c.send(2, b"big", [b"q2"])
        key, body = get(w.tasks, "the next task", ANSWER_S)
        check(body == [b"q2"], "next task %r" % body)
        w.answer(key, 0, [b"y"] * (MAX_BODY_FRAMES + 1))     # too many frames
        check(c.recv(ANSWER_S)[:2] == (2, 8), "17 reply frames not too-large")
        w.enforce_limit = True        # now the worker itself keeps to the limit
        c.send(3, b"big", [b"q3"])
        key, _ = get(w.tasks, "a third task", ANSWER_S)
        w.answer(key, 0, [b"x" * 5000])
        check(c.recv(ANSWER_S) == (3, 6, [b"reply over the edge's limit"]), "self-limited reply")
        no_errors(w)


def test_bad_requests_are_answered_at_once():
    with Edge("--max-message-bytes", "4096") as e:
        w = e.worker(b"echo", handler=echo)
        accepted(w)
        c = e.client()
        req = lambda rid, service, *rest: [HEADER, cmd(REQUEST), u64(rid), service] + list(rest)
        cases = [(8, req(1, b"echo", u32(0), b"x" * 5000)), (8, req(2, b"echo", u32(0), *[b"f"] * 17)),
                 (5, req(3, b"no spaces", u32(0))), (5, req(4, b"s" * 65, u32(0))),
                 (5, req(5, b"echo", b"\x00\x00")), (5, req(6, b"echo")),   # short or no timeout
                 (1, req(7, b"nobody", u32(0), b"hi"))]
        for rid, (want, frames) in enumerate(cases, 1):
            c.send_raw(frames)
            got = c.recv(ANSWER_S)
            check(got[:2] == (rid, want), "case %d: %s, wanted %s" % (rid, STATUS.get(got[1]), STATUS[want]))
            check(len(got[2]) == 1 and got[2][0], "case %d: no reason text %r" % (rid, got[2]))
        no_errors(w)


def test_the_limit_counts_every_frame_of_the_message():
    with Edge("--max-message-bytes", "4096") as e:
        w = e.worker(b"echo", handler=echo, enforce_limit=False)
        accepted(w)
        c = e.client()
        head = size([HEADER, cmd(REQUEST), u64(0), b"echo", u32(0)])
        c.send(1, b"echo", [b"a" * (4097 - head)])           # one byte over
        check(c.recv(ANSWER_S)[:2] == (1, 8), "a request one byte over was accepted")
        rhead = size([HEADER, cmd(RESULT), u64(0), b"\x00"])
        w.handler = lambda body: (0, [b"r" * (4096 - rhead)])  # a RESULT of exactly the limit
        result = c.call(b"echo", [b"q"], rid=2)
        w.handler = echo
        c.send(3, b"echo", [b"a" * (4096 - head)])           # a REQUEST of exactly the limit
        request = c.recv(ANSWER_S)
        check(result[0] == 0 and request[:2] == (3, 0),
              "messages of exactly max_message_bytes (all frames) refused: RESULT %s %r, REQUEST %s %r"
              % (STATUS[result[0]], result[1][:1] if result[0] else "", STATUS[request[1]],
                 request[2][:1] if request[1] else ""))


def test_an_empty_service_means_the_default_service():
    with Edge("--default-service", "main") as e:
        w = e.worker(b"", handler=echo)
        accepted(w)
        c = e.client()
        check(c.call(b"", [b"a"], rid=1) == (0, [b"a"]), "empty service not served")
        check(c.call(b"main", [b"b"], rid=2) == (0, [b"b"]), "named default not served")
        check(set(e.stats()["services"]) == {"main"}, "services %r" % e.stats()["services"])
        w.stop()
        w2 = e.worker(b"main", handler=lambda b: (0, [b"w2"]))
        accepted(w2)
        check(c.call(b"", rid=3, timeout=5) == (0, [b"w2"]), "the second worker not serving ''")
        no_errors(w, w2)


def test_reserved_services_are_refused_with_a_reason_and_retry():
    with Edge() as e:
        for service in (b"spillway.mine", b"spillway.stats"):
            w = e.worker(service)
            reason, retry_ms = get(w.disconnects, "DISCONNECT for %r" % service, ANSWER_S)
            check(reason and retry_ms == 3 * 1000,
                  "%r refused with %r retry %d (page: liveness x heartbeat)" % (service, reason, retry_ms))
            check(w.accepted.empty(), "%r was ACCEPTED too" % service)
            w.stop()
        s = e.stats()
        check(s["edge"]["workers"] == "0", "refused workers counted: %r" % s["edge"])


EDGE_KEYS = ("schema edge uptime_ms hub workers tasks accepted done task_errors timeouts failed "
             "overloaded no_service bad_requests requeued late_replies unroutable workers_lost "
             "dropped_frontend dropped_backend delegated_out delegated_in busy served_by_others").split()
SERVICE_KEYS = ("service workers slots idle queued running delegated done lent prefetched "
                "credit_out credit_held").split()


def test_stats_has_schema_1_and_the_documented_keys():
    with Edge() as e:
        w = e.worker(b"svc", slots=3, handler=echo)
        accepted(w)
        c = e.client()
        check(c.call(b"svc", [b"x"]) == (0, [b"x"]), "svc not served")
        s = e.stats()
        edge, svc = s["edge"], s["services"].get("svc", {})
        check(edge.get("schema") == "1", "schema %r" % edge.get("schema"))
        missing = [k for k in EDGE_KEYS if k not in edge] + [k for k in SERVICE_KEYS if k not in svc]
        check(not missing, "keys missing: %s" % missing)
        check(edge["edge"] == "literal" and edge["hub"] == "off", "edge line %r" % edge)
        check((svc["workers"], svc["slots"], svc["done"]) == ("1", "3", "1"), "service line %r" % svc)


def test_a_silent_worker_is_dead_and_its_task_served_by_another():
    with Edge("--heartbeat-ms", "100", "--liveness", "3") as e:
        a = e.worker(b"job")
        accepted(a)
        c = e.client()
        c.send(9, b"job", [b"payload"], timeout_ms=10000)
        key, _ = get(a.tasks, "the task at A", ANSWER_S)
        a.frozen.set()                       # A hangs: no heartbeat, no answer
        b = e.worker(b"job", handler=lambda body: (0, [b"B"] + body))
        accepted(b)
        check(c.recv(3.0) == (9, 0, [b"B", b"payload"]), "the task was not served by B")
        s = e.stats()["edge"]
        check(int(s["workers_lost"]) >= 1 and int(s["requeued"]) >= 1, "stats %r" % s)
        a.answer(key, 0, [b"late"])          # A wakes up and answers after all
        a.frozen.clear()
        reason, retry_ms = get(a.disconnects, "DISCONNECT to the dead worker", ANSWER_S)
        accepted(a)                          # and it is taken back after READY again
        check(c.quiet(0.5), "the client got a second reply")
        until("late_replies counted", lambda: int(e.stats()["edge"]["late_replies"]) >= 1, 2)
        no_errors(a, b)
        check((reason, retry_ms) == ("unknown worker: say READY", 0), "told %r retry %d" % (reason, retry_ms))


def test_an_spw1_request_is_answered_in_spw1():
    with Edge() as e:
        c = e.client()
        c.send_raw([b"SPW1", cmd(REQUEST), u64(77), b"default", u32(0), b"hi"])
        check(c.sock.poll(int(ANSWER_S * 1000)), "no answer to an SPW1 request")
        m = c.sock.recv_multipart()
        want = [b"SPW1", cmd(REPLY), u64(77), b"\x05", b"this edge speaks SPW2; the client speaks SPW1"]
        check(m == want, "SPW1 answer %r" % m)
        until("the SPW1 log line", lambda: "SPW1 peer: Spillway speaks SPW2" in e.log(), 2)
        other = e.client()        # logs are limited to one a second per socket: say it again

        def logged():
            other.send_raw([b"SPW9", cmd(REQUEST), u64(78), b"default", u32(0)])
            return "unknown protocol version: Spillway speaks SPW2" in e.log()
        until("the other-version log line", logged, 3)
        check(c.quiet(0.2) and other.quiet(0.2), "an SPW9 request was answered")


def test_a_stopping_edge_tells_its_workers():
    with Edge("--heartbeat-ms", "200") as e:
        w = e.worker(b"echo", reconnect=False)
        accepted(w)
        e.proc.send_signal(signal.SIGTERM)
        reason, retry_ms = get(w.disconnects, "DISCONNECT on SIGTERM", 5)
        check((reason, retry_ms) == ("edge stopping", 200), "told %r retry %d" % (reason, retry_ms))
        check(e.proc.wait(5) == 0, "edge exited %s" % e.proc.returncode)


if __name__ == "__main__":
    run([
        test_replies_match_by_id_with_several_outstanding,
        test_accepted_is_sane_and_slots_fill_at_once,
        test_a_reply_over_the_limit_is_too_large_and_the_worker_serves_on,
        test_bad_requests_are_answered_at_once,
        test_the_limit_counts_every_frame_of_the_message,
        test_an_empty_service_means_the_default_service,
        test_reserved_services_are_refused_with_a_reason_and_retry,
        test_stats_has_schema_1_and_the_documented_keys,
        test_a_silent_worker_is_dead_and_its_task_served_by_another,
        test_an_spw1_request_is_answered_in_spw1,
        test_a_stopping_edge_tells_its_workers,
    ])
