"""The `spillway` command line against a real edge: submit's output and exit
codes, worker --exec and --echo, check-config."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import CLI_BIN, SOURCE, Cluster, check, run  # noqa: E402


def cli(args, timeout=30, input=None):
    return subprocess.run([CLI_BIN] + args, capture_output=True, timeout=timeout, input=input)


def test_submit_prints_the_reply_of_an_exec_worker():
    with Cluster("cli-exec") as c:
        edge = c.start_edge("A")
        c.start_worker(edge, "upper", "--service", "upper", "--exec", "tr a-z A-Z")
        c.wait_idle_workers(edge, "upper", 1)
        result = cli(["submit", "--edge", edge.frontend, "--service", "upper", "hello spillway"])
        check(result.returncode == 0 and result.stdout == b"HELLO SPILLWAY\n",
              "got %d %r %r" % (result.returncode, result.stdout, result.stderr))


def test_submit_reads_stdin_with_dash():
    with Cluster("cli-stdin") as c:
        edge = c.start_edge("A")
        c.start_worker(edge, "echo", "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 1)
        data = bytes(range(256)) * 1000
        result = cli(["submit", "--edge", edge.frontend, "--service", "echo", "-"], input=data)
        check(result.returncode == 0 and result.stdout.startswith(data),
              "expected the 256000 bytes back, got %d bytes, exit %d"
              % (len(result.stdout), result.returncode))


def test_submit_exit_code_tells_the_status():
    with Cluster("cli-status") as c:
        edge = c.start_edge("A")
        result = cli(["submit", "--edge", edge.frontend, "--service", "nobody", "x"])
        check(result.returncode == 3, "no-service should exit 3, got %d" % result.returncode)
        check(result.stderr == b"spillway submit: no-service: no worker offers service 'nobody'\n",
              "got %r" % result.stderr)
        c.start_worker(edge, "failing", "--service", "bad", "--exec", "echo oops >&2; exit 4")
        c.wait_idle_workers(edge, "bad", 1)
        result = cli(["submit", "--edge", edge.frontend, "--service", "bad", "x"])
        check(result.returncode == 8, "task-error should exit 8, got %d %r"
              % (result.returncode, result.stderr))


def test_submit_count_summarises_many_tasks():
    with Cluster("cli-count") as c:
        edge = c.start_edge("A")
        for i in range(2):
            c.start_worker(edge, "echo-%d" % i, "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 2)
        result = cli(["submit", "--edge", edge.frontend, "--service", "echo", "--count", "500", "x"])
        check(result.returncode == 0 and result.stdout.startswith(b"500 ok, 0 failed"),
              "got %d %r" % (result.returncode, result.stdout))


def test_bad_arguments_are_one_line_exit_2():
    for args, expected in ((["submit", "x"], b"spillway submit: missing --edge\n"),
                           (["nosuch"], None), (["worker", "--edge", "tcp//x", "--echo"], None),
                           (["worker", "--edge", "tcp://127.0.0.1:1", "--echo", "--slots", "0"], None),
                           (["worker", "--edge", "tcp://127.0.0.1:1", "--echo", "--slots", "257"], None),
                           (["worker", "--edge", "tcp://127.0.0.1:1", "--exec", "cat", "--slots", "x"],
                            None)):
        result = cli(args)
        check(result.returncode == 2, "%r should exit 2, got %d" % (args, result.returncode))
        check(result.stderr.count(b"\n") == 1, "%r: expected one line, got %r" % (args, result.stderr))
        if expected:
            check(result.stderr == expected, "%r: got %r" % (args, result.stderr))


def test_check_config_accepts_the_example_and_reports_errors():
    for example in ("edge.yaml", "hub.yaml"):
        result = cli(["check-config", os.path.join(SOURCE, "config", example)])
        check(result.returncode == 0 and result.stdout.endswith(b": ok\n"),
              "config/%s: got %r %r" % (example, result.stdout, result.stderr))
    with Cluster("cli-config") as c:
        path = os.path.join(c.dir, "edge.yaml")
        with open(path, "w") as f:
            f.write("name: a\nqueue_max: lots\n")
        result = cli(["check-config", path])
        expected = ("%s:2:12: 'queue_max' must be an integer, got 'lots'\n" % path).encode()
        check(result.returncode == 1 and result.stderr == expected,
              "got %d %r" % (result.returncode, result.stderr))


def test_help_and_version():
    result = cli(["--version"])
    check(result.returncode == 0 and result.stdout.startswith(b"spillway "), "got %r" % result.stdout)
    result = cli(["--help"])
    check(result.returncode == 0 and b"submit" in result.stdout, "got %r" % result.stdout)


def test_exec_worker_with_slots_runs_that_many_commands_at_once():
    with Cluster("cli-slots") as c:
        edge = c.start_edge("A", "--heartbeat-ms", "200")
        worker = c.start_worker(edge, "exec-slots", "--service", "job", "--slots", "4",
                                "--heartbeat-ms", "200", "--exec", "sleep 0.6; cat")
        c.wait_for("four free slots", lambda: c.stats(edge)["services"]
                   .get("job", {}).get("idle") == "4")
        client = c.client(edge)
        started = time.monotonic()
        requests = {client.send([b"t%d" % i], service="job", timeout_ms=10000): b"t%d" % i
                    for i in range(4)}
        for _ in requests:
            reply = client.recv(5)
            check(reply is not None and reply[1] == "ok" and reply[2] == [requests[reply[0]]],
                  "reply: %r" % (reply,))
        took = time.monotonic() - started
        # One at a time they would take 2.4 s; at once, about 0.6 s.
        check(took < 1.8, "four 0.6 s commands took %.2f s" % took)
        # A stop while commands run kills them and exits 0.
        client.send([b"long"], service="job", timeout_ms=10000)
        c.wait_for("a command running", lambda: c.stats(edge)["services"]["job"]["idle"] == "3")
        c.stop(worker)
        client.close()


run([
    test_submit_prints_the_reply_of_an_exec_worker,
    test_submit_reads_stdin_with_dash,
    test_submit_exit_code_tells_the_status,
    test_submit_count_summarises_many_tasks,
    test_bad_arguments_are_one_line_exit_2,
    test_check_config_accepts_the_example_and_reports_errors,
    test_help_and_version,
    test_exec_worker_with_slots_runs_that_many_commands_at_once,
])
