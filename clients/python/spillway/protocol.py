"""SPW2 frames, as docs/protocol.md gives them: building and reading them,
and checking a caller's arguments before anything is sent."""

from __future__ import annotations

import re
import struct
from typing import Iterable, Sequence, Union

HEADER = b"SPW2"

REQUEST = b"\x01"
REPLY = b"\x02"
READY = b"\x10"
TASK = b"\x11"
RESULT = b"\x12"
HEARTBEAT = b"\x13"
DISCONNECT = b"\x14"
ACCEPTED = b"\x15"

STATUS_NAMES = ("ok", "no-service", "timeout", "overloaded", "failed", "bad-request",
                "task-error", "busy", "too-large", "forbidden")
OK, TASK_ERROR, BUSY = 0, 6, 7

MAX_BODY_FRAMES = 16
MAX_SERVICE_LEN = 64
MAX_TIMEOUT_MS = 0xFFFFFFFF
MAX_SLOTS = 256
MAX_EDGES = 16

Frame = Union[bytes, bytearray, memoryview, str]

_SERVICE = re.compile(r"[A-Za-z0-9._-]{0,64}\Z")
_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")


def u64(value: int) -> bytes:
    return _U64.pack(value)


def u32(value: int) -> bytes:
    return _U32.pack(value)


def read_u64(frame: bytes) -> int | None:
    return _U64.unpack(frame)[0] if len(frame) == 8 else None


def read_u32(frame: bytes) -> int | None:
    return _U32.unpack(frame)[0] if len(frame) == 4 else None


def status_name(code: int) -> str:
    return STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else "unknown-%d" % code


def check_service(service: str) -> bytes:
    """The service's name as sent; ValueError or TypeError for a bad one."""
    if not isinstance(service, str):
        raise TypeError("service must be a str, not %s" % type(service).__name__)
    if not _SERVICE.match(service):
        raise ValueError("bad service name %r: up to 64 characters of A-Z a-z 0-9 . _ - "
                         "(empty: the edge's default service)" % (service,))
    return service.encode("ascii")


def frame_of(value: Frame) -> bytes:
    """One frame's bytes: str is sent as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value) if not isinstance(value, bytes) else value
    raise TypeError("a frame must be bytes or str, not %s" % type(value).__name__)


def check_frames(frames: Iterable[Frame]) -> list[bytes]:
    """A body's frames as sent; at most 16."""
    if isinstance(frames, (bytes, bytearray, memoryview, str)):
        raise TypeError("frames must be a list of frames; for one frame use submit()")
    body = [frame_of(f) for f in frames]
    if len(body) > MAX_BODY_FRAMES:
        raise ValueError("a body has at most %d frames, not %d" % (MAX_BODY_FRAMES, len(body)))
    return body


def timeout_ms_of(timeout: float | None) -> int:
    """A timeout in seconds as the request's milliseconds (None: 0, the edge's default)."""
    if timeout is None:
        return 0
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be seconds (a number) or None")
    if not timeout > 0:
        raise ValueError("timeout must be more than 0 seconds (None: the edge's default)")
    ms = int(timeout * 1000 + 0.999999)
    if ms > MAX_TIMEOUT_MS:
        raise ValueError("timeout must be at most %d seconds" % (MAX_TIMEOUT_MS // 1000))
    return ms


def check_edges(edges: str | Sequence[str]) -> list[str]:
    """A list of endpoints from a list or a comma-separated string."""
    if isinstance(edges, str):
        edges = edges.split(",")
    edges = list(edges)
    if not edges or len(edges) > MAX_EDGES:
        raise ValueError("give 1 to %d edges, not %d" % (MAX_EDGES, len(edges)))
    for edge in edges:
        if not isinstance(edge, str) or "://" not in edge:
            raise ValueError("bad edge endpoint %r: expected e.g. tcp://127.0.0.1:5555" % (edge,))
    return edges


def curve_keys(cert: str | None, server_cert: str | Sequence[str] | None,
               count: int) -> list[tuple[bytes, bytes, bytes]] | None:
    """CURVE keys for count servers from certificate files made by
    `spillway keygen` (czmq's format): this peer's certificate (its
    FILE_secret is read too) and each server's public one, a list or a
    comma-separated string, one per server (or one for all). None: plaintext.
    Returns (public, secret, server public) per server, Z85."""
    if cert is None and server_cert is None:
        return None
    if not cert or not server_cert:
        raise ValueError("CURVE needs both cert and server_cert")
    import zmq.auth
    servers = server_cert.split(",") if isinstance(server_cert, str) else list(server_cert)
    if len(servers) == 1:
        servers = servers * count
    if len(servers) != count:
        raise ValueError("give one server_cert, or one per edge (%d), not %d"
                         % (count, len(servers)))
    secret_file = cert if cert.endswith("_secret") else cert + "_secret"
    try:
        public, secret = zmq.auth.load_certificate(secret_file)
        if secret is None:
            raise ValueError("%s holds no secret key" % secret_file)
        keys = []
        for server in servers:
            server_public, _ = zmq.auth.load_certificate(server)
            keys.append((public, secret, server_public))
    except (OSError, ValueError) as error:
        raise ValueError("cannot read a certificate: %s" % error) from None
    return keys


def request(request_id: int, service: bytes, timeout_ms: int, body: list[bytes]) -> list[bytes]:
    return [HEADER, REQUEST, u64(request_id), service, u32(timeout_ms), *body]


def parse_reply(frames: list[bytes]) -> tuple[int, int, list[bytes]] | None:
    """(request id, status, body) of a well-formed REPLY, else None."""
    if len(frames) < 4 or frames[0] != HEADER or frames[1] != REPLY:
        return None
    request_id = read_u64(frames[2])
    if request_id is None or len(frames[3]) != 1 or len(frames) - 4 > MAX_BODY_FRAMES:
        return None
    return request_id, frames[3][0], frames[4:]
