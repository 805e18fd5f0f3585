"""The native client: requests to edges, with deadlines and failover.

A client knows one or more edges, in order of preference, and holds one
DEALER connected to each edge's frontend. Each request goes to the first
edge that is not down and is kept until its reply comes. An edge is down
when its connection drops: at once when it dies, within 3 s when it stops
answering (ZMTP heartbeats, 1 s). The requests outstanding there are sent
again, with the same request id and what is left of their deadline, to
the next edge, or to the first that comes back. An edge that answers
``busy`` is draining: its request goes elsewhere, and it gets nothing more
until its connection drops and comes back. So a task may run twice; the
client delivers one reply per request id, the first, and drops the rest.
A request with a deadline that no edge answered is answered ``timeout``
by the client itself 1 s after its deadline (docs/protocol.md, failover).
This is what the C client (common/src/client.c) does.

:class:`Client` blocks; :class:`spillway.AsyncClient` does the same on
asyncio. Neither is thread-safe: one client per thread.
"""

from __future__ import annotations

import collections
import time
from typing import Iterable, NamedTuple, Sequence

import zmq
from zmq.utils.monitor import parse_monitor_message

from . import protocol as proto
from .errors import SpillwayError, error_for

#  ZMTP heartbeats on every link: a silent edge is down after 3 s.
HEARTBEAT_MS = 1000
LIVENESS = 3
#  A request with a deadline is answered `timeout` here this long after it.
GRACE_MS = 1000
#  How often requests are checked against their deadlines.
SWEEP_MS = 100

_UNKNOWN, _UP, _DRAINING, _DOWN = range(4)
_MONITOR_EVENTS = zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED
_EXPIRED = [b"no edge answered by the deadline"]
#  pyzmq's constants are enums, whose operators cost more than a message's
#  syscalls: the hot path uses their ints, and its own multipart loops.
_EVENTS, _POLLIN, _RCVMORE = int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.RCVMORE)
_NOBLOCK, _MORE_NOBLOCK = int(zmq.NOBLOCK), int(zmq.NOBLOCK) | int(zmq.SNDMORE)


def send_frames(socket: zmq.Socket, frames: list[bytes]) -> None:
    """Sends a multipart message without blocking (zmq.Again if no room;
    libzmq queues a message's frames all or none)."""
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        socket.send(frame, _NOBLOCK if i == last else _MORE_NOBLOCK)


def recv_frames(socket: zmq.Socket) -> list[bytes]:
    """The rest of a multipart message whose first frame is ready."""
    frames = [socket.recv(_NOBLOCK)]
    while socket.get(_RCVMORE):
        frames.append(socket.recv(_NOBLOCK))
    return frames


def _now_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Reply(NamedTuple):
    """A reply: its request id, its status (0 is ok) and its body frames."""

    request_id: int
    status: int
    frames: list[bytes]

    @property
    def ok(self) -> bool:
        return self.status == proto.OK

    @property
    def body(self) -> bytes:
        """The body's frames joined (one frame: that frame)."""
        return self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)

    def error(self) -> SpillwayError | None:
        """The exception for this reply's status, or None when it is ok."""
        return None if self.ok else error_for(self.status, self.frames)

    def raise_for_status(self) -> "Reply":
        if not self.ok:
            raise error_for(self.status, self.frames)
        return self


class _Edge:
    __slots__ = ("endpoint", "socket", "monitor", "state")

    def __init__(self, endpoint: str, socket: zmq.Socket, monitor: zmq.Socket):
        self.endpoint, self.socket, self.monitor, self.state = endpoint, socket, monitor, _UNKNOWN


class _Pending:
    __slots__ = ("id", "service", "timeout_ms", "deadline", "body", "edge")

    def __init__(self, request_id, service, timeout_ms, deadline, body):
        self.id, self.service, self.timeout_ms = request_id, service, timeout_ms
        self.deadline, self.body, self.edge = deadline, body, -1


class _Core:
    """The client's state, driven without blocking by Client and AsyncClient."""

    def __init__(self, edges: str | Sequence[str], context: zmq.Context | None = None,
                 cert: str | None = None, server_cert: str | Sequence[str] | None = None):
        endpoints = proto.check_edges(edges)
        keys = proto.curve_keys(cert, server_cert, len(endpoints))
        self.context = context or zmq.Context.instance()
        self.edges: list[_Edge] = []
        self.pending: dict[int, _Pending] = {}
        self.unsent: set[int] = set()
        self.ready: collections.OrderedDict[int, tuple[int, list[bytes]]] = \
            collections.OrderedDict()
        self.next_id = 1
        self.swept_at = 0
        self.services: dict[str, bytes] = {}  # names checked, as sent
        try:
            for i, endpoint in enumerate(endpoints):
                self.edges.append(self._open(endpoint, keys[i] if keys else None))
        except BaseException:
            self.close()
            raise

    def _open(self, endpoint: str, keys: tuple[bytes, bytes, bytes] | None) -> _Edge:
        socket = self.context.socket(zmq.DEALER)
        socket.linger = 0
        if keys:
            socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = keys
        socket.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_MS)
        socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_MS * LIVENESS)
        monitor = socket.get_monitor_socket(_MONITOR_EVENTS)
        edge = _Edge(endpoint, socket, monitor)
        try:
            socket.connect(endpoint)
        except zmq.ZMQError as error:
            self._close_edge(edge)
            raise ValueError("cannot connect to %r: %s" % (endpoint, error)) from None
        return edge

    @staticmethod
    def _close_edge(edge: _Edge) -> None:
        try:
            edge.socket.disable_monitor()
        except zmq.ZMQError:
            pass
        edge.monitor.close(0)
        edge.socket.close(0)

    def close(self) -> None:
        for edge in self.edges:
            self._close_edge(edge)
        self.edges = []
        self.pending.clear()
        self.unsent.clear()

    def sockets(self) -> list[zmq.Socket]:
        return [s for edge in self.edges for s in (edge.socket, edge.monitor)]

    # -- Sending ---------------------------------------------------------------

    def send(self, service: str, body: list[bytes], timeout_ms: int) -> int:
        """Queues a request (arguments already checked); returns its id."""
        name = self.services.get(service)
        if name is None:
            name = proto.check_service(service)
            if len(self.services) < 1024:
                self.services[service] = name
        if not self.edges:
            raise ValueError("the client is closed")
        #  Connection events are read when replies are: a request sent to an
        #  edge that went down meanwhile is sent on from there.
        now = _now_ms()
        pending = _Pending(self.next_id, name, timeout_ms,
                           now + timeout_ms if timeout_ms else -1, body)
        self.next_id += 1
        self.pending[pending.id] = pending
        if not self._dispatch(pending, now):
            self.unsent.add(pending.id)
        return pending.id

    def _send_to(self, pending: _Pending, edge: _Edge, now: int) -> bool:
        timeout_ms = pending.timeout_ms
        if pending.deadline >= 0:
            timeout_ms = max(pending.deadline - now, 1)  # what is left, never 0
        try:
            send_frames(edge.socket,
                        proto.request(pending.id, pending.service, timeout_ms, pending.body))
        except zmq.Again:
            return False
        return True

    def _dispatch(self, pending: _Pending, now: int) -> bool:
        for i, edge in enumerate(self.edges):
            if edge.state not in (_DOWN, _DRAINING) and self._send_to(pending, edge, now):
                pending.edge = i
                return True
        pending.edge = -1
        return False

    def _resend(self, from_edge: int, now: int) -> None:
        """Sends again what edge from_edge held (-1: what no edge holds)."""
        for pending in list(self.pending.values()):
            if pending.edge != from_edge:
                continue
            if pending.deadline >= 0 and now >= pending.deadline:
                pending.edge = -1  # too late: the sweep answers it
            else:
                self._dispatch(pending, now)
            if pending.edge < 0:
                self.unsent.add(pending.id)
            else:
                self.unsent.discard(pending.id)

    # -- Receiving -------------------------------------------------------------

    def _watch(self, now: int) -> None:
        """Reads connection events: a lost edge hands its requests on."""
        for i, edge in enumerate(self.edges):
            #  EVENTS first: cheaper than the exception of an empty NOBLOCK read.
            while edge.monitor.get(_EVENTS) & _POLLIN:
                event = parse_monitor_message(edge.monitor.recv_multipart())
                if event["event"] == zmq.EVENT_CONNECTED:
                    edge.state = _UP  # after a drop: a new process, or the same back
                elif edge.state != _DOWN:
                    edge.state = _DOWN
                    self._resend(i, now)
        if self.unsent and any(e.state not in (_DOWN, _DRAINING) for e in self.edges):
            self._resend(-1, now)

    def _take(self, i: int, edge: _Edge) -> None:
        socket = edge.socket
        while socket.get(_EVENTS) & _POLLIN:
            frames = recv_frames(socket)
            reply = proto.parse_reply(frames)
            if reply is None:
                continue  # malformed: dropped
            request_id, status, body = reply
            pending = self.pending.get(request_id)
            if pending is None:
                continue  # a second answer, or one we gave up on
            if status == proto.BUSY:
                #  The edge is draining or stopping: the request goes elsewhere.
                if pending.edge == i:
                    edge.state = _DRAINING
                    self._resend(i, _now_ms())
                continue
            del self.pending[request_id]
            self.unsent.discard(request_id)
            self.ready[request_id] = (status, body)

    def _sweep(self, now: int) -> None:
        if now - self.swept_at < SWEEP_MS:
            return
        self.swept_at = now
        late = [p.id for p in self.pending.values()
                if p.deadline >= 0 and now >= p.deadline + GRACE_MS]
        for request_id in late:
            del self.pending[request_id]
            self.unsent.discard(request_id)
            self.ready[request_id] = (2, _EXPIRED)

    def pump(self) -> None:
        """Takes every reply and connection event waiting, and answers the late."""
        now = _now_ms()
        self._watch(now)
        for i, edge in enumerate(self.edges):
            self._take(i, edge)
        self._sweep(now)

    def forget(self, request_id: int) -> None:
        """Drops a request whose caller no longer waits (its reply is dropped)."""
        self.pending.pop(request_id, None)
        self.unsent.discard(request_id)
        self.ready.pop(request_id, None)

    def wake_ms(self) -> int | None:
        """How long a waiter may sleep before the next sweep (None: until events)."""
        return SWEEP_MS if self.pending else None


def many_args(service: str, bodies: Iterable[proto.Frame], timeout: float | None,
              window: int) -> tuple[int, list[list[bytes]]]:
    """submit_many's arguments checked, every body included, before
    anything is sent: (timeout ms, each body's frames)."""
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError("window must be a positive integer")
    proto.check_service(service)
    return proto.timeout_ms_of(timeout), [[proto.frame_of(b)] for b in bodies]


def body_frames(body: proto.Frame | Iterable[proto.Frame]) -> list[bytes]:
    """One frame (bytes or str) or a list of them, as frames to send."""
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        return [proto.frame_of(body)]
    return proto.check_frames(body)


class Client:
    """A blocking client of one or more edges.

    ``edges`` is a list of frontend endpoints (or one comma-separated
    string), in order of preference::

        with spillway.Client(["tcp://127.0.0.1:5555", "tcp://127.0.0.1:6555"]) as client:
            reply = client.submit("predict", b"5.1,3.5,1.4,0.2", timeout=5.0)

    ``context`` is the ZeroMQ context to use (default: the process's shared
    one). With CURVE on (docs/security.md), ``cert`` is this client's
    certificate from ``spillway keygen`` (its ``_secret`` file is read too)
    and ``server_cert`` the edges' public certificates, one for all or one
    per edge (a list, or a comma-separated string).
    """

    def __init__(self, edges: str | Sequence[str], *, context: zmq.Context | None = None,
                 cert: str | None = None, server_cert: str | Sequence[str] | None = None):
        self._core = _Core(edges, context, cert, server_cert)
        self._poller = zmq.Poller()
        for socket in self._core.sockets():
            self._poller.register(socket, zmq.POLLIN)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connections; requests still outstanding are dropped."""
        for socket in self._core.sockets():
            self._poller.unregister(socket)
        self._core.close()

    # -- One call --------------------------------------------------------------

    def submit(self, service: str, body: proto.Frame, timeout: float | None = None) -> bytes:
        """Sends one task of one frame and returns its reply's body.

        ``service`` is a service name ("" is the edge's default service);
        ``body`` is bytes or str (sent as UTF-8); ``timeout`` is the task's
        deadline in seconds (None: the edge's, 30 s unless it sets another).
        Raises the :class:`SpillwayError` of the reply's status, or
        ValueError/TypeError for a bad argument, before anything is sent.
        A reply of several frames is returned joined (see submit_frames).
        """
        return self._call(service, [proto.frame_of(body)], timeout).body

    def submit_frames(self, service: str, frames: Iterable[proto.Frame],
                      timeout: float | None = None) -> list[bytes]:
        """Like submit, with a body of up to 16 frames; returns the reply's frames."""
        return self._call(service, proto.check_frames(frames), timeout).frames

    def _call(self, service: str, body: list[bytes], timeout: float | None) -> Reply:
        request_id = self._core.send(service, body, proto.timeout_ms_of(timeout))
        reply = self._wait_for(request_id)
        return reply.raise_for_status()

    # -- Many calls ------------------------------------------------------------

    def submit_many(self, service: str, bodies: Iterable[proto.Frame],
                    timeout: float | None = None,
                    window: int = 64) -> list[bytes | SpillwayError]:
        """Sends a task per body, up to ``window`` outstanding at once.

        Returns, in the order of ``bodies``, each reply's body or the
        :class:`SpillwayError` of its status (not raised: one failure does
        not hide the other results). Arguments are checked, every body
        included, before anything is sent.
        """
        timeout_ms, frames = many_args(service, bodies, timeout, window)
        results: list[bytes | SpillwayError | None] = [None] * len(frames)
        index: dict[int, int] = {}
        sent = 0
        while sent < len(frames) or index:
            while sent < len(frames) and len(index) < window:
                index[self._core.send(service, frames[sent], timeout_ms)] = sent
                sent += 1
            reply = self._next(set(index))
            at = index.pop(reply.request_id)
            results[at] = reply.body if reply.ok else reply.error()
        return results  # type: ignore[return-value]

    # -- Low level -------------------------------------------------------------

    def send(self, service: str, body: proto.Frame | Iterable[proto.Frame],
             timeout: float | None = None) -> int:
        """Sends a request without waiting and returns its request id.

        Take its reply with :meth:`recv`; replies come in the order tasks
        finish, not the order they were sent.
        """
        frames = body_frames(body)
        return self._core.send(service, frames, proto.timeout_ms_of(timeout))

    def recv(self, timeout: float | None = None) -> Reply | None:
        """The next reply, waiting up to ``timeout`` seconds (None: for ever).

        Returns None if none came in time. A status other than ok is in the
        reply (``reply.raise_for_status()`` raises it).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._next(None, deadline)

    @property
    def outstanding(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._core.pending)

    def _wait_for(self, request_id: int) -> Reply:
        reply = self._next({request_id})
        assert reply is not None
        return reply

    def _next(self, wanted: set[int] | None, deadline: float | None = None) -> Reply | None:
        """The first ready reply among wanted (None: any), waiting for it."""
        core = self._core
        while True:
            core.pump()
            if wanted is None:
                if core.ready:
                    request_id, (status, body) = core.ready.popitem(last=False)
                    return Reply(request_id, status, body)
            else:
                for request_id in core.ready:
                    if request_id in wanted:
                        status, body = core.ready.pop(request_id)
                        return Reply(request_id, status, body)
                if not any(r in core.pending for r in wanted):
                    raise RuntimeError("no reply will come: the request was forgotten")
            wait = core.wake_ms()
            if deadline is not None:
                left = max(0, int((deadline - time.monotonic()) * 1000))
                if left == 0:
                    return None
                wait = left if wait is None else min(wait, left)
            self._poller.poll(wait)
