"""CURVE on every link (docs/security.md): a cluster's keys from `spillway
keygen`, a hub and edges with curve_dir, and peers with and without the
right keys. Allowed keys are served on every link; unknown keys, wrong roles
and names, plaintext peers, a rogue hub and a rogue edge are refused, while
the brokers go on serving the legit ones."""

import json
import os
import subprocess
import sys

import zmq
import zmq.auth

sys.path.insert(0, os.path.dirname(__file__))
from harness import BUILD, CLI_BIN, Cluster, check, run  # noqa: E402

HUB_BIN = os.path.join(BUILD, "hub", "spillway-hub")
HEARTBEAT = ["--heartbeat-ms", "200"]


def cli(*args, timeout=20):
    return subprocess.run([CLI_BIN] + list(args), capture_output=True, text=True,
                          timeout=timeout)


def keygen(keys, name, role, *more):
    result = cli("keygen", name, "--role", role, "--dir", keys, *more)
    check(result.returncode == 0, "keygen %s: %s" % (name, result.stderr))


def cluster_keys(c, folder="keys"):
    """A keys folder with a hub, edges A and B, a client, an echo worker and
    an operator."""
    keys = os.path.join(c.dir, folder)
    keygen(keys, "hub", "hub")
    for edge in ("A", "B"):
        keygen(keys, edge, "edge")
    keygen(keys, "client", "client")
    keygen(keys, "worker", "worker", "--services", "echo")
    keygen(keys, "op", "operator")
    return keys


def start_hub(c, keys, label="hub"):
    control = c.endpoint(label + "-control")
    hub = c.start(label, [HUB_BIN, "--name", "hub", "--control", control,
                          "--state", c.endpoint(label + "-state"), "--curve-dir", keys]
                  + HEARTBEAT)
    hub.control = control
    return hub


def start_edge(c, keys, name, hub, *more, expect_clean=True):
    edge = c.start_edge(name, "--hub", hub.control, "--cloud", c.endpoint(name + "-cloud"),
                        "--curve-dir", keys, *(HEARTBEAT + list(more)))
    edge.expect_clean = expect_clean
    return edge


def submit(edge, keys, cert, data="hello", timeout="3000", server=None):
    args = ["submit", "--edge", edge.frontend, "--service", "echo", "--timeout", timeout]
    if cert:
        args += ["--cert", os.path.join(keys, cert + ".key"),
                 "--server-cert", os.path.join(keys, (server or edge.name) + ".key")]
    return cli(*(args + [data]))


def start_worker(c, edge, keys, cert="worker", service="echo", label="worker"):
    return c.start_worker(edge, label, "--service", service, "--echo",
                          "--cert", os.path.join(keys, cert + ".key"),
                          "--server-cert", os.path.join(keys, edge.name + ".key"))


def joined(c, edge):
    return "event=hub_joined" in c.log_tail(edge, 200)


def test_allowed_keys_are_served_on_every_link_and_others_refused():
    with Cluster("secure") as c:
        keys = cluster_keys(c)
        hub = start_hub(c, keys)
        a = start_edge(c, keys, "A", hub)
        b = start_edge(c, keys, "B", hub)
        a.name, b.name = "A", "B"
        start_worker(c, b, keys)
        c.wait_for("both edges to join", lambda: joined(c, a) and joined(c, b))
        # Client -> A, lent to B's worker over the cloud link: every link secured.
        result = c.wait_for("a task through A to B's worker",
                            lambda: (lambda r: r if r.returncode == 0 else None)(
                                submit(a, keys, "client")))
        check(result.stdout.strip() == "hello", "got %r" % result.stdout)
        # A key the allow-list does not hold: the handshake is refused.
        stranger_keys = os.path.join(c.dir, "strangers")
        keygen(stranger_keys, "client", "client")
        stranger = cli("submit", "--edge", a.frontend, "--service", "echo", "--timeout", "500",
                       "--cert", os.path.join(stranger_keys, "client.key"),
                       "--server-cert", os.path.join(keys, "A.key"), "x")
        check(stranger.returncode == 4, "an unknown key got %d %r" % (stranger.returncode,
                                                                      stranger.stderr))
        # The edge never hears from it, but says whom it refused, once.
        stranger_key = zmq.auth.load_certificate(os.path.join(stranger_keys, "client.key"))[0]
        c.wait_for("the edge to log the refused key",
                   lambda: ("event=handshake_refused key=%s" % stranger_key.decode())
                   in c.log_tail(a, 200))
        plain = submit(a, keys, None, timeout="500")
        check(plain.returncode == 4, "a plaintext client got %d" % plain.returncode)
        # A known key in the wrong role: told so at once.
        wrong = submit(a, keys, "worker")
        check(wrong.returncode == 11 and "forbidden" in wrong.stderr,
              "a worker's key as a client got %d %r" % (wrong.returncode, wrong.stderr))
        check("is no client" in c.log_tail(a), "the refused key was not logged")
        stats = cli("submit", "--edge", a.frontend, "--service", "spillway.stats", "--cert",
                    os.path.join(keys, "client.key"), "--server-cert", os.path.join(keys, "A.key"),
                    "x").stdout
        check(" handshakes_refused=0 " not in stats and "handshakes_refused=" in stats
              and " forbidden=0 " not in stats, "the refusals are not counted: %s" % stats[:300])
        # A worker's key for a service it does not list is refused.
        start_worker(c, a, keys, service="other", label="worker-other")
        c.wait_for("the edge to refuse the worker",
                   lambda: "no worker of this service" in c.log_tail(a, 100))
        # The hub's status is for operators.
        status = cli("status", "--hub", hub.control, "--cert", os.path.join(keys, "op.key"),
                     "--server-cert", os.path.join(keys, "hub.key"))
        check(status.returncode == 0 and "alive" in status.stdout, "status: %r" % status.stderr)
        denied = cli("status", "--hub", hub.control, "--cert", os.path.join(keys, "client.key"),
                     "--server-cert", os.path.join(keys, "hub.key"))
        check(denied.returncode == 1 and "forbidden" in denied.stderr,
              "a client's status: %d %r" % (denied.returncode, denied.stderr))
        # The hub's state socket takes an edge's state from that edge's key only.
        hub_forbidden = lambda: json.loads(cli(  # noqa: E731
            "status", "--hub", hub.control, "--json", "--cert", os.path.join(keys, "op.key"),
            "--server-cert", os.path.join(keys, "hub.key")).stdout)["counters"]["forbidden"]
        before = hub_forbidden()
        pub = c.ctx.socket(zmq.PUB)
        pub.linger = 0
        pub.curve_publickey, pub.curve_secretkey = zmq.auth.load_certificate(
            os.path.join(keys, "worker.key_secret"))
        pub.curve_serverkey = zmq.auth.load_certificate(os.path.join(keys, "hub.key"))[0]
        pub.connect(c.endpoint("hub-state"))
        forged = [b"SPW2", b"\x26", b"B", b"\0" * 8, b"\0" * 8, b"\0" * 8, b""]

        def refused():
            pub.send_multipart(forged)
            return hub_forbidden() > before
        c.wait_for("the hub to refuse a worker's key publishing B's state", refused)
        pub.close()
        # And the legit keep being served.
        again = submit(a, keys, "client", data="again")
        check(again.returncode == 0 and again.stdout.strip() == "again", "then %r" % again.stderr)


def test_a_rogue_hub_and_a_rogue_edge_are_refused():
    with Cluster("rogue") as c:
        keys = cluster_keys(c)
        rogue_keys = cluster_keys(c, "rogue")  # another cluster's keys, same names
        # A hub with a key the edges do not know: they never register.
        rogue_hub = start_hub(c, rogue_keys, label="rogue-hub")
        a = start_edge(c, keys, "A", rogue_hub)
        a.name = "A"
        hub = start_hub(c, keys)
        b = start_edge(c, keys, "B", hub)
        c.wait_for("the real hub's edge to join", lambda: joined(c, b))
        check(not joined(c, a), "an edge registered with a hub of another key")
        check("edge_joined" not in c.log_tail(rogue_hub), "the rogue hub admitted an edge")
        # An edge of another cluster's keys: the hub admits no such key.
        keygen(rogue_keys, "C", "edge")
        rogue_edge = start_edge(c, rogue_keys, "C", hub)
        # An edge running as D with C's key: refused, and it stops.
        keygen(keys, "C", "edge")
        for suffix in (".key", ".key_secret"):
            with open(os.path.join(keys, "C" + suffix), "rb") as src, \
                    open(os.path.join(keys, "D" + suffix), "wb") as dst:
                dst.write(src.read())
        liar = start_edge(c, keys, "D", hub, expect_clean=False)
        c.wait_for("the liar to stop", lambda: liar.poll() is not None)
        check(liar.returncode == 1, "an edge under another key's name exited %s" % liar.returncode)
        check("is no edge named D" in c.log_tail(hub), "the hub did not say why")
        check(not joined(c, rogue_edge), "an edge of unknown key joined")
        check("name=C" not in c.log_tail(hub, 200), "the hub saw the rogue edge register")


def test_one_keys_workers_offer_at_most_max_key_slots():
    with Cluster("keyslots") as c:
        keys = cluster_keys(c)
        hub = start_hub(c, keys)
        a = start_edge(c, keys, "A", hub, "--max-key-slots", "3")
        a.name = "A"
        first = c.start_worker(a, "worker-1", "--service", "echo", "--echo", "--slots", "2",
                               "--cert", os.path.join(keys, "worker.key"),
                               "--server-cert", os.path.join(keys, "A.key"))
        c.wait_for("the first worker's 2 slots", lambda: "event=worker_ready" in c.log_tail(a))
        second = c.start_worker(a, "worker-2", "--service", "echo", "--echo", "--slots", "2",
                                "--cert", os.path.join(keys, "worker.key"),
                                "--server-cert", os.path.join(keys, "A.key"))
        c.wait_for("the second to be refused: 4 slots of one key",
                   lambda: "offer max_key_slots slots here" in c.log_tail(second))
        served = submit(a, keys, "client")
        check(served.returncode == 0, "the first worker stopped serving: %r" % served.stderr)
        c.stop(second)
        c.stop(first)


def test_only_an_operator_may_drain_an_edge():
    with Cluster("drain-key") as c:
        keys = cluster_keys(c)
        hub = start_hub(c, keys)
        a = start_edge(c, keys, "A", hub)
        a.name = "A"
        flags = ["--server-cert", os.path.join(keys, "A.key")]
        refused = cli("drain", "--edge", a.frontend, "--cert", os.path.join(keys, "client.key"),
                      *flags)
        check(refused.returncode == 1 and "forbidden" in refused.stderr,
              "a client's drain: %d %r" % (refused.returncode, refused.stderr))
        check(a.poll() is None, "a client's key drained the edge")
        drained = cli("drain", "--edge", a.frontend, "--cert", os.path.join(keys, "op.key"),
                      *flags)
        check(drained.returncode == 0 and "draining" in drained.stdout,
              "an operator's drain: %d %r" % (drained.returncode, drained.stderr))
        check(a.wait(10) == 0, "the drained edge exited %s" % a.returncode)


def test_keygen_checks_its_arguments():
    with Cluster("keygen") as c:
        keys = os.path.join(c.dir, "keys")
        keygen(keys, "A", "edge")
        again = cli("keygen", "A", "--role", "edge", "--dir", keys)
        check(again.returncode == 1 and "exists" in again.stderr, "overwrote: %r" % again.stderr)
        for args in (["B"], ["B", "--role", "king"], ["bad name", "--role", "edge"]):
            bad = cli("keygen", *args, "--dir", keys)
            check(bad.returncode == 2, "keygen %r exited %d" % (args, bad.returncode))
        with open(os.path.join(keys, "A.key_secret")) as f:
            check("secret-key" in f.read(), "no secret key written")
        check(oct(os.stat(os.path.join(keys, "A.key_secret")).st_mode & 0o777) == "0o600",
              "the secret key is readable by others")
        # An edge whose keys are missing says so and exits 1.
        missing = subprocess.run([os.path.join(BUILD, "edge", "spillway-edge"), "--name", "Z",
                                  "--frontend", c.endpoint("z-fe"), "--backend",
                                  c.endpoint("z-be"), "--curve-dir", keys],
                                 capture_output=True, text=True, timeout=10)
        check(missing.returncode == 1 and "Z.key_secret" in missing.stderr,
              "an edge without its key: %d %r" % (missing.returncode, missing.stderr))


run([
    test_allowed_keys_are_served_on_every_link_and_others_refused,
    test_a_rogue_hub_and_a_rogue_edge_are_refused,
    test_one_keys_workers_offer_at_most_max_key_slots,
    test_only_an_operator_may_drain_an_edge,
    test_keygen_checks_its_arguments,
])
