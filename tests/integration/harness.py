"""Integration harness: starts the real Spillway programs as processes.

Every test gets a fresh temporary folder for ipc:// endpoints and logs; every
process it starts is stopped (SIGTERM, then SIGKILL after a deadline) when the
test ends, and a program that does not exit 0 after SIGTERM fails the test
(under AddressSanitizer that is how a leak shows). Waiting is always on an
event with a deadline: a reply, a status figure, a process exit.

The native client here is written from docs/protocol.md alone, in Python, as
a second implementation of the protocol.
"""

import http.client
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import zmq

BUILD = os.environ.get("SPW_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE = os.environ.get("SPW_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
EDGE_BIN = os.path.join(BUILD, "edge", "spillway-edge")
CLI_BIN = os.path.join(BUILD, "cli", "spillway")

HEADER = b"SPW2"
REQUEST, REPLY = b"\x01", b"\x02"
STATUS = {0: "ok", 1: "no-service", 2: "timeout", 3: "overloaded", 4: "failed",
          5: "bad-request", 6: "task-error", 7: "busy", 8: "too-large",
          9: "forbidden"}


class TestFailure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise TestFailure(message)


class Cluster:
    """Processes and endpoints of one test; use as a context manager."""

    def __init__(self, name):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="spw-%s-" % name)
        self.procs = []
        self.ctx = zmq.Context()
        self.ctx.linger = 0

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        failures = []
        for proc in reversed(self.procs):
            rc = self.stop(proc, check_exit=False)
            if exc_type is None and proc.expect_clean and rc != 0:
                failures.append("%s exited %s after SIGTERM; log:\n%s"
                                % (proc.label, rc, self.log_tail(proc)))
        self.ctx.destroy(linger=0)  # closes sockets a failed test left open
        if exc_type is not None or failures:
            for proc in self.procs:
                sys.stderr.write("---- %s log ----\n%s\n" % (proc.label, self.log_tail(proc, 60)))
        shutil.rmtree(self.dir, ignore_errors=True)
        if failures and exc_type is None:
            raise TestFailure("\n".join(failures))
        return False

    def endpoint(self, name):
        return "ipc://%s/%s.ipc" % (self.dir, name)

    def start(self, label, argv, expect_clean=True, new_session=False):
        """Starts a program; new_session puts it and its children in their
        own process group, for kill_group."""
        log = open(os.path.join(self.dir, label + ".log"), "wb")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=new_session)
        proc.label = label
        proc.log_path = log.name
        proc.expect_clean = expect_clean
        log.close()
        self.procs.append(proc)
        return proc

    def log_tail(self, proc, lines=30):
        try:
            with open(proc.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, proc, check_exit=True, timeout=10, drain=1.0):
        """SIGTERM; an edge then drains, so after drain seconds a second
        SIGTERM stops it at once; SIGKILL after timeout more."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(drain)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if check_exit:
            check(proc.returncode == 0, "%s exited %s after SIGTERM; log:\n%s"
                  % (proc.label, proc.returncode, self.log_tail(proc)))
        return proc.returncode

    def kill(self, proc):
        proc.kill()
        proc.wait()
        proc.expect_clean = False

    def kill_group(self, proc):
        """SIGKILL a program started with new_session and all its children."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.kill(proc)

    def start_edge(self, name="A", *args):
        fe, be = self.endpoint(name + "-fe"), self.endpoint(name + "-be")
        proc = self.start("edge-" + name, [EDGE_BIN, "--name", name, "--frontend", fe,
                                            "--backend", be] + list(args))
        proc.frontend, proc.backend = fe, be
        return proc

    def start_worker(self, edge, label, *args):
        return self.start(label, [CLI_BIN, "worker", "--edge", edge.backend] + list(args))

    def client(self, edge):
        return Client(self.ctx, edge.frontend)

    def stats(self, edge, timeout=5.0, client=None):
        """The edge's stats as {'edge': {...}, 'services': {name: {...}}},
        asked on a connection of its own or on client's."""
        own = client is None
        client = self.client(edge) if own else client
        try:
            status, frames = client.call([b""], service="spillway.stats", timeout=timeout)
        finally:
            if own:
                client.close()
        check(status == "ok", "stats answered %s" % status)
        result = {"edge": {}, "services": {}}
        for line in frames[0].decode().splitlines():
            pairs = dict(item.split("=", 1) for item in line.split())
            if "service" in pairs:
                result["services"][pairs["service"]] = pairs
            else:
                result["edge"] = pairs
        return result

    def wait_for(self, what, predicate, timeout=15.0, interval=0.05):
        """Polls predicate until it returns a true value or timeout passes."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate()
            except TestFailure as e:
                last = e
            if last and not isinstance(last, TestFailure):
                return last
            time.sleep(interval)
        raise TestFailure("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))

    def wait_idle_workers(self, edge, service, count, timeout=15.0):
        def ready():
            s = self.stats(edge).get("services", {}).get(service)
            return s and int(s["idle"]) >= count and int(s["workers"]) >= count
        self.wait_for("%d idle workers of %s" % (count, service), ready, timeout)


class Client:
    """A native client (DEALER) speaking SPW1."""

    def __init__(self, ctx, endpoint):
        self.socket = ctx.socket(zmq.DEALER)
        self.socket.linger = 0
        self.socket.connect(endpoint)
        self.next_id = 1

    def close(self):
        self.socket.close()

    def send(self, frames, service="default", timeout_ms=0):
        request_id = self.next_id
        self.next_id += 1
        self.socket.send_multipart([HEADER, REQUEST, struct.pack(">Q", request_id),
                                    service.encode(), struct.pack(">I", timeout_ms)] + list(frames))
        return request_id

    def recv(self, timeout=10.0):
        """Returns (request_id, status name, body frames), or None on timeout."""
        if not self.socket.poll(int(timeout * 1000)):
            return None
        msg = self.socket.recv_multipart()
        check(len(msg) >= 4 and msg[0] == HEADER and msg[1] == REPLY,
              "malformed reply %r" % msg[:4])
        return struct.unpack(">Q", msg[2])[0], STATUS.get(msg[3][0], "?"), msg[4:]

    def call(self, frames, service="default", timeout=10.0, timeout_ms=0):
        request_id = self.send(frames, service, timeout_ms)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            reply = self.recv(max(left, 0)) if left > 0 else None
            if reply is None:
                raise TestFailure("no reply to request %d within %.1fs" % (request_id, timeout))
            if reply[0] == request_id:
                return reply[1], reply[2]


def run(tests):
    """Runs test functions in order; prints 'N passed, N failed' and exits."""
    passed = failed = 0
    only = sys.argv[1:]
    for test in tests:
        if only and test.__name__ not in only:
            continue
        started = time.monotonic()
        try:
            test()
            passed += 1
            print("ok   %s (%.1fs)" % (test.__name__, time.monotonic() - started), flush=True)
        except Exception as e:  # report every failure, not only ours
            failed += 1
            print("FAIL %s: %s: %s" % (test.__name__, type(e).__name__, e), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def http_get(port, path, token=None, method="GET"):
    """(status, body) of one request to an http endpoint on 127.0.0.1;
    TestFailure if nothing answers (so that wait_for waits)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": "Bearer " + token} if token else {}
    try:
        conn.request(method, path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode()
    except OSError as e:
        raise TestFailure("http://127.0.0.1:%d%s: %s" % (port, path, e))
    finally:
        conn.close()


METRIC_LINE = re.compile(r'^([a-z_:][a-z0-9_:]*)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? '
                         r'(-?[0-9.e+-]+|\+Inf|NaN)$')


def metrics_of(text):
    """{sample: value} of a Prometheus text page, checking its form: each
    metric has HELP and TYPE before its samples, each sample line parses."""
    samples, declared = {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            declared.add(line.split()[2])
            continue
        match = METRIC_LINE.match(line)
        check(match is not None, "not a sample line: %r" % line)
        name = match.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in declared or base in declared, "%s has no HELP/TYPE before it" % name)
        samples[name + (match.group(2) or "")] = float(match.group(4))
    return samples


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LinkProxy:
    """A fault-injecting TCP proxy on 127.0.0.1 in front of one endpoint:
    pass (the default), delay(ms) each byte, stall (hold every byte, links
    stay up), cut (drop every connection and refuse new ones), heal.
    Connect to .endpoint instead of the target's."""

    def __init__(self, target_port):
        import selectors
        import socket
        import threading
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.mode, self.delay_s = "pass", 0.0
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.pairs = {}     # socket -> its other end
        self.pending = {}   # socket -> [(due, bytes)] to write to it
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def delay(self, ms):
        with self.lock:
            self.mode, self.delay_s = "delay", ms / 1000.0

    def stall(self):
        with self.lock:
            self.mode = "stall"

    def cut(self):
        with self.lock:
            self.mode = "cut"
            for s in list(self.pairs):
                self._close(s)

    def heal(self):
        with self.lock:
            self.mode, self.delay_s = "pass", 0.0

    def close(self):
        self.running = False
        self.thread.join(5)
        with self.lock:
            for s in list(self.pairs):
                self._close(s)
        self.listener.close()

    def _close(self, s):
        other = self.pairs.pop(s, None)
        for sock in (s, other):
            if sock is None:
                continue
            self.pairs.pop(sock, None)
            self.pending.pop(sock, None)
            try:
                self.selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()

    def _loop(self):
        import selectors
        import socket
        import time as clock
        while self.running:
            events = self.selector.select(0.005)
            with self.lock:
                for key, _ in events:
                    s = key.fileobj
                    if s is self.listener:
                        try:
                            client, _ = self.listener.accept()
                        except OSError:
                            continue
                        if self.mode == "cut":
                            client.close()
                            continue
                        upstream = socket.socket()
                        try:
                            upstream.connect(self.target)
                        except OSError:
                            client.close()
                            upstream.close()
                            continue
                        for sock in (client, upstream):
                            sock.setblocking(False)
                            self.selector.register(sock, selectors.EVENT_READ, None)
                            self.pending[sock] = []
                        self.pairs[client], self.pairs[upstream] = upstream, client
                        continue
                    if s not in self.pairs or self.mode == "stall":
                        continue
                    try:
                        data = s.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        self._close(s)
                        continue
                    due = clock.monotonic() + (self.delay_s if self.mode == "delay" else 0)
                    self.pending[self.pairs[s]].append((due, data))
                if self.mode == "stall":
                    continue
                now = clock.monotonic()
                for sock, queue in list(self.pending.items()):
                    while queue and queue[0][0] <= now:
                        data = queue.pop(0)[1]
                        try:
                            sock.setblocking(True)
                            sock.sendall(data)
                            sock.setblocking(False)
                        except OSError:
                            self._close(sock)
                            break
