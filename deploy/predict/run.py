"""The seed's scenario end to end: a web tier asks ML workers for predictions.

    ./deploy/demo --predict [--duration S]     (installs, builds, then runs this)
    /usr/bin/python3 deploy/predict/run.py [--duration S] [--concurrency N]
        [--cost-ms MS] [--build DIR]

On this machine, over ipc:// in a temporary folder (HTTP on 127.0.0.1):
- a hub, with its web page;
- edge `web`, with one Python predict worker of 1 slot, and in front of it
  the Node.js web server (deploy/predict/web.js) answering
  GET /predict?... by asking the `predict` service through that edge;
- edge `ml`, with one Python predict worker of 4 slots;
- an HTTP load generator here, N keep-alive connections asking for
  predictions of iris flowers as fast as answers come: far more than the
  web edge's one slot serves, so its overflow goes to the ml edge's
  workers, lent by credit.

Each worker serves scikit-learn's logistic regression trained at start on
iris (deploy/predict/worker.py); each prediction costs --cost-ms more, as a
larger model would. Every second a line of progress; at the end the
requests, p50 and p99 latency, which edge served how many, and lost (HTTP
requests without a prediction: must be 0). Exits 0 only if nothing was lost
and both edges served.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
import spillway  # noqa: E402

HEARTBEAT_MS = 500


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="spillway-predict-")
        self.procs = []

    def ep(self, name):
        return "ipc://%s/%s" % (self.dir, name)

    def start(self, label, argv, stdout=None):
        log = open(os.path.join(self.dir, label + ".log"), "wb")
        proc = subprocess.Popen(argv, stdout=stdout or log, stderr=log,
                                start_new_session=True)
        proc.label = label
        log.close()
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        codes = {}
        for proc in self.procs:
            try:
                codes[proc.label] = proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                codes[proc.label] = proc.wait()
        return codes

    def log_tail(self, label, lines=15):
        try:
            with open(os.path.join(self.dir, label + ".log"), "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def stats(self, edge):
        with spillway.Client(self.ep(edge + "-fe")) as client:
            text = client.submit("spillway.stats", b"", timeout=2).decode()
        lines = [dict(w.split("=", 1) for w in line.split()) for line in text.splitlines()]
        return lines[0], {s["service"]: s for s in lines[1:]}

    def wait_ready(self, slots, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(self.stats(e)[0].get("hub") == "joined"
                       and int(self.stats(e)[1].get("predict", {}).get("idle", 0)) >= n
                       for e, n in slots.items()):
                    return
            except spillway.SpillwayError:
                pass
            time.sleep(0.2)
        raise SystemExit("predict: the edges and workers were not ready in %ds; logs in %s"
                         % (timeout, self.dir))


class Load:
    """N keep-alive HTTP connections asking for predictions until told to stop."""

    def __init__(self, port, concurrency, rows):
        self.port, self.rows = port, rows
        self.lock = threading.Lock()
        self.latencies, self.by_edge, self.errors = [], {}, {}
        self.requests = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.connection, daemon=True)
                        for _ in range(concurrency)]

    def connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        rng = random.Random()
        while not self.stopping.is_set():
            row = rng.choice(self.rows)
            query = "sepal_length=%s&sepal_width=%s&petal_length=%s&petal_width=%s" % row
            started = time.monotonic()
            outcome = None
            try:
                conn.request("GET", "/predict?" + query)
                response = conn.getresponse()
                body = response.read()
                if response.status == 200:
                    outcome = json.loads(body)["edge"]
                else:
                    outcome = "http %d %s" % (response.status, json.loads(body).get("error"))
            except (OSError, http.client.HTTPException, ValueError, KeyError) as error:
                outcome = "no answer: %s" % type(error).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            took = time.monotonic() - started
            with self.lock:
                self.requests += 1
                if outcome.startswith(("http ", "no answer")):
                    self.errors[outcome] = self.errors.get(outcome, 0) + 1
                else:
                    self.by_edge[outcome] = self.by_edge.get(outcome, 0) + 1
                    self.latencies.append(took)
        conn.close()

    def snapshot(self):
        with self.lock:
            return self.requests, dict(self.by_edge), dict(self.errors), list(self.latencies)


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def iris_rows():
    from sklearn.datasets import load_iris
    return [tuple("%.1f" % v for v in row) for row in load_iris().data]


def main():
    parser = argparse.ArgumentParser(description="Spillway's web-to-ML scenario.")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP connections")
    parser.add_argument("--cost-ms", type=float, default=20.0,
                        help="time each prediction costs on top of the model")
    parser.add_argument("--build", default=os.environ.get("SPW_BUILD_DIR",
                                                          os.path.join(ROOT, "build")))
    args = parser.parse_args()
    run = Run(args)
    hub_bin = os.path.join(args.build, "hub", "spillway-hub")
    edge_bin = os.path.join(args.build, "edge", "spillway-edge")
    for program in (hub_bin, edge_bin):
        if not os.access(program, os.X_OK):
            raise SystemExit("predict: %s is missing: build first (./deploy/demo builds)"
                             % program)
    lost = None
    try:
        page_port, web_port = free_port(), free_port()
        run.start("hub", [hub_bin, "--control", run.ep("hub"), "--state", run.ep("hub-state"),
                          "--heartbeat-ms", str(HEARTBEAT_MS), "--http",
                          "127.0.0.1:%d" % page_port])
        print("the web page: http://127.0.0.1:%d/ (and /metrics), while it runs" % page_port)
        slots = {"web": 1, "ml": 4}
        for name, n in slots.items():
            run.start("edge-" + name, [edge_bin, "--name", name, "--frontend",
                                       run.ep(name + "-fe"), "--backend", run.ep(name + "-be"),
                                       "--cloud", run.ep(name + "-cloud"), "--hub", run.ep("hub"),
                                       "--heartbeat-ms", str(HEARTBEAT_MS)])
            run.start("worker-" + name, ["/usr/bin/python3", os.path.join(HERE, "worker.py"),
                                         "--edge", run.ep(name + "-be"), "--name", name,
                                         "--slots", str(n), "--cost-ms", str(args.cost_ms)])
        web = run.start("web", ["node", os.path.join(HERE, "web.js"), "--edge",
                                run.ep("web-fe"), "--port", str(web_port)],
                        stdout=subprocess.PIPE)
        line = web.stdout.readline().decode().strip()
        if not line.startswith("listening"):
            raise SystemExit("predict: the web server did not start:\n" + run.log_tail("web"))
        run.wait_ready(slots)
        print("hub, edges web (1 slot) and ml (4 slots), Python workers serving iris; the "
              "Node.js web server at http://127.0.0.1:%d/predict" % web_port)
        print("%d HTTP connections for %.0fs, each prediction %.0f ms:" % (
            args.concurrency, args.duration, args.cost_ms))
        load = Load(web_port, args.concurrency, iris_rows())
        for thread in load.threads:
            thread.start()
        started = time.monotonic()
        previous = 0
        while time.monotonic() - started < args.duration:
            time.sleep(min(1.0, max(0.0, args.duration - (time.monotonic() - started))))
            requests, by_edge, errors, latencies = load.snapshot()
            recent = latencies[previous:]
            previous = len(latencies)
            print("t=%.0fs requests=%d served web=%d ml=%d errors=%d p99=%.1fms" % (
                time.monotonic() - started, requests, by_edge.get("web", 0),
                by_edge.get("ml", 0), sum(errors.values()),
                percentile(recent, 0.99) * 1000), flush=True)
        load.stopping.set()
        for thread in load.threads:
            thread.join(15)
        took = time.monotonic() - started
        requests, by_edge, errors, latencies = load.snapshot()
        lost = requests - sum(by_edge.values())
        print("requests: %d in %.1fs (%.0f/s)" % (requests, took, requests / took))
        print("latency: p50=%.1fms p99=%.1fms" % (percentile(latencies, 0.5) * 1000,
                                                  percentile(latencies, 0.99) * 1000))
        print("served: web=%d ml=%d (the web edge's overflow, served at ml)" % (
            by_edge.get("web", 0), by_edge.get("ml", 0)))
        for what, count in sorted(errors.items()):
            print("  %d answered %s" % (count, what))
        print("lost: %d" % lost)
    finally:
        codes = run.stop_all()
        bad = {k: v for k, v in codes.items() if v not in (0, -signal.SIGTERM)}
        if bad:
            print("predict: programs exited badly: %r; logs kept in %s" % (bad, run.dir))
        elif os.environ.get("DEMO_KEEP") != "1":
            shutil.rmtree(run.dir, ignore_errors=True)
        else:
            print("logs in %s" % run.dir)
    ok = lost == 0 and by_edge.get("web", 0) > 0 and by_edge.get("ml", 0) > 0 and not bad
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
