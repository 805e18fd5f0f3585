"""The daemons under systemd, without needing systemd to run them: the units
pass systemd-analyze verify; READY, STATUS, WATCHDOG and STOPPING reach a
NOTIFY_SOCKET of the test's own; SIGHUP says that nothing can change at run
time and stops nothing; with stderr on the journal's stream (JOURNAL_STREAM)
a log line carries no timestamp of its own."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, EDGE_BIN, SOURCE, Cluster, check, run  # noqa: E402

HUB_BIN = os.path.join(BUILD, "hub", "spillway-hub")
UNITS = os.path.join(SOURCE, "deploy", "systemd")
ANALYZE = shutil.which("systemd-analyze")


def test_units_pass_systemd_analyze_verify():
    if not ANALYZE:
        print("    skipped: systemd-analyze is not installed (Debian's systemd package)")
        return
    with Cluster("units") as c:
        # verify wants the programs where ExecStart says: the build's here.
        for unit, program in (("spillway-hub.service", HUB_BIN),
                              ("spillway-edge@.service", EDGE_BIN)):
            with open(os.path.join(UNITS, unit)) as f:
                text = f.read()
            check("Type=notify" in text and "NoNewPrivileges=yes" in text
                  and "ProtectSystem=strict" in text and "DynamicUser=yes" in text,
                  "%s is not a hardened notify unit" % unit)
            name = os.path.basename(program)
            with open(os.path.join(c.dir, unit), "w") as f:
                f.write(text.replace("/usr/local/bin/" + name, program))
        result = subprocess.run([ANALYZE, "verify", os.path.join(c.dir, "spillway-hub.service"),
                                 os.path.join(c.dir, "spillway-edge@site-a.service")],
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 0 and not result.stderr.strip(),
              "systemd-analyze verify: %d %s" % (result.returncode, result.stderr))


class Notifications:
    """A NOTIFY_SOCKET: the datagrams a daemon sends to systemd."""

    def __init__(self, c):
        self.path = os.path.join(c.dir, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.1)
        self.seen = []

    def wait_for(self, c, pattern, what):
        def found():
            try:
                self.seen.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
            return next((m for m in self.seen if re.search(pattern, m)), None)
        return c.wait_for(what, found, timeout=10)

    def close(self):
        self.sock.close()


def start_notifying(c, label, argv, env_extra):
    log_path = os.path.join(c.dir, label + ".log")
    log = open(log_path, "wb")
    env = dict(os.environ, **env_extra)
    proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env)
    log.close()
    return proc, log_path


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def test_hub_and_edge_tell_systemd_how_they_are():
    with Cluster("notify") as c:
        notes = Notifications(c)
        env = {"NOTIFY_SOCKET": notes.path, "WATCHDOG_USEC": "400000"}
        control, state = c.endpoint("hub-control"), c.endpoint("hub-state")
        hub, hub_log = start_notifying(c, "hub", [HUB_BIN, "--control", control, "--state", state,
                                                  "--heartbeat-ms", "100"], env)
        try:
            notes.wait_for(c, r"READY=1", "the hub's READY")
            notes.wait_for(c, r"STATUS=serving: 0 edges alive", "the hub's STATUS")
            notes.wait_for(c, r"WATCHDOG=1", "the hub's watchdog ping")
            hub.send_signal(signal.SIGHUP)
            c.wait_for("the hub to refuse the reload",
                       lambda: "event=reload_refused" in open(hub_log).read())
            notes.seen = []
            notes.wait_for(c, r"STATUS=serving", "a STATUS after the SIGHUP")
            check(hub.poll() is None, "SIGHUP stopped the hub")
            notes.seen = []
            edge, _ = start_notifying(c, "edge", [EDGE_BIN, "--name", "A", "--frontend",
                                                  c.endpoint("fe"), "--backend", c.endpoint("be"),
                                                  "--cloud", c.endpoint("cloud"), "--hub", control,
                                                  "--heartbeat-ms", "100"], env)
            try:
                notes.wait_for(c, r"READY=1", "the edge's READY")
                notes.wait_for(c, r"STATUS=serving: 0 workers, 0 tasks, hub joined",
                               "the edge's STATUS once joined")
                edge.send_signal(signal.SIGTERM)
                notes.wait_for(c, r"STOPPING=1\nSTATUS=draining \(SIGTERM\)", "the edge's STOPPING")
                check(edge.wait(timeout=10) == 0, "the drained edge should exit 0")
            finally:
                stop(edge)
            hub.send_signal(signal.SIGTERM)
            notes.wait_for(c, r"STOPPING=1", "the hub's STOPPING")
            check(hub.wait(timeout=10) == 0, "the hub should exit 0 on SIGTERM")
        finally:
            stop(hub)
            notes.close()


def test_under_journald_a_line_has_no_timestamp_of_its_own():
    with Cluster("journal") as c:
        log_path = os.path.join(c.dir, "hub.log")
        with open(log_path, "wb") as log:
            st = os.fstat(log.fileno())
            env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
            hub = subprocess.Popen([HUB_BIN, "--control", c.endpoint("control"), "--state",
                                    c.endpoint("state")], stdout=log, stderr=log, env=env)
        try:
            c.wait_for("the hub's started line",
                       lambda: "event=started" in open(log_path).read())
        finally:
            hub.terminate()
            hub.wait(timeout=10)
        lines = [l for l in open(log_path).read().splitlines() if "event=" in l]
        check(lines and all(l.startswith("level=") for l in lines),
              "lines should start with level=, not a timestamp: %r" % lines[:3])


run([
    test_units_pass_systemd_analyze_verify,
    test_hub_and_edge_tell_systemd_how_they_are,
    test_under_journald_a_line_has_no_timestamp_of_its_own,
])
