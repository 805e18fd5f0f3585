"""The conformance scenarios: one list, run against every driver
(tests/conformance/README.md). Each scenario takes a harness.Cluster and a
Driver factory for one implementation, starts what it needs, and raises
harness.TestFailure when the implementation does not do what
docs/protocol.md says."""

import base64
import json
import os
import subprocess
import threading
import time

from harness import BUILD, SOURCE, TestFailure, check

HEARTBEAT = ["--heartbeat-ms", "200"]  # deaths seen in 0.6 s
LIMIT = 1048576                        # the edge's max_message_bytes
NODE = "/usr/bin/node"

DRIVERS = {
    "c": [os.path.join(BUILD, "tests", "conformance_driver")],
    "python": ["/usr/bin/python3", os.path.join(SOURCE, "tests", "conformance", "driver.py")],
    "node": [NODE, os.path.join(SOURCE, "tests", "conformance", "driver.js")],
}


def missing(impl):
    """Why a driver cannot run here, or None."""
    argv = DRIVERS[impl]
    if not os.path.exists(argv[0]):
        return "%s is missing (%s)" % (argv[0], "install libjansson-dev and rebuild"
                                       if impl == "c" else "install it")
    if impl == "node" and not os.path.isdir(os.path.join(SOURCE, "clients", "node",
                                                          "node_modules", "zeromq")):
        return "clients/node has no node_modules: run npm ci there"
    return None


def b64(frames):
    return [base64.b64encode(f).decode() for f in frames]


def unb64(frames):
    return [base64.b64decode(f) for f in frames]


class Driver:
    """One driver process: commands in, answers matched by seq."""

    def __init__(self, cluster, impl, label):
        self.label = "%s-%s" % (impl, label)
        log = open(os.path.join(cluster.dir, self.label + ".log"), "wb")
        self.proc = subprocess.Popen(DRIVERS[impl], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log)
        log.close()
        self.proc.label, self.proc.log_path = self.label, log.name
        self.proc.expect_clean = True
        cluster.procs.append(self.proc)
        self.answers = {}
        self.changed = threading.Condition()
        self.next_seq = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                answer = json.loads(line)
            except ValueError:
                answer = {"seq": None, "error": "unreadable", "message": line[:200]}
            with self.changed:
                self.answers[answer.get("seq")] = answer
                self.changed.notify_all()

    def send(self, op, **fields):
        seq = self.next_seq
        self.next_seq += 1
        fields.update(seq=seq, op=op)
        self.proc.stdin.write((json.dumps(fields) + "\n").encode())
        self.proc.stdin.flush()
        return seq

    def wait(self, seq, timeout=10.0):
        deadline = time.monotonic() + timeout
        with self.changed:
            while seq not in self.answers:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TestFailure("%s gave no answer to command %d within %.1fs (exit %s)"
                                      % (self.label, seq, timeout, self.proc.poll()))
                self.changed.wait(left)
            return self.answers.pop(seq)

    def do(self, op, timeout=10.0, **fields):
        return self.wait(self.send(op, **fields), timeout)

    def ok(self, op, **fields):
        answer = self.do(op, **fields)
        check(answer.get("ok") is True, "%s: %s answered %r" % (self.label, op, answer))

    def submit(self, service, frames=None, fill=None, timeout_ms=5000):
        fields = {"service": service, "timeout_ms": timeout_ms}
        if fill is not None:
            fields["fill"] = {"size": fill}
        else:
            fields["body"] = b64(frames if frames is not None else [b"task"])
        return self.send("submit", **fields)

    def reply(self, seq, timeout=10.0):
        answer = self.wait(seq, timeout)
        check("status" in answer or answer.get("error") == "argument",
              "%s: a submit answered %r" % (self.label, answer))
        return answer

    def expect(self, seq, status, timeout=10.0):
        answer = self.reply(seq, timeout)
        check(answer.get("status") == status, "%s: expected %s, got %r"
              % (self.label, status, _short(answer)))
        return answer

    def stop(self):
        self.ok("stop")
        self.proc.wait(10)


def _short(answer):
    shown = dict(answer)
    if "body" in shown:
        frames = unb64(shown["body"])
        shown["body"] = [f[:80] for f in frames] if sum(map(len, frames)) < 1000 else \
            "%d frames, %d bytes" % (len(frames), sum(map(len, frames)))
    return shown


def edge(cluster, name, *args):
    return cluster.start_edge(name, *(HEARTBEAT + list(args)))


def ready(cluster, at, service, slots=1):
    """Waits until the edge has slots idle slots of service."""
    cluster.wait_for("%d idle slots of %s" % (slots, service), lambda: int(
        cluster.stats(at)["services"].get(service, {}).get("idle", 0)) >= slots, timeout=10)


# -- Scenarios ----------------------------------------------------------------

def statuses_and_limits(cluster, impl):
    """ok with every kind of frame, no-service, task-error, timeout by the
    client's deadline, a body at the size limit and one byte over, bad
    arguments refused before anything is sent, and slots."""
    a = edge(cluster, "A")
    d = Driver(cluster, impl, "both")
    d.ok("client", edges=[a.frontend])
    for service, mode, slots in (("echo", "echo", 1), ("fail", "fail", 1),
                                 ("hold", "hold", 1), ("slow", "sleep", 4)):
        d.ok("worker", edge=a.backend, service=service, mode=mode, slots=slots, sleep_ms=400)
    for service, count in (("echo", 1), ("fail", 1), ("hold", 1), ("slow", 4)):
        ready(cluster, a, service, count)
    check(cluster.stats(a)["services"]["slow"]["slots"] == "4", "the slots were not 4")

    frames = [b"hello", b"", bytes(range(256)), "naïve".encode()]
    answer = d.expect(d.submit("echo", frames), "ok")
    check(unb64(answer["body"]) == frames, "echo changed the frames: %r" % _short(answer))
    answer = d.expect(d.submit("nothing"), "no-service")
    check(b"nothing" in b"".join(unb64(answer["body"])), "no-service did not name it")
    answer = d.expect(d.submit("fail", [b"bad input"]), "task-error")

    started = time.monotonic()
    d.expect(d.submit("hold", timeout_ms=300), "timeout", timeout=5)
    took = time.monotonic() - started
    check(0.25 <= took <= 2.5, "a 300 ms deadline answered after %.2fs" % took)

    #  The whole message counts: header 4, command 1, id 8, service, timeout 4.
    at_limit = LIMIT - 4 - 1 - 8 - len("echo") - 4
    answer = d.expect(d.submit("echo", fill=at_limit), "ok")
    check(len(unb64(answer["body"])[0]) == at_limit, "the body at the limit came back changed")
    d.expect(d.submit("echo", fill=at_limit + 1), "too-large")

    before = cluster.stats(a)["edge"]
    for service, frames in (("bad name", [b"x"]), ("x" * 65, [b"x"]),
                            ("echo", [b"f"] * 17)):
        answer = d.reply(d.submit(service, frames))
        check(answer.get("error") == "argument",
              "%r with %d frames was not refused before sending: %r"
              % (service[:20], len(frames), _short(answer)))
    d.expect(d.submit("echo"), "ok")  # the call after them is the next the edge sees
    after = cluster.stats(a)["edge"]
    check(int(after["accepted"]) == int(before["accepted"]) + 1
          and after["bad_requests"] == before["bad_requests"],
          "refused calls reached the edge: accepted %s -> %s, bad_requests %s -> %s"
          % (before["accepted"], after["accepted"], before["bad_requests"],
             after["bad_requests"]))

    started = time.monotonic()
    seqs = [d.submit("slow", [b"%d" % i]) for i in range(4)]
    for i, seq in enumerate(seqs):
        check(unb64(d.expect(seq, "ok")["body"]) == [b"%d" % i], "a slot's reply was not its own")
    took = time.monotonic() - started
    check(took < 1.2, "4 tasks of 400 ms on 4 slots took %.2fs (one at a time: 1.6)" % took)
    d.stop()


def overloaded(cluster, impl):
    """A full queue answers overloaded at once."""
    a = edge(cluster, "A", "--queue-max", "1")
    d = Driver(cluster, impl, "both")
    d.ok("client", edges=[a.frontend])
    d.ok("worker", edge=a.backend, service="hold", mode="hold", slots=1)
    ready(cluster, a, "hold")
    first = d.submit("hold", timeout_ms=2000)
    cluster.wait_for("the first task running", lambda: int(
        cluster.stats(a)["services"]["hold"]["running"]) == 1, timeout=5)
    second = d.submit("hold", timeout_ms=2000)
    cluster.wait_for("the second task queued", lambda: int(
        cluster.stats(a)["services"]["hold"]["queued"]) == 1, timeout=5)
    started = time.monotonic()
    d.expect(d.submit("hold", timeout_ms=2000), "overloaded")
    check(time.monotonic() - started < 1.0, "overloaded was not answered at once")
    d.expect(first, "timeout")
    d.expect(second, "timeout")
    d.stop()


def worker_killed(cluster, impl):
    """A worker killed mid-task: with max_attempts 1 the client gets
    failed; with more, another worker serves the task."""
    a = edge(cluster, "A", "--max-attempts", "1")
    b = edge(cluster, "B")
    d = Driver(cluster, impl, "client")
    w1 = Driver(cluster, impl, "worker-a")
    w1.ok("worker", edge=a.backend, service="hold", mode="hold", slots=1)
    w2 = Driver(cluster, impl, "worker-b")
    w2.ok("worker", edge=b.backend, service="work", mode="hold", slots=1)
    ready(cluster, a, "hold")
    ready(cluster, b, "work")
    d.ok("client", edges=[a.frontend])
    lost = d.submit("hold", timeout_ms=8000)
    cluster.wait_for("the task at the worker", lambda: int(
        cluster.stats(a)["services"]["hold"]["running"]) == 1, timeout=5)
    cluster.kill(w1.proc)
    d.expect(lost, "failed", timeout=8)

    d2 = Driver(cluster, impl, "client-b")
    d2.ok("client", edges=[b.frontend])
    moved = d2.submit("work", [b"again"], timeout_ms=8000)
    cluster.wait_for("the task at the worker", lambda: int(
        cluster.stats(b)["services"]["work"]["running"]) == 1, timeout=5)
    d.ok("worker", edge=b.backend, service="work", mode="echo", slots=1)
    cluster.kill(w2.proc)
    answer = d2.expect(moved, "ok", timeout=8)
    check(unb64(answer["body"]) == [b"again"], "the requeued task came back changed")
    d.stop()
    d2.stop()


def held_at_first_edge(cluster, impl, body, *a_args):
    """Edges A (a worker that holds its task, a_args) and B (an echo
    worker), a client of both, and one task held at A: (a, b, driver, seq)."""
    a = edge(cluster, "A", *a_args)
    b = edge(cluster, "B")
    d = Driver(cluster, impl, "both")
    d.ok("worker", edge=a.backend, service="work", mode="hold", slots=1)
    d.ok("worker", edge=b.backend, service="work", mode="echo", slots=2)
    ready(cluster, a, "work")
    ready(cluster, b, "work")
    d.ok("client", edges=[a.frontend, b.frontend])
    seq = d.submit("work", [body], timeout_ms=10000)
    cluster.wait_for("the task at A's worker", lambda: int(
        cluster.stats(a)["services"]["work"]["running"]) == 1, timeout=5)
    return a, b, d, seq


def failover_killed(cluster, impl):
    """The client's edge is killed while it holds the task: the client
    sends it to its next edge, whose worker answers."""
    a, b, d, seq = held_at_first_edge(cluster, impl, b"survive")
    started = time.monotonic()
    cluster.kill(a)
    answer = d.expect(seq, "ok", timeout=10)
    check(unb64(answer["body"]) == [b"survive"], "the task came back changed: %r" % _short(answer))
    took = time.monotonic() - started
    check(took < 4.0, "failover took %.2fs" % took)
    d.expect(d.submit("work", [b"next"]), "ok")
    check(int(cluster.stats(b)["edge"]["done"]) == 2, "B did not serve both tasks")
    d.stop()


def failover_draining(cluster, impl):
    """The client's edge drains: it answers new requests busy, which the
    client sends to its next edge; what it held goes there at its drain's end."""
    a, b, d, held = held_at_first_edge(cluster, impl, b"held", "--drain-timeout-ms", "1500")
    operator = cluster.client(a)
    status, _ = operator.call([b""], service="spillway.drain", timeout=5)
    operator.close()
    check(status == "ok", "the drain answered %s" % status)
    answer = d.expect(d.submit("work", [b"new"]), "ok")
    check(unb64(answer["body"]) == [b"new"], "the new task came back changed")
    answer = d.expect(held, "ok", timeout=8)
    check(unb64(answer["body"]) == [b"held"], "the held task came back changed")
    check(int(cluster.stats(b)["edge"]["done"]) == 2, "B did not serve both tasks")
    a.wait(5)
    d.stop()


def forbidden(cluster, impl):
    """CURVE on: the client and worker with their keys from `spillway
    keygen` are served; the client's key may not drain the edge
    (forbidden), and a key the edge does not know is refused at the
    handshake (no answer: the client's own timeout)."""
    from harness import CLI_BIN
    keys = os.path.join(cluster.dir, "keys")
    for name, role, more in (("A", "edge", []), ("client", "client", []),
                             ("worker", "worker", ["--services", "echo"])):
        made = subprocess.run([CLI_BIN, "keygen", name, "--role", role, "--dir", keys] + more,
                              capture_output=True, text=True, timeout=20)
        check(made.returncode == 0, "keygen %s: %s" % (name, made.stderr))
    strangers = os.path.join(cluster.dir, "strangers")
    subprocess.run([CLI_BIN, "keygen", "client", "--role", "client", "--dir", strangers],
                   capture_output=True, timeout=20, check=True)
    a = edge(cluster, "A", "--curve-dir", keys)
    server = os.path.join(keys, "A.key")
    d = Driver(cluster, impl, "both")
    d.ok("worker", edge=a.backend, service="echo", mode="echo", slots=1,
         cert=os.path.join(keys, "worker.key"), server_cert=server)
    d.ok("client", edges=[a.frontend], cert=os.path.join(keys, "client.key"),
         server_cert=server)
    #  The harness's stats are plaintext: the worker is there when the edge
    #  stops answering no-service (at once) to the echo.
    deadline = time.monotonic() + 10
    while True:
        answer = d.reply(d.submit("echo", [b"secret"], timeout_ms=5000))
        if answer.get("status") != "no-service" or time.monotonic() > deadline:
            break
    check(answer.get("status") == "ok" and unb64(answer["body"]) == [b"secret"],
          "the secured echo answered %r" % _short(answer))
    answer = d.expect(d.submit("spillway.drain", [b""]), "forbidden")
    stranger = Driver(cluster, impl, "stranger")
    stranger.ok("client", edges=[a.frontend], cert=os.path.join(strangers, "client.key"),
                server_cert=server)
    stranger.expect(stranger.submit("echo", timeout_ms=300), "timeout", timeout=5)
    answer = d.reply(d.submit("echo"), timeout=5)
    check(answer.get("status") == "ok", "the edge stopped serving after a stranger: %r" % answer)
    stranger.stop()
    d.stop()


SCENARIOS = [statuses_and_limits, overloaded, worker_killed, failover_killed,
             failover_draining, forbidden]
