"""The Python driver of the conformance suite (tests/conformance/README.md):
JSON commands on stdin, done with clients/python's AsyncClient and Worker,
one JSON answer a line on stdout."""

import asyncio
import base64
import json
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "clients", "python"))
import spillway  # noqa: E402


def answer(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def encoded(frames):
    return [base64.b64encode(f).decode("ascii") for f in frames]


def body_of(command):
    if "fill" in command:
        return [b"x" * int(command["fill"]["size"])]
    return [base64.b64decode(f) for f in command.get("body", [])]


def handler_for(command):
    mode, sleep_ms = command.get("mode", "echo"), command.get("sleep_ms", 0)

    async def handler(frames):
        if mode == "fail":
            raise RuntimeError("failed as asked")
        if mode == "hold":
            await asyncio.Event().wait()
        if mode == "sleep":
            await asyncio.sleep(sleep_ms / 1000)
        return frames

    return handler


class Driver:
    def __init__(self):
        self.client = None
        self.workers = []
        self.serving = []
        self.calls = set()

    async def submit(self, seq, command):
        try:
            frames = await self.client.submit_frames(command["service"], body_of(command),
                                                     timeout=(command.get("timeout_ms") or 0)
                                                     / 1000 or None)
            answer({"seq": seq, "status": "ok", "body": encoded(frames)})
        except spillway.SpillwayError as error:
            answer({"seq": seq, "status": error.status, "body": encoded(error.frames)})
        except (ValueError, TypeError) as error:
            answer({"seq": seq, "error": "argument", "message": str(error)})

    async def handle(self, command):
        seq, op = command.get("seq"), command.get("op")
        if op == "client":
            self.client = spillway.AsyncClient(command["edges"], cert=command.get("cert"),
                                               server_cert=command.get("server_cert"))
            answer({"seq": seq, "ok": True})
        elif op == "submit":
            call = asyncio.ensure_future(self.submit(seq, command))
            self.calls.add(call)
            call.add_done_callback(self.calls.discard)
        elif op == "worker":
            worker = spillway.Worker(command["edge"], command["service"], handler_for(command),
                                     slots=command.get("slots", 1), frames=True,
                                     cert=command.get("cert"),
                                     server_cert=command.get("server_cert"))
            self.workers.append(worker)
            self.serving.append(asyncio.ensure_future(worker.serve()))
            answer({"seq": seq, "ok": True})
        elif op == "stop":
            return False
        else:
            answer({"seq": seq, "error": "command", "message": "unknown op %r" % (op,)})
        return True

    async def stop(self, seq):
        for worker in self.workers:
            worker.stop(timeout=0.5)
        if self.serving:
            await asyncio.wait(self.serving, timeout=5)
        if self.client:
            self.client.close()
        answer({"seq": seq, "ok": True})


async def main():
    loop = asyncio.get_running_loop()
    lines = asyncio.Queue()

    def read():
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, daemon=True).start()
    driver = Driver()
    while True:
        line = await lines.get()
        if line is None:
            await driver.stop(None)
            return
        try:
            command = json.loads(line)
            if not isinstance(command, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as error:
            answer({"seq": None, "error": "command", "message": str(error)})
            continue
        try:
            if not await driver.handle(command):
                await driver.stop(command.get("seq"))
                return
        except (KeyError, ValueError, TypeError) as error:
            answer({"seq": command.get("seq"), "error": "command", "message": str(error)})


if __name__ == "__main__":
    asyncio.run(main())
