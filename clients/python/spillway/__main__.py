"""python3 -m spillway submit|worker|bench: the CLI's commands, in Python.

``submit`` and ``worker`` take the flags of ``spillway submit`` and
``spillway worker`` and exit with the same codes; ``bench`` measures this package against pyzmq's
raw round trip and the C client (spillway/bench.py).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time

from . import Client, SpillwayError, Worker
from .errors import Timeout

#  Exit codes, as `spillway submit`'s: a status's code + 2; 1 and 2 as below.
EXIT_UNREACHABLE, EXIT_USAGE = 1, 2


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _curve_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cert", help="this peer's CURVE certificate (FILE_secret is read too)")
    p.add_argument("--server-cert", help="the server's public certificate; with several "
                                         "edges, one per edge: FILE1,FILE2")


def submit(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read() if args.data == "-" else args.data.encode()
    try:
        client = Client(args.edge, cert=args.cert, server_cert=args.server_cert)
    except ValueError as error:
        print("submit: %s" % error, file=sys.stderr)
        return EXIT_USAGE
    with client:
        if args.count == 1:
            try:
                reply = client.submit(args.service, data, timeout=args.timeout / 1000)
            except Timeout as error:
                print("submit: %s" % error, file=sys.stderr)
                return error.code + 2
            except SpillwayError as error:
                print("submit: %s" % error, file=sys.stderr)
                return error.code + 2 if error.code >= 0 else EXIT_UNREACHABLE
            except ValueError as error:
                print("submit: %s" % error, file=sys.stderr)
                return EXIT_USAGE
            sys.stdout.buffer.write(reply)
            if not reply.endswith(b"\n"):
                sys.stdout.buffer.write(b"\n")
            return 0
        started = time.monotonic()
        results = client.submit_many(args.service, [data] * args.count,
                                     timeout=args.timeout / 1000, window=min(args.count, 1024))
        took = time.monotonic() - started
        failures = [r for r in results if isinstance(r, SpillwayError)]
        print("%d ok, %d failed in %.3fs (%.0f/s)" % (len(results) - len(failures),
                                                     len(failures), took,
                                                     len(results) / took if took else 0))
        return failures[0].code + 2 if failures else 0


def worker(args: argparse.Namespace) -> int:
    if args.echo:
        def handler(body: bytes) -> bytes:
            return body
    else:
        def handler(body: bytes) -> bytes:
            done = subprocess.run(["/bin/sh", "-c", args.exec], input=body,
                                  stdout=subprocess.PIPE)
            if done.returncode != 0:
                raise RuntimeError("command exited with status %d" % done.returncode)
            return done.stdout
    try:
        served = Worker(args.edge, args.service, handler, slots=args.slots,
                        heartbeat=args.heartbeat_ms / 1000, cert=args.cert,
                        server_cert=args.server_cert)
    except ValueError as error:
        print("worker: %s" % error, file=sys.stderr)
        return EXIT_USAGE
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: served.stop())
    served.start()
    while served._thread is not None and served._thread.is_alive():
        served._thread.join(0.2)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m spillway",
                                     description="Spillway's client and worker in Python.")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("submit", help="send a task to an edge and print its reply",
                            epilog="exit codes: 0 ok, 3 no-service, 4 timeout, 5 overloaded, "
                                   "6 failed, 7 bad-request, 8 task-error, 9 busy, "
                                   "10 too-large, 11 forbidden; 1 could not talk to the edge, "
                                   "2 bad arguments")
    p.add_argument("--edge", required=True, help="the edge's frontend, or EP1,EP2,... (failover)")
    p.add_argument("--service", default="default", help="the service (default: 'default')")
    p.add_argument("--timeout", type=_positive, default=10000,
                   help="the task's deadline in ms (default 10000)")
    p.add_argument("--count", type=_positive, default=1,
                   help="send N copies at once and print a summary line")
    _curve_flags(p)
    p.add_argument("data", help="the task's body, or - for standard input")
    p.set_defaults(run=submit)

    p = commands.add_parser("worker", help="serve a service at an edge")
    p.add_argument("--edge", required=True, help="the edge's backend")
    p.add_argument("--service", default="default", help="the service offered")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--exec", help="run /bin/sh -c CMD per task: body in, reply out")
    what.add_argument("--echo", action="store_true", help="answer each task with its body")
    p.add_argument("--slots", type=_positive, default=1, help="tasks at once, 1 to 256")
    p.add_argument("--heartbeat-ms", type=_positive, default=1000,
                   help="heartbeat interval until the edge says its own (default 1000)")
    _curve_flags(p)
    p.set_defaults(run=worker)

    p = commands.add_parser("bench", help="this package's rate against pyzmq's raw round "
                                          "trip and the C client")
    from . import bench
    bench.add_arguments(p)
    p.set_defaults(run=bench.run)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
