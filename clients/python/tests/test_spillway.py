"""The Python package against real edges (unittest; the programs come from
SPW_BUILD_DIR, the package from this source tree). What every
implementation must do is in tests/conformance; this is what is Python's
own: the blocking and asyncio styles, handlers plain and coroutine,
reconnection, the graceful stop and `python3 -m spillway`."""

import asyncio
import os
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("SPW_SOURCE_ROOT", os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))

import harness  # noqa: E402
import spillway  # noqa: E402

PACKAGE_ENV = dict(os.environ, PYTHONPATH=os.path.join(HERE, ".."))


def python_cli(*args, **kwargs):
    return subprocess.run(["/usr/bin/python3", "-m", "spillway", *args], env=PACKAGE_ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, **kwargs)


class Base(unittest.TestCase):
    def setUp(self):
        self.cluster = harness.Cluster("py-" + self._testMethodName[5:17])
        self.cluster.__enter__()
        self.workers = []

    def tearDown(self):
        for worker in self.workers:
            worker.stop(timeout=1)
        self.cluster.__exit__(None, None, None)

    def edge(self, name="A", *args):
        return self.cluster.start_edge(name, "--heartbeat-ms", "200", *args)

    def worker(self, edge, service, handler, **kwargs):
        worker = spillway.Worker(edge.backend, service, handler, **kwargs).start()
        self.workers.append(worker)
        self.assertTrue(worker.accepted.wait(5), "the edge did not accept the worker")
        return worker


class BlockingClient(Base):
    def test_submit_returns_the_body_and_raises_each_status(self):
        a = self.edge()
        self.cluster.start_worker(a, "echo", "--service", "echo", "--echo")
        self.cluster.wait_idle_workers(a, "echo", 1)
        self.worker(a, "fail", lambda body: 1 / 0)
        with spillway.Client([a.frontend]) as client:
            self.assertEqual(client.submit("echo", b"hello", timeout=5), b"hello")
            self.assertEqual(client.submit("echo", "naïve", timeout=5), "naïve".encode())
            self.assertEqual(client.submit_frames("echo", [b"a", b"", "c"], timeout=5),
                             [b"a", b"", b"c"])
            with self.assertRaises(spillway.NoService) as caught:
                client.submit("nothing", b"x", timeout=5)
            self.assertEqual((caught.exception.code, caught.exception.status),
                             (1, "no-service"))
            self.assertIn("nothing", caught.exception.text)
            with self.assertRaises(spillway.TaskError) as caught:
                client.submit("fail", b"x", timeout=5)
            self.assertIn("division by zero", caught.exception.text)
            #  A timeout is also Python's TimeoutError.
            self.worker(a, "hold", lambda body: time.sleep(3))
            started = time.monotonic()
            with self.assertRaises(TimeoutError):
                client.submit("hold", b"x", timeout=0.3)
            self.assertLess(time.monotonic() - started, 2.0)

    def test_bad_arguments_raise_before_anything_is_sent(self):
        a = self.edge()
        with spillway.Client(a.frontend) as client:
            for call, error in ((lambda: client.submit("bad name", b"x"), ValueError),
                                (lambda: client.submit("x" * 65, b"x"), ValueError),
                                (lambda: client.submit(7, b"x"), TypeError),
                                (lambda: client.submit("echo", 42), TypeError),
                                (lambda: client.submit("echo", b"x", timeout=0), ValueError),
                                (lambda: client.submit("echo", b"x", timeout="1"), TypeError),
                                (lambda: client.submit_frames("echo", [b"x"] * 17), ValueError),
                                (lambda: client.submit_many("echo", [b"x"], window=0),
                                 ValueError)):
                with self.assertRaises(error):
                    call()
            self.assertEqual(client.outstanding, 0)
        self.assertEqual(self.cluster.stats(a)["edge"]["accepted"], "0")
        for edges in ([], ["localhost:5555"], ["tcp://127.0.0.1:1"] * 17):
            with self.assertRaises(ValueError):
                spillway.Client(edges)

    def test_submit_many_keeps_order_and_returns_errors_in_place(self):
        a = self.edge()

        def handler(body):
            if body == b"bad":
                raise ValueError("bad body")
            return body.upper()

        self.worker(a, "up", handler, slots=4)
        bodies = [b"task%d" % i if i % 50 else b"bad" for i in range(300)]
        with spillway.Client(a.frontend) as client:
            results = client.submit_many("up", bodies, timeout=10, window=32)
        for body, result in zip(bodies, results):
            if body == b"bad":
                self.assertIsInstance(result, spillway.TaskError)
            else:
                self.assertEqual(result, body.upper())

    def test_send_and_recv_match_replies_by_id(self):
        a = self.edge()
        self.worker(a, "slow", lambda body: time.sleep(float(body)) or body, slots=2)
        with spillway.Client(a.frontend) as client:
            slow = client.send("slow", b"0.4", timeout=5)
            fast = client.send("slow", b"0", timeout=5)
            first, second = client.recv(5), client.recv(5)
            self.assertEqual((first.request_id, second.request_id), (fast, slow))
            self.assertTrue(first.ok and second.ok)
            self.assertIsNone(client.recv(0.05))


class Async(Base):
    def test_many_coroutines_share_one_client_and_cancelling_forgets(self):
        a = self.edge()

        async def handler(body):
            await asyncio.sleep(0.05)
            return body[::-1]

        self.worker(a, "rev", handler, slots=16)
        self.worker(a, "hold", lambda body: time.sleep(2))

        async def main():
            async with spillway.AsyncClient([a.frontend]) as client:
                started = time.monotonic()
                replies = await asyncio.gather(*(client.submit("rev", b"ab%d" % i, timeout=5)
                                                 for i in range(64)))
                took = time.monotonic() - started
                self.assertEqual(replies, [(b"ab%d" % i)[::-1] for i in range(64)])
                self.assertLess(took, 1.5, "64 tasks of 50 ms on 16 slots")
                with self.assertRaises(asyncio.TimeoutError):
                    await asyncio.wait_for(client.submit("hold", b"x", timeout=5), 0.2)
                self.assertEqual(client.outstanding, 0, "a cancelled call was kept")
                results = await client.submit_many("rev", [b"x", b"y"], window=1)
                self.assertEqual(results, [b"x", b"y"])
                with self.assertRaises(spillway.NoService):
                    await client.submit("nothing", b"x")

        asyncio.run(main())


class Workers(Base):
    def test_frames_handler_gets_and_returns_every_frame(self):
        a = self.edge()
        self.worker(a, "swap", lambda frames: frames[::-1], frames=True)
        with spillway.Client(a.frontend) as client:
            self.assertEqual(client.submit_frames("swap", [b"1", b"2", b"3"], timeout=5),
                             [b"3", b"2", b"1"])

    def test_worker_comes_back_after_its_edge_restarts(self):
        a = self.edge()
        worker = self.worker(a, "echo", lambda body: body)
        with spillway.Client(a.frontend) as client:
            self.assertEqual(client.submit("echo", b"one", timeout=5), b"one")
        self.cluster.kill(a)
        a = self.edge()
        with spillway.Client(a.frontend) as client:
            self.cluster.wait_idle_workers(a, "echo", 1, timeout=10)
            self.assertEqual(client.submit("echo", b"two", timeout=5), b"two")
        self.assertGreaterEqual(worker.reconnects, 1)

    def test_stop_finishes_running_tasks_then_says_disconnect(self):
        a = self.edge()
        started = threading.Event()

        def handler(body):
            started.set()
            time.sleep(0.4)
            return b"finished " + body

        worker = self.worker(a, "job", handler)
        with spillway.Client(a.frontend) as client:
            request = client.send("job", b"it", timeout=5)
            self.assertTrue(started.wait(5))
            worker.stop(timeout=5)
            reply = client.recv(5)
            self.assertEqual((reply.request_id, reply.status, reply.body),
                             (request, 0, b"finished it"))
        stats = self.cluster.wait_for("the worker gone", lambda: (
            lambda s: s if s["edge"]["workers"] == "0" else None)(self.cluster.stats(a)), 5)
        self.assertEqual(stats["edge"]["workers_lost"], "1")


class CommandLine(Base):
    def test_python_m_spillway_submit_and_worker_mirror_the_cli(self):
        a = self.edge()
        worker = subprocess.Popen(["/usr/bin/python3", "-m", "spillway", "worker", "--edge",
                                   a.backend, "--service", "up", "--exec", "tr a-z A-Z",
                                   "--slots", "2"], env=PACKAGE_ENV)
        try:
            self.cluster.wait_idle_workers(a, "up", 1)
            done = python_cli("submit", "--edge", a.frontend, "--service", "up", "hello")
            self.assertEqual((done.returncode, done.stdout), (0, b"HELLO\n"))
            done = python_cli("submit", "--edge", a.frontend, "--service", "up", "-",
                              input=b"from stdin")
            self.assertEqual(done.stdout, b"FROM STDIN\n")
            done = python_cli("submit", "--edge", a.frontend, "--service", "up", "--count",
                              "20", "x")
            self.assertEqual(done.returncode, 0)
            self.assertIn(b"20 ok, 0 failed", done.stdout)
            done = python_cli("submit", "--edge", a.frontend, "--service", "none", "x")
            self.assertEqual(done.returncode, 3, done.stderr)
            self.assertIn(b"no-service", done.stderr)
            done = python_cli("submit", "--edge", a.frontend, "--service", "bad name", "x")
            self.assertEqual(done.returncode, 2)
            done = python_cli("submit", "--edge", "nowhere", "x")
            self.assertEqual(done.returncode, 2)
        finally:
            worker.terminate()
            self.assertEqual(worker.wait(10), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
