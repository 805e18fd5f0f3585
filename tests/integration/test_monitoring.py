"""The http endpoints checked by real tools: Debian's promtool on the
metrics of a hub and an edge, and a real Prometheus server (on loopback,
with a temporary data folder) scraping a running cluster, whose query API
must then see tasks being served."""

import json
import os
import shutil
import subprocess
import sys
import urllib.parse

import zmq

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BUILD, Cluster, check, free_port, http_get, metrics_of,  # noqa: E402
                     run)

HUB_BIN = os.path.join(BUILD, "hub", "spillway-hub")
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")


def start_cluster(c):
    """A hub and an edge with an echo worker, both serving http; returns
    (hub port, edge port, edge)."""
    hub_port, edge_port = free_port(), free_port()
    control, state = c.endpoint("hub-control"), c.endpoint("hub-state")
    c.start("hub", [HUB_BIN, "--control", control, "--state", state, "--heartbeat-ms", "200",
                    "--http", "127.0.0.1:%d" % hub_port])
    edge = c.start_edge("A", "--hub", control, "--cloud", c.endpoint("A-cloud"),
                        "--heartbeat-ms", "200", "--http", "127.0.0.1:%d" % edge_port)
    c.start_worker(edge, "worker", "--service", "echo", "--echo", "--slots", "4")
    c.wait_for("the edge to be ready", lambda: http_get(edge_port, "/readyz")[0] == 200)
    c.wait_for("the hub to be ready", lambda: http_get(hub_port, "/readyz")[0] == 200)
    return hub_port, edge_port, edge


def serve_some(c, edge, count):
    client = c.client(edge)
    for i in range(count):
        status, frames = client.call([b"%d" % i], service="echo")
        check(status == "ok", "task %d: %s" % (i, status))
    client.close()


def test_promtool_accepts_both_pages():
    if not PROMTOOL:
        print("    skipped: promtool is not installed (Debian's prometheus package)")
        return
    with Cluster("promtool") as c:
        hub_port, edge_port, edge = start_cluster(c)
        serve_some(c, edge, 5)
        for name, port in (("hub", hub_port), ("edge", edge_port)):
            status, text = http_get(port, "/metrics")
            check(status == 200 and metrics_of(text), "%s metrics: %d" % (name, status))
            result = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                                    capture_output=True, text=True, timeout=30)
            check(result.returncode == 0,
                  "promtool on the %s's metrics: %s%s" % (name, result.stdout, result.stderr))


def test_drops_by_reason_and_missed_heartbeats_are_counted():
    with Cluster("reasons") as c:
        _, edge_port, edge = start_cluster(c)
        sock = c.ctx.socket(zmq.DEALER)
        sock.connect(edge.frontend)
        sock.send_multipart([b"SPW2", b"\x07garbage"])          # malformed
        sock.send_multipart([b"SPW9", b"\x01"])                 # another version
        sock.send_multipart([b"SPW2", b"\x10", b"echo"])        # READY, at the frontend
        worker = c.ctx.socket(zmq.DEALER)
        worker.connect(edge.backend)
        worker.send_multipart([b"SPW2", b"\x10", b"silent"])    # then never a beat

        def counted():
            m = metrics_of(http_get(edge_port, "/metrics")[1])
            return m if (m.get('spillway_edge_drops_total{reason="malformed"}', 0) >= 1
                         and m.get('spillway_edge_drops_total{reason="version"}', 0) >= 1
                         and m.get('spillway_edge_drops_total{reason="unexpected"}', 0) >= 1
                         and m.get('spillway_edge_heartbeats_missed_total{peer="worker"}', 0)
                         >= 1) else None
        m = c.wait_for("drops by reason and the silent worker counted", counted, timeout=10)
        check(m['spillway_edge_messages_dropped_total{socket="frontend"}'] >= 3,
              "the frontend's drops: %r" % m)
        sock.close()
        worker.close()


def query(port, expression):
    """The vector a Prometheus instant query returns ([] if none)."""
    status, body = http_get(port, "/api/v1/query?query=" + urllib.parse.quote(expression))
    check(status == 200, "query %s: %d %s" % (expression, status, body))
    return json.loads(body)["data"]["result"]


def test_prometheus_scrapes_a_cluster_and_sees_tasks_served():
    if not PROMETHEUS:
        print("    skipped: prometheus is not installed (Debian's prometheus package)")
        return
    with Cluster("prometheus") as c:
        hub_port, edge_port, edge = start_cluster(c)
        web = free_port()
        config = os.path.join(c.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: spillway\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d', '127.0.0.1:%d']\n" % (hub_port, edge_port))
        c.start("prometheus", [PROMETHEUS, "--config.file", config,
                               "--storage.tsdb.path", os.path.join(c.dir, "data"),
                               "--web.listen-address", "127.0.0.1:%d" % web,
                               "--log.level", "warn"])
        c.wait_for("prometheus to answer", lambda: http_get(web, "/-/ready")[0] == 200,
                   timeout=30)

        def rate_seen():
            serve_some(c, edge, 20)
            result = query(web, 'rate(spillway_edge_tasks_total{outcome="done"}[10s])')
            return result if result and float(result[0]["value"][1]) > 0 else None
        result = c.wait_for("a non-zero rate of tasks served in Prometheus", rate_seen,
                            timeout=40, interval=0.5)
        print("    prometheus: rate of done tasks %s/s" % result[0]["value"][1])
        up = query(web, "up")
        check(len(up) == 2 and all(sample["value"][1] == "1" for sample in up),
              "both targets should be up: %r" % up)
        alive = query(web, 'spillway_hub_edges{state="alive"}')
        check(alive and alive[0]["value"][1] == "1", "the hub's alive edges: %r" % alive)


run([
    test_promtool_accepts_both_pages,
    test_drops_by_reason_and_missed_heartbeats_are_counted,
    test_prometheus_scrapes_a_cluster_and_sees_tasks_served,
])
