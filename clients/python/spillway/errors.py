"""The exceptions a Spillway call raises: one per reply status.

Every status but ``ok`` has its class, all subclasses of
:class:`SpillwayError`, so a caller catches what it can handle::

    try:
        reply = client.submit("predict", b"5.1,3.5,1.4,0.2", timeout=2.0)
    except spillway.Overloaded:
        ...  # try later
    except spillway.SpillwayError as error:
        print(error.status, error.text)

Bad arguments are not statuses: they raise ``ValueError`` or ``TypeError``
before anything is sent.
"""

from __future__ import annotations

import builtins


class SpillwayError(Exception):
    """A request was answered with a status other than ``ok``.

    ``code`` is the status's number, ``status`` its name in
    docs/protocol.md (``"no-service"`` ...), ``text`` the edge's (or the
    worker's) text saying why, and ``frames`` the reply's body frames.
    """

    code: int = -1
    status: str = "unknown"
    retry: str = "no"

    def __init__(self, text: str = "", frames: list[bytes] | None = None,
                 code: int | None = None):
        if code is not None and type(self) is SpillwayError:
            self.code = code
            self.status = "unknown-%d" % code
        self.text = text
        self.frames = list(frames) if frames is not None else []
        super().__init__("%s: %s" % (self.status, text) if text else self.status)


class NoService(SpillwayError):
    """No worker has ever offered this service at this edge."""
    code, status = 1, "no-service"


class Timeout(SpillwayError, builtins.TimeoutError):
    """The request's deadline passed before a reply."""
    code, status, retry = 2, "timeout", "maybe"


class Overloaded(SpillwayError):
    """The service's queue, the edge's task table or this client's share is full."""
    code, status, retry = 3, "overloaded", "later"


class Failed(SpillwayError):
    """Every worker given the task (the edge's ``max_attempts``) died holding it."""
    code, status, retry = 4, "failed", "maybe"


class BadRequest(SpillwayError):
    """The edge found the request malformed; the text says how."""
    code, status = 5, "bad-request"


class TaskError(SpillwayError):
    """A worker ran the task and reported failure; ``frames`` is what it said."""
    code, status = 6, "task-error"


class Busy(SpillwayError):
    """The edge is draining or stopping and will not serve the request.

    The client sends such requests to its other edges itself; it raises
    this only for the low-level :meth:`Client.recv` of an edge that says so.
    """
    code, status, retry = 7, "busy", "elsewhere"


class TooLarge(SpillwayError):
    """The request, or the worker's reply, is over the edge's limits."""
    code, status = 8, "too-large"


class Forbidden(SpillwayError):
    """With CURVE on, the client's key may not do this."""
    code, status = 9, "forbidden"


BY_CODE: dict[int, type[SpillwayError]] = {
    cls.code: cls
    for cls in (NoService, Timeout, Overloaded, Failed, BadRequest, TaskError, Busy,
                TooLarge, Forbidden)
}


def error_for(code: int, frames: list[bytes]) -> SpillwayError:
    """The exception for a reply of status ``code`` (not 0) and its frames."""
    text = frames[0].decode("utf-8", "replace") if len(frames) == 1 else ""
    cls = BY_CODE.get(code)
    if cls is None:
        return SpillwayError(text, frames, code=code)
    return cls(text, frames)
