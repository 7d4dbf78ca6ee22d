"""A child process that does a batch of work for an event loop, fed over a pipe.

A thread of the API process that signs or commits takes and gives back the GIL around every
signature and row, and the event loop waits for it each time; a child has an interpreter of its
own. The loop sends what its callers queued in one turn as one frame on the child's stdin; the
child answers each frame, in order, with one frame on its stdout. A frame is a 4-byte length and
a msgpack body: the items, or their results (a list), or a refusal of the whole batch (a string).
The child stops when its stdin closes, so it never outlives the API process. Why: decision 0090.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import msgspec

from adapters.batches import settle

FRAME = struct.Struct("!I")


class ChildGoneError(ConnectionError):
    """The child stopped, or refused a batch, before answering: its pending callers learn nothing more (the API
    answers 503: send again)."""


class ChildLink:
    """Runs the child when first used on a loop, and again after it stops. `handler` names a factory,
    `module:function`, that the child calls with `args` for its `handle(items) -> results` (the wiring
    chooses it: an adapter does not import what its child runs)."""

    def __init__(self, handler: str, *args: str, greeting: Callable[[], Sequence[Any]] | None = None) -> None:
        self._name = handler
        self._command = [sys.executable, "-m", "adapters.children", handler, *args]
        self._greeting = greeting  # the items of a first frame, sent before any caller's (keys, say)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._queued: list[Any] = []
        self._waiting: list[asyncio.Future[Any]] = []
        self._in_flight: deque[list[asyncio.Future[Any]] | None] = deque()  # None: the greeting's answer
        self._out = bytearray()
        self._in = bytearray()

    def submit(self, item: Any) -> asyncio.Future[Any]:
        """`item`'s result, once the child has handled the frame it goes out in (this loop turn's)."""
        loop = asyncio.get_running_loop()
        if self._child is None or self._loop is not loop:
            self._start(loop)
        future = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append(item)
        self._waiting.append(future)
        return future

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.close()
        self._loop = loop
        self._child = child = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert child.stdin is not None and child.stdout is not None
        os.set_blocking(child.stdin.fileno(), False)
        os.set_blocking(child.stdout.fileno(), False)
        loop.add_reader(child.stdout.fileno(), self._readable)
        if self._greeting is not None:
            self._send(list(self._greeting()), None)

    def _flush(self) -> None:
        if self._queued and self._child is not None:
            items, futures = self._queued, self._waiting
            self._queued, self._waiting = [], []
            self._send(items, futures)

    def _send(self, items: list[Any], futures: list[asyncio.Future[Any]] | None) -> None:
        body = msgspec.msgpack.encode(items)
        self._in_flight.append(futures)
        self._out += FRAME.pack(len(body))
        self._out += body
        self._write()

    def _write(self) -> None:
        assert self._child is not None and self._child.stdin is not None and self._loop is not None
        fd = self._child.stdin.fileno()
        try:
            written = os.write(fd, self._out)
        except BlockingIOError:
            written = 0
        except OSError as error:  # the child has gone: its pipe is closed
            self.close(ChildGoneError(f"{self._name} stopped: {error}"))
            return
        del self._out[:written]
        self._loop.remove_writer(fd)
        if self._out:
            self._loop.add_writer(fd, self._write)

    def _readable(self) -> None:
        assert self._child is not None and self._child.stdout is not None
        try:
            chunk = os.read(self._child.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return
        except OSError as error:
            chunk, reason = b"", str(error)
        else:
            reason = f"exit status {self._child.poll()}"
        if not chunk:
            self.close(ChildGoneError(f"{self._name} stopped ({reason})"))
            return
        self._in += chunk
        while len(self._in) >= FRAME.size:
            (size,) = FRAME.unpack_from(self._in)
            if len(self._in) < FRAME.size + size:
                return
            answer = msgspec.msgpack.decode(self._in[FRAME.size:FRAME.size + size])
            del self._in[:FRAME.size + size]
            futures = self._in_flight.popleft()
            if futures is None:  # the greeting's answer, which nobody waits for
                if isinstance(answer, str):  # refused: so would every batch after it be
                    self.close(ChildGoneError(answer))
                    return
            elif isinstance(answer, str):  # the batch was refused
                settle([(future, None) for future in futures], ChildGoneError(answer))
            else:
                settle(list(zip(futures, answer)), None)

    def close(self, error: ChildGoneError | None = None) -> None:
        """Stop the child (it finishes the frames it has); whoever still waits gets `error` (or "closed")."""
        pending = [future for futures in self._in_flight if futures for future in futures] + self._waiting
        child, self._child = self._child, None
        if child is not None:
            assert child.stdin is not None and child.stdout is not None
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(child.stdout.fileno())
                self._loop.remove_writer(child.stdin.fileno())
            child.stdin.close()
            child.stdout.close()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self._queued, self._waiting = [], []
        self._in_flight.clear()
        self._out.clear()
        self._in.clear()
        with suppress(RuntimeError):  # their loop has closed: nobody is waiting any more
            settle([(future, None) for future in pending], error or ChildGoneError(f"{self._name} was closed"))

    @property
    def pid(self) -> int | None:
        return None if self._child is None else self._child.pid


def serve_frames(handle: Callable[[list[Any]], list[Any]]) -> None:
    """The child's side: answer each frame with `handle(items)`, or the error that refused it, until stdin ends."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while len(head := stdin.read(FRAME.size)) == FRAME.size:
        items = msgspec.msgpack.decode(stdin.read(FRAME.unpack(head)[0]))
        try:
            answer: Any = handle(items)
        except Exception as error:  # the batch is refused; the next one is tried afresh
            answer = f"{type(error).__name__}: {error}"
        body = msgspec.msgpack.encode(answer)
        try:
            stdout.write(FRAME.pack(len(body)) + body)
            stdout.flush()
        except BrokenPipeError:  # the API process closed its end: it wants no more answers
            return


def main(argv: list[str]) -> None:
    """`python -m adapters.children module:function [args...]`: serve frames with `function(*args)`'s handler.
    Ctrl-C and SIGTERM sent to the whole process group are for the API process: the child ignores them and answers
    what it is sent until the API process closes its pipe, on its way out or by dying."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_IGN)
    module, _, function = argv[0].partition(":")
    serve_frames(getattr(importlib.import_module(module), function)(*argv[1:]))
    os._exit(0)  # stdout may be a closed pipe: no flush at exit to complain of it


if __name__ == "__main__":
    main(sys.argv[1:])
