"""`spillway bench` against a real edge: its live lines, its summary, its
checking of replies and its exit codes."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import CLI_BIN, Cluster, check, run  # noqa: E402

LIVE_LINE = re.compile(r"^t=\d+s done=\d+ rate=\d+/s in-flight=\d+ queued=(\d+|\?) "
                       r"p50=(-|[\d.]+ms) p99=(-|[\d.]+ms) errors=\d+$")
SUMMARY = re.compile(r"^total: sent=(\d+) done=(\d+) errors=(\d+)( \([^)]*\))? "
                     r"rate=\d+/s p50=(-|[\d.]+ms) p99=(-|[\d.]+ms)$")


def bench(args, timeout=60):
    return subprocess.run([CLI_BIN, "bench"] + args, capture_output=True, timeout=timeout)


def lines_of(result):
    return result.stdout.decode("utf-8", "replace").splitlines()


def summary_of(result):
    found = [SUMMARY.match(line) for line in lines_of(result)]
    found = [m for m in found if m]
    check(len(found) == 1, "expected one summary line, got:\n%s" % result.stdout.decode())
    return found[0]


def test_bench_prints_a_line_a_second_and_a_clean_summary():
    with Cluster("bench") as c:
        edge = c.start_edge("A")
        for i in range(2):
            c.start_worker(edge, "echo-%d" % i, "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 2)
        result = bench(["--edge", edge.frontend, "--service", "echo", "--duration", "2",
                        "--clients", "2"])
        check(result.returncode == 0, "bench exited %d: %r %r"
              % (result.returncode, result.stdout[-500:], result.stderr))
        live = [line for line in lines_of(result) if LIVE_LINE.match(line)]
        check(len(live) >= 2, "expected at least 2 live lines, got:\n%s" % result.stdout.decode())
        summary = summary_of(result)
        sent, done, errors = (int(summary.group(i)) for i in (1, 2, 3))
        check(errors == 0 and sent == done and done > 0,
              "expected every task done without error, got %r" % summary.group(0))


def test_bench_expect_upper_accepts_an_upper_casing_worker_and_no_other():
    with Cluster("bench-upper") as c:
        edge = c.start_edge("A")
        c.start_worker(edge, "upper", "--service", "upper", "--exec", "tr a-z A-Z")
        c.start_worker(edge, "echo", "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "upper", 1)
        c.wait_idle_workers(edge, "echo", 1)
        result = bench(["--edge", edge.frontend, "--service", "upper", "--duration", "1",
                        "--clients", "1", "--window", "2", "--expect-upper", "--quiet"])
        check(result.returncode == 0 and int(summary_of(result).group(3)) == 0,
              "upper-casing worker: got %d %r" % (result.returncode, result.stdout))
        result = bench(["--edge", edge.frontend, "--service", "echo", "--duration", "1",
                        "--clients", "1", "--expect-upper", "--quiet"])
        check(result.returncode == 1 and b"mismatch=" in result.stdout,
              "echo worker with --expect-upper should fail with mismatches, got %d %r"
              % (result.returncode, result.stdout))


def test_bench_counts_error_replies_and_exits_1():
    with Cluster("bench-errors") as c:
        edge = c.start_edge("A")
        result = bench(["--edge", edge.frontend, "--service", "nobody", "--duration", "1",
                        "--rate", "50", "--quiet"])
        summary = summary_of(result)
        check(result.returncode == 1 and int(summary.group(3)) > 0
              and "no-service=" in summary.group(0),
              "expected no-service errors and exit 1, got %d %r"
              % (result.returncode, result.stdout))


def test_bench_rate_limits_the_sends():
    with Cluster("bench-rate") as c:
        edge = c.start_edge("A")
        c.start_worker(edge, "echo", "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 1)
        result = bench(["--edge", edge.frontend, "--service", "echo", "--duration", "2",
                        "--rate", "100", "--quiet"])
        sent = int(summary_of(result).group(1))
        check(result.returncode == 0 and 150 <= sent <= 250,
              "expected about 200 tasks at 100/s for 2s, got %d (exit %d)"
              % (sent, result.returncode))


def test_bench_stops_cleanly_on_sigint_with_a_summary():
    with Cluster("bench-sigint") as c:
        edge = c.start_edge("A")
        c.start_worker(edge, "echo", "--service", "echo", "--echo")
        c.wait_idle_workers(edge, "echo", 1)
        proc = subprocess.Popen([CLI_BIN, "bench", "--edge", edge.frontend, "--service", "echo",
                                 "--duration", "60"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        time.sleep(1.5)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        check(time.monotonic() - started < 5, "bench took too long to stop after SIGINT")
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        summary = summary_of(result)
        check(proc.returncode == 0 and int(summary.group(3)) == 0,
              "expected a clean stop, got %d %r %r" % (proc.returncode, summary.group(0), err))


def test_bench_bad_arguments_are_one_line_exit_2():
    for args in (["--service", "echo"], ["--edge", "nowhere"], ["--edge", "ipc://x", "--clients", "0"],
                 ["--edge", "ipc://x", "--rate", "fast"], ["--edge", "ipc://x", "--duration", "0"],
                 ["--edge", "ipc://x", "--expect-upper", "--no-check"], ["--edge", "ipc://x", "extra"]):
        result = bench(args)
        check(result.returncode == 2, "%r should exit 2, got %d" % (args, result.returncode))
        check(result.stderr.count(b"\n") == 1 and result.stderr.startswith(b"spillway bench: "),
              "%r: expected one line, got %r" % (args, result.stderr))


run([
    test_bench_prints_a_line_a_second_and_a_clean_summary,
    test_bench_expect_upper_accepts_an_upper_casing_worker_and_no_other,
    test_bench_counts_error_replies_and_exits_1,
    test_bench_rate_limits_the_sends,
    test_bench_stops_cleanly_on_sigint_with_a_summary,
    test_bench_bad_arguments_are_one_line_exit_2,
])
