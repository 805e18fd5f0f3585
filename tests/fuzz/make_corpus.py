"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus): one file
per command of docs/protocol.md in fuzz_proto.c's framing, and the example
configs plus a few shapes for fuzz_config.c. Run it again when the protocol
changes: /usr/bin/python3 tests/fuzz/make_corpus.py"""

import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
H = b"SPW2"


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def text(t):
    return bytes([len(t)]) + t


def encode(frames, first=0):
    out = bytes([first])
    for f in frames:
        out += bytes([len(f)]) if len(f) < 255 else b"\xff" + struct.pack(">H", len(f))
        out += f
    return out


figures = text(b"echo") + u32(4) + u32(2) + u32(1) + u32(3) + u32(1000) + u32(0) + u32(0) + b"\x01"
match = text(b"B") + text(b"tcp://b:5557") + u64(7) + b"\x02" + u32(1000)
MESSAGES = {
    "request": [H, b"\x01", u64(1), b"echo", u32(1000), b"body"],
    "request_default": [H, b"\x01", u64(2), b"", u32(0)],
    "reply": [H, b"\x02", u64(1), b"\x00", b"body"],
    "ready": [H, b"\x10", b"echo"],
    "ready_slots": [H, b"\x10", b"echo", u32(16)],
    "task": [H, b"\x11", u64(0x100000001), b"a", b"b"],
    "result": [H, b"\x12", u64(0x100000001), b"\x06", b"why"],
    "heartbeat": [H, b"\x13"],
    "disconnect": [H, b"\x14"],
    "dismiss": [H, b"\x14", b"edge stopping", u32(1000)],
    "accepted": [H, b"\x15", u32(1000), u32(3), u32(4), u32(1048576)],
    "register": [H, b"\x20", b"A", u64(9), b"tcp://a:5557", b"zone-1"],
    "welcome": [H, b"\x21", b"tcp://hub:5561", u32(1000), u32(3)],
    "refused": [H, b"\x22", b"name held", u32(3000)],
    "member": [H, b"\x25", b"\x02", b"B", b"tcp://b:5557", u64(7)],
    "state": [H, b"\x26", b"A", u64(9), u64(10), u64(3), figures + figures],
    "state_avoid": [H, b"\x26", b"A", u64(9), u64(10), u64(3), figures, text(b"F") + text(b"G")],
    "match": [H, b"\x27", b"echo", b"\x00", match + match],
    "delegate": [H, b"\x30", b"A", u64(5), b"echo", u32(900), b"body"],
    "done": [H, b"\x31", u64(5), b"\x00", u32(1), b"body"],
    "credit": [H, b"\x32", b"echo", u32(2), u32(3000)],
    "revoke": [H, b"\x33", b"echo", u32(0)],
    "return": [H, b"\x34", b"echo", u32(1)],
    "hello": [H, b"\x35", b"A"],
    "old_version": [b"SPW1", b"\x01", u64(1), b"echo", u32(0)],
}


def main():
    proto = os.path.join(HERE, "corpus", "proto")
    config = os.path.join(HERE, "corpus", "config")
    for folder in (proto, config):
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    for name, frames in MESSAGES.items():
        with open(os.path.join(proto, name), "wb") as f:
            f.write(encode(frames))
        with open(os.path.join(proto, name + "_routed"), "wb") as f:
            f.write(encode([b"\x00\x6b\x8b\x45\x67"] + frames, first=1))
    root = os.path.dirname(os.path.dirname(HERE))
    for name in ("edge.yaml", "hub.yaml"):
        shutil.copy(os.path.join(root, "config", name), os.path.join(config, name))
    shapes = {
        "flow.yaml": b"{name: A, heartbeat_ms: 200, hub: 'tcp://h:5560'}\n",
        "anchors.yaml": b"a: &x 1\nliveness: *x\nname: B\n",
        "list.yaml": b"- name\n- A\n",
        "tags.yaml": b"name: !!str A\nmax_tasks: !!int 10\n",
        "multi.yaml": b"name: A\n---\nname: B\n",
    }
    for name, body in shapes.items():
        with open(os.path.join(config, name), "wb") as f:
            f.write(body)


main()
