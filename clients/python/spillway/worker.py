"""The native worker: serves one service at an edge with a handler.

The worker holds one DEALER to the edge's backend and says READY with its
service and slots; the edge answers ACCEPTED with the heartbeat, liveness
and slots it keeps, then sends up to ``slots`` tasks at once. The worker
runs a handler per task and answers each with RESULT, in any order. It
sends HEARTBEAT every heartbeat, while tasks run too; an edge silent for
liveness heartbeats is gone, and the worker reconnects on a new socket
and says READY again. An edge's DISCONNECT is obeyed: wait what it says
(a refusal repeated waits longer each time, from 100 ms up to 5 s), then
reconnect. Stopping is graceful: tasks running finish and are answered,
then DISCONNECT hands the edge back whatever had not started.
(docs/protocol.md, Worker ⇄ edge.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import threading
import time
from typing import Any, Awaitable, Callable, Union

import zmq
import zmq.asyncio

from . import protocol as proto

log = logging.getLogger("spillway.worker")

RECONNECT_MIN_MS = 100
RECONNECT_MAX_MS = 5000

Handler = Callable[[Any], Union[Any, Awaitable[Any]]]


class Worker:
    """A worker of ``service`` at the edge whose backend is ``edge``.

    ``handler`` takes a task's body and returns the reply: a plain function
    (run in a pool of ``slots`` threads) or a coroutine function (awaited
    on the worker's loop). It gets bytes (a body of several frames is
    joined) and returns bytes or str, unless ``frames`` is True: then it
    gets a list of frames and returns a list of frames. An exception it
    raises answers the task ``task-error`` with the exception's text.
    ``slots`` (1 to 256) is how many tasks it runs at once.

    ``cert`` and ``server_cert`` turn CURVE on (docs/security.md): this
    worker's certificate from ``spillway keygen`` (its ``_secret`` file is
    read too) and the edge's public one.

    Run it with :meth:`run` (blocks until :meth:`stop`), :meth:`start` (a
    background thread), or ``await worker.serve()`` inside asyncio.
    """

    def __init__(self, edge: str, service: str, handler: Handler, *, slots: int = 1,
                 frames: bool = False, heartbeat: float = 1.0,
                 context: zmq.Context | None = None, cert: str | None = None,
                 server_cert: str | None = None):
        if not isinstance(edge, str) or "://" not in edge:
            raise ValueError("bad edge endpoint %r: expected e.g. tcp://127.0.0.1:5556" % (edge,))
        self._service = proto.check_service(service)
        keys = proto.curve_keys(cert, server_cert, 1)
        self._curve = keys[0] if keys else None
        if not callable(handler):
            raise TypeError("handler must be callable")
        if isinstance(slots, bool) or not isinstance(slots, int) or not 1 <= slots <= proto.MAX_SLOTS:
            raise ValueError("slots must be 1 to %d, not %r" % (proto.MAX_SLOTS, slots))
        if not 0.01 <= heartbeat <= 60:
            raise ValueError("heartbeat must be 0.01 to 60 seconds")
        self.edge, self.service, self.slots = edge, service, slots
        self._handler, self._frames = handler, frames
        self._is_async = inspect.iscoroutinefunction(handler)
        self._heartbeat_ms = int(heartbeat * 1000)
        self._liveness = 3
        self._context = zmq.asyncio.Context.shadow((context or zmq.Context.instance()).underlying)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_requested = False
        self._thread: threading.Thread | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._started = threading.Event()
        #  What it did, for callers and tests.
        self.accepted = threading.Event()
        self.tasks_done = 0
        self.reconnects = 0
        self.max_message_bytes = 0

    # -- Running ---------------------------------------------------------------

    def run(self) -> None:
        """Serves until stop() (from another thread or a signal handler)."""
        asyncio.run(self.serve())

    def start(self) -> "Worker":
        """Serves on a background thread; returns at once."""
        self._thread = threading.Thread(target=self.run, name="spillway-worker", daemon=True)
        self._thread.start()
        self._started.wait(5)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stops gracefully: running tasks finish (up to ``timeout`` seconds)
        and are answered, then the worker says DISCONNECT. Safe from any thread."""
        self._stop_timeout = timeout
        self._stop_requested = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:
                pass  # its loop is already closed
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout + 5)

    async def serve(self) -> None:
        """Serves on the running event loop until stop()."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        if self._stop_requested:
            self._stopping.set()
        if not self._is_async:
            self._pool = concurrent.futures.ThreadPoolExecutor(self.slots,
                                                               thread_name_prefix="spillway-task")
        self._started.set()
        backoff = RECONNECT_MIN_MS
        try:
            while not self._stopping.is_set():
                wait_ms, refused = await self._session()
                if self._stopping.is_set():
                    break
                if refused:
                    wait_ms = max(wait_ms, backoff)
                    backoff = min(backoff * 2, RECONNECT_MAX_MS)
                else:
                    backoff = RECONNECT_MIN_MS
                self.reconnects += 1
                try:
                    await asyncio.wait_for(self._stopping.wait(), wait_ms / 1000)
                except asyncio.TimeoutError:
                    pass
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False)

    # -- One connection --------------------------------------------------------

    async def _session(self) -> tuple[int, bool]:
        """One socket's life: READY, tasks, until the edge is gone or says
        DISCONNECT or the worker stops. Returns (ms to wait, refused)."""
        socket = self._context.socket(zmq.DEALER)
        socket.linger = 1000  # the last RESULTs and DISCONNECT get out
        if self._curve:
            socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = self._curve
        socket.connect(self.edge)
        running: set[asyncio.Task] = set()
        heartbeat_ms, liveness = self._heartbeat_ms, self._liveness
        try:
            await socket.send_multipart([proto.HEADER, proto.READY, self._service,
                                         proto.u32(self.slots)])
            heard = sent = time.monotonic()
            stop_wait = asyncio.ensure_future(self._stopping.wait())
            recv = asyncio.ensure_future(socket.recv_multipart())
            try:
                while True:
                    timeout = max(0.0, min(sent + heartbeat_ms / 1000,
                                           heard + heartbeat_ms * liveness / 1000)
                                  - time.monotonic())
                    done, _ = await asyncio.wait({recv, stop_wait}, timeout=timeout,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    now = time.monotonic()
                    if stop_wait in done:
                        await self._finish(socket, running, heartbeat_ms)
                        return 0, False
                    if recv in done:
                        frames = recv.result()
                        recv = asyncio.ensure_future(socket.recv_multipart())
                        heard = now
                        outcome = self._on_message(socket, frames, running)
                        if outcome is not None:
                            kind, first, second = outcome
                            if kind == "reconnect":
                                return first, second
                            heartbeat_ms, liveness = first, second  # ACCEPTED
                    if now - heard >= heartbeat_ms * liveness / 1000:
                        log.warning("edge %s silent for %d ms: reconnecting", self.edge,
                                    heartbeat_ms * liveness)
                        return 0, False
                    if now - sent >= heartbeat_ms / 1000:
                        await socket.send_multipart([proto.HEADER, proto.HEARTBEAT])
                        sent = now
            finally:
                recv.cancel()
                stop_wait.cancel()
        finally:
            for task in running:
                task.cancel()  # the edge gave their tasks to others
            socket.close()

    def _on_message(self, socket, frames: list[bytes], running: set):
        """Handles one message from the edge: None to go on, ("accepted",
        heartbeat_ms, liveness), or ("reconnect", wait ms, refused)."""
        if len(frames) < 2 or frames[0] != proto.HEADER:
            log.warning("malformed message from the edge: dropped")
            return None
        command = frames[1]
        if command == proto.TASK and len(frames) >= 3 and len(frames[2]) == 8:
            if self._stopping.is_set():
                return None  # not started: DISCONNECT hands it back
            task = asyncio.ensure_future(self._run_task(socket, frames[2], frames[3:]))
            running.add(task)
            task.add_done_callback(running.discard)
            return None
        if command == proto.HEARTBEAT:
            return None
        if command == proto.ACCEPTED and len(frames) == 6:
            values = [proto.read_u32(f) for f in frames[2:6]]
            if None not in values and values[0] and values[1]:
                self.max_message_bytes = values[3]
                self.accepted.set()
                return "accepted", values[0], values[1]
        if command == proto.DISCONNECT and len(frames) == 4:
            reason = frames[2].decode("utf-8", "replace")
            retry_ms = proto.read_u32(frames[3]) or 0
            log.warning("edge %s: %s (retry in %d ms)", self.edge, reason, retry_ms)
            refused = not reason.startswith(("unknown worker", "edge stopping"))
            return "reconnect", retry_ms, refused
        log.warning("unexpected message from the edge: dropped")
        return None

    async def _run_task(self, socket, key: bytes, body: list[bytes]) -> None:
        try:
            argument = body if self._frames else (body[0] if len(body) == 1 else b"".join(body))
            if self._is_async:
                result = await self._handler(argument)
            else:
                result = await asyncio.get_running_loop().run_in_executor(
                    self._pool, self._handler, argument)
            if self._frames:
                reply, status = proto.check_frames(result), proto.OK
            else:
                reply, status = [proto.frame_of(result if result is not None else b"")], proto.OK
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the task failed: task-error, as the protocol says
            text = str(error) or type(error).__name__
            reply, status = [text.encode("utf-8")[:1024]], proto.TASK_ERROR
        await socket.send_multipart([proto.HEADER, proto.RESULT, key, bytes([status]), *reply])
        self.tasks_done += 1

    async def _finish(self, socket, running: set, heartbeat_ms: int) -> None:
        """Lets running tasks finish and answer, beating meanwhile, then says
        DISCONNECT: the edge takes back what had not started."""
        limit = time.monotonic() + getattr(self, "_stop_timeout", 10.0)
        while running and time.monotonic() < limit:
            await asyncio.wait(set(running), timeout=min(heartbeat_ms / 1000,
                                                         max(0.0, limit - time.monotonic())))
            await socket.send_multipart([proto.HEADER, proto.HEARTBEAT])
        await socket.send_multipart([proto.HEADER, proto.DISCONNECT])
