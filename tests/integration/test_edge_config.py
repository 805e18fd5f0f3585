"""The edge's command line and config: exact errors, exit codes, and that a
bad setting stops the program before it binds anything."""

import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import (EDGE_BIN, SOURCE, Cluster, check, http_get, metrics_of,  # noqa: E402
                     run)


def edge(args, timeout=10):
    return subprocess.run([EDGE_BIN] + args, capture_output=True, text=True, timeout=timeout)


def write(c, name, text):
    path = os.path.join(c.dir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def test_unknown_key_exits_1_with_file_line_column_and_suggestion():
    with Cluster("config") as c:
        path = write(c, "edge.yaml", "name: a\nfrontend: %s\nheartbeat_msec: 100\n" % c.endpoint("fe"))
        result = edge(["--config", path])
        check(result.returncode == 1, "exit status %d" % result.returncode)
        expected = "%s:3:1: unknown key 'heartbeat_msec' (did you mean 'heartbeat_ms'?)\n" % path
        check(result.stderr == expected, "expected %r, got %r" % (expected, result.stderr))
        check(not os.path.exists(os.path.join(c.dir, "fe.ipc")), "the edge bound before failing")


def test_out_of_range_value_is_refused():
    with Cluster("config-range") as c:
        path = write(c, "edge.yaml", "name: a\nliveness: 0\n")
        result = edge(["--config", path])
        expected = "%s:2:11: 'liveness' must be between 1 and 100, got 0\n" % path
        check(result.returncode == 1 and result.stderr == expected,
              "got %d %r" % (result.returncode, result.stderr))


def test_missing_name_is_refused():
    with Cluster("config-name") as c:
        path = write(c, "edge.yaml", "queue_max: 10\n")
        result = edge(["--config", path])
        expected = "%s: missing required key 'name'\n" % path
        check(result.returncode == 1 and result.stderr == expected,
              "got %d %r" % (result.returncode, result.stderr))
        result = edge([])
        check(result.returncode == 2 and "missing required key 'name'" in result.stderr,
              "without a file: %d %r" % (result.returncode, result.stderr))


def test_bad_flag_value_and_unknown_flag_exit_2():
    result = edge(["--name", "a", "--frontend", "tcp//nowhere"])
    check(result.returncode == 2, "exit status %d" % result.returncode)
    check(result.stderr == "spillway-edge: --frontend: 'frontend' is not a ZeroMQ endpoint: "
          "'tcp//nowhere' (expected tcp://HOST:PORT, ipc://PATH or inproc://NAME)\n",
          "got %r" % result.stderr)
    result = edge(["--name", "a", "--bogus"])
    check(result.returncode == 2 and result.stderr == "spillway-edge: unknown flag '--bogus' "
          "(see --help)\n", "a last unknown flag: %d %r" % (result.returncode, result.stderr))
    result = edge(["--name"])
    check(result.returncode == 2 and result.stderr == "spillway-edge: --name needs a value\n",
          "a flag without its value: %d %r" % (result.returncode, result.stderr))
    result = edge(["--name", "a", "--wrokers", "3"])
    check(result.returncode == 2 and result.stderr.startswith("spillway-edge: unknown flag '--wrokers'"),
          "got %d %r" % (result.returncode, result.stderr))


def test_flags_override_the_file():
    with Cluster("config-override") as c:
        path = write(c, "edge.yaml", "name: from-file\nliveness: 0\n")
        # The file is bad; a flag cannot rescue a bad file: errors come first.
        result = edge(["--config", path, "--liveness", "3"])
        check(result.returncode == 1, "a bad file must fail even if a flag overrides it")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_endpoint_in_use_is_a_clear_error():
    with Cluster("config-bind") as c:
        taken = "tcp://127.0.0.1:%d" % free_port()
        first = c.start("edge-A", [EDGE_BIN, "--name", "A", "--frontend", c.endpoint("fe"),
                                   "--backend", taken])
        first.frontend = c.endpoint("fe")
        c.stats(first)  # it is up
        result = edge(["--name", "B", "--frontend", c.endpoint("fe-b"), "--backend", taken])
        expected = "spillway-edge: cannot bind %s: Address already in use\n" % taken
        check(result.returncode == 1 and result.stderr.endswith(expected),
              "expected exit 1 and %r, got %d %r" % (expected, result.returncode, result.stderr))


def test_http_endpoint_reports_readiness_and_the_tasks():
    """--http: /healthz at once, /readyz once a worker is there, /metrics
    counting the tasks by outcome and the slots per service."""
    with Cluster("edge-http") as c:
        port = free_port()
        a = c.start_edge("A", "--heartbeat-ms", "100", "--http", "127.0.0.1:%d" % port)
        c.wait_for("the edge's healthz", lambda: http_get(port, "/healthz") == (200, "ok\n"))
        check(http_get(port, "/readyz")[0] == 503, "ready without a worker")
        c.start_worker(a, "worker", "--service", "echo", "--slots", "2", "--echo")
        c.wait_for("readyz once a worker is there", lambda: http_get(port, "/readyz")[0] == 200)
        client = c.client(a)
        status, frames = client.call([b"hi"], service="echo")
        check(status == "ok" and frames == [b"hi"], "echo: %s %r" % (status, frames))
        client.close()

        def counted():
            samples = metrics_of(http_get(port, "/metrics")[1])
            return samples if samples.get('spillway_edge_tasks_total{outcome="done"}') == 1 else None
        samples = c.wait_for("/metrics to count the task", counted)
        check(samples["spillway_edge_tasks_accepted_total"] == 1
              and samples['spillway_edge_slots{service="echo"}'] == 2
              and samples['spillway_edge_queue_depth{service="echo"}'] == 0
              and samples["spillway_edge_hub_joined"] == 0
              and samples["spillway_edge_task_seconds_count"] == 1
              and samples['spillway_edge_task_seconds_bucket{le="+Inf"}'] == 1
              and samples["spillway_edge_queue_wait_seconds_count"] == 1
              and samples["spillway_edge_request_bytes_total"] == 2
              and samples["spillway_edge_reply_bytes_total"] == 2,
              "metrics: %r" % samples)
        result = edge(["--name", "B", "--frontend", c.endpoint("fe-b"), "--backend",
                       c.endpoint("be-b"), "--http", "127.0.0.1:%d" % port])
        check(result.returncode == 1 and "cannot serve http" in result.stderr,
              "a port in use: exit %d, %r" % (result.returncode, result.stderr))


def test_help_and_version():
    result = edge(["--help"])
    check(result.returncode == 0 and "--heartbeat-ms" in result.stdout, "help: %r" % result.stdout[:200])
    result = edge(["--version"])
    check(result.returncode == 0 and result.stdout.startswith("spillway-edge "), "version: %r" % result.stdout)


def test_example_config_is_valid():
    result = edge(["--config", os.path.join(SOURCE, "config", "edge.yaml"), "--help"])
    check(result.returncode == 0, "help with the example config failed")
    with Cluster("config-example") as c:
        proc = c.start("edge", [EDGE_BIN, "--config", os.path.join(SOURCE, "config", "edge.yaml"),
                                "--frontend", c.endpoint("fe"), "--backend", c.endpoint("be")])
        proc.frontend = c.endpoint("fe")
        check(c.stats(proc)["edge"]["edge"] == "edge-a", "the example config's name was not used")


run([
    test_unknown_key_exits_1_with_file_line_column_and_suggestion,
    test_out_of_range_value_is_refused,
    test_missing_name_is_refused,
    test_bad_flag_value_and_unknown_flag_exit_2,
    test_flags_override_the_file,
    test_endpoint_in_use_is_a_clear_error,
    test_http_endpoint_reports_readiness_and_the_tasks,
    test_help_and_version,
    test_example_config_is_valid,
])
