"""Spillway's Python client and worker, speaking docs/protocol.md (SPW2)
over pyzmq alone.

    import spillway

    with spillway.Client(["tcp://127.0.0.1:5555"]) as client:
        print(client.submit("predict", b"5.1,3.5,1.4,0.2", timeout=5.0))

    spillway.Worker("tcp://127.0.0.1:5556", "predict", lambda body: body.upper(),
                    slots=4).run()

See docs/clients.md.
"""

from .aio import AsyncClient
from .client import Client, Reply
from .errors import (BadRequest, Busy, Failed, Forbidden, NoService, Overloaded,
                     SpillwayError, TaskError, Timeout, TooLarge)
from .worker import Worker

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "Client", "Reply", "Worker",
    "SpillwayError", "NoService", "Timeout", "Overloaded", "Failed", "BadRequest",
    "TaskError", "Busy", "TooLarge", "Forbidden",
]
