"""Every resource a peer can take is bounded, and the broker serves on:
connections per bound socket (max_connections, under the open-file limit),
the hub's status (operators, bounded size, bounded rate)."""

import resource

import zmq

from harness import EDGE_BIN, Cluster, check, run


def raise_own_file_limit(files):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < files:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(files, hard), hard))


def flood(endpoint, count):
    """count connections to endpoint, in a context of their own."""
    ctx = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, count + 16)
    sockets = []
    for _ in range(count):
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        s.connect(endpoint)
        sockets.append(s)
    return ctx, sockets


def test_connections_past_the_limit_are_refused_and_the_edge_serves_on():
    raise_own_file_limit(4096)
    with Cluster("connections") as c:
        fe, be = c.endpoint("A-fe"), c.endpoint("A-be")
        # Files for 256: more connections than that would abort an edge
        # whose libzmq accepted them all on ipc://.
        edge = c.start("edge-A", ["prlimit", "--nofile=256:256", EDGE_BIN, "--name", "A",
                                  "--frontend", fe, "--backend", be, "--max-connections", "20"])
        edge.frontend, edge.backend = fe, be
        c.start_worker(edge, "worker", "--echo")
        c.wait_idle_workers(edge, "default", 1)
        served = c.client(edge)
        check(served.call([b"before"])[0] == "ok", "not served before the flood")
        ctx, sockets = flood(fe, 400)
        try:
            c.wait_for("connections to be refused",
                       lambda: int(c.stats(edge, client=served)["edge"]["connections_refused"]) > 0)
            for i in range(20):
                status, frames = served.call([b"%d" % i], timeout=5)
                check(status == "ok" and frames == [b"%d" % i], "a served client got %s" % status)
                figures = c.stats(edge, client=served)["edge"]
                # frontend at most 20, and the worker's one on the backend
                check(int(figures["connections"]) <= 21, "connections: %s" % figures["connections"])
            check(edge.poll() is None, "the edge died under the flood")
            check("event=connection_refused socket=frontend" in c.log_tail(edge),
                  "the refusal was not logged")
        finally:
            ctx.destroy(linger=0)
        c.wait_for("the flood's connections to be gone",
                   lambda: int(c.stats(edge, client=served)["edge"]["connections"]) <= 2)
        later = c.client(edge)
        check(later.call([b"after"])[0] == "ok", "a new client is not served after the flood")
        later.close()
        served.close()


run([
    test_connections_past_the_limit_are_refused_and_the_edge_serves_on,
])
