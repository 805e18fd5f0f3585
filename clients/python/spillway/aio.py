"""The client on asyncio: the same requests, deadlines and failover as
:class:`spillway.Client`, awaited instead of blocking.

It drives the same state as the blocking client (``client._Core``) from
the event loop: the loop watches each socket's ZeroMQ file descriptor,
and every wake-up takes all that is waiting. One AsyncClient belongs to
one event loop.
"""

from __future__ import annotations

import asyncio
from typing import Iterable, Sequence

import zmq

from . import protocol as proto
from .client import SWEEP_MS, Reply, _Core, many_args
from .errors import SpillwayError


class AsyncClient:
    """A client of one or more edges for asyncio code::

        async with spillway.AsyncClient(["tcp://127.0.0.1:5555"]) as client:
            reply = await client.submit("predict", b"5.1,3.5,1.4,0.2", timeout=5.0)

    ``cert`` and ``server_cert`` turn CURVE on, as for Client. Many
    coroutines may await it at once: each request is matched to its
    reply by id. Cancelling an awaiting coroutine forgets its request.
    """

    def __init__(self, edges: str | Sequence[str], *, context: zmq.Context | None = None,
                 cert: str | None = None, server_cert: str | Sequence[str] | None = None):
        self._core = _Core(edges, context, cert, server_cert)
        self._waiters: dict[int, asyncio.Future] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections; awaiting calls fail with ConnectionError."""
        if self._loop is not None:
            for socket in self._core.sockets():
                self._loop.remove_reader(socket.getsockopt(zmq.FD))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(ConnectionError("the client was closed"))
        self._waiters.clear()
        self._core.close()

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            for socket in self._core.sockets():
                loop.add_reader(socket.getsockopt(zmq.FD), self._pump)
        elif self._loop is not loop:
            raise RuntimeError("an AsyncClient belongs to the event loop it first ran on")
        return loop

    def _pump(self) -> None:
        """Takes what is waiting; ZeroMQ's descriptors signal edges, so all of it."""
        core = self._core
        if not core.edges:
            return
        core.pump()
        while core.ready:
            request_id, (status, body) = core.ready.popitem(last=False)
            future = self._waiters.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result(Reply(request_id, status, body))
        if core.pending and self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(SWEEP_MS / 1000, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._pump()

    async def _call(self, service: str, body: list[bytes], timeout_ms: int) -> Reply:
        loop = self._attach()
        request_id = self._core.send(service, body, timeout_ms)
        future = loop.create_future()
        self._waiters[request_id] = future
        #  A send may have swallowed a descriptor's edge: look now.
        self._pump()
        try:
            return await future
        finally:
            if not future.done() or future.cancelled():
                self._waiters.pop(request_id, None)
                self._core.forget(request_id)

    async def submit(self, service: str, body: proto.Frame,
                     timeout: float | None = None) -> bytes:
        """Sends one task of one frame and returns its reply's body.

        As :meth:`spillway.Client.submit`: raises the status's
        :class:`SpillwayError`, or ValueError/TypeError before sending.
        """
        reply = await self._call(service, [proto.frame_of(body)], proto.timeout_ms_of(timeout))
        return reply.raise_for_status().body

    async def submit_frames(self, service: str, frames: Iterable[proto.Frame],
                            timeout: float | None = None) -> list[bytes]:
        """Like submit, with a body of up to 16 frames; returns the reply's frames."""
        body = proto.check_frames(frames)
        reply = await self._call(service, body, proto.timeout_ms_of(timeout))
        return reply.raise_for_status().frames

    async def submit_many(self, service: str, bodies: Iterable[proto.Frame],
                          timeout: float | None = None,
                          window: int = 64) -> list[bytes | SpillwayError]:
        """Sends a task per body, up to ``window`` at once; returns, in order,
        each reply's body or its status's :class:`SpillwayError`."""
        timeout_ms, frames = many_args(service, bodies, timeout, window)
        results: list[bytes | SpillwayError | None] = [None] * len(frames)
        next_at = 0

        async def lane() -> None:
            nonlocal next_at
            while next_at < len(frames):
                at = next_at
                next_at += 1
                reply = await self._call(service, frames[at], timeout_ms)
                results[at] = reply.body if reply.ok else reply.error()

        await asyncio.gather(*(lane() for _ in range(min(window, len(frames)))))
        return results  # type: ignore[return-value]

    @property
    def outstanding(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._core.pending)
