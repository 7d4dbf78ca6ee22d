"""A worker thread that handles, in one go, whatever was queued while it was busy.

Group commit is the classic use: concurrent callers share one transaction. Callers wait
either blocking (threads) or on an event loop (a future each, resolved with one wake-up of
their loop per batch), so a busy loop never parks a thread on the work and never waits for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Blocking:
    """A thread waiting for its item's result."""

    __slots__ = ("done", "error", "result")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self, result: Any, error: BaseException | None) -> None:
        self.result, self.error = result, error
        self.done.set()


class BatchThread(Generic[T, R]):
    """Runs `handle(items) -> results` (one per item, in order) on a thread of its own, batch after batch.

    If `handle` raises, every item of that batch gets the exception; the thread goes on.
    """

    def __init__(self, name: str, handle: Callable[[list[T]], Sequence[R]]) -> None:
        self.name = name
        self._handle = handle
        self._pending: list[tuple[T, Any]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, item: T) -> R:
        """Queue `item` and block until its batch is handled."""
        waiter = _Blocking()
        self._enqueue(item, waiter)
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[no-any-return]

    async def submit_async(self, item: T) -> R:
        """`submit` for an event loop: the loop runs on while the thread works."""
        return await self.submit_soon(item)

    def submit_soon(self, item: T) -> asyncio.Future[R]:
        """Queue `item` now; the future (of the running loop) gets its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._enqueue(item, (loop, future))
        return future

    def _enqueue(self, item: T, waiter: Any) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            self._pending.append((item, waiter))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                batch, self._pending = self._pending, []
            if not batch:
                return
            results: Sequence[Any] = ()
            error: BaseException | None = None
            try:
                results = self._handle([item for item, _ in batch])
                if len(results) != len(batch):  # delivering would fail half way and leave the rest waiting
                    raise RuntimeError(f"{self.name} answered {len(results)} of {len(batch)} items")
            except Exception as exc:  # every caller of the batch learns its fate
                error = exc
            _deliver(batch, results, error)

    def close(self) -> None:
        """Handle what is queued, then stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)


def _deliver(batch: list[tuple[Any, Any]], results: Sequence[Any], error: BaseException | None) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}
    for index, (_, waiter) in enumerate(batch):
        result = None if error is not None else results[index]
        if isinstance(waiter, _Blocking):
            waiter.finish(result, error)
        else:
            by_loop.setdefault(waiter[0], []).append((waiter[1], result))
    for loop, futures in by_loop.items():
        with suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, futures, error)


def settle(futures: Sequence[tuple[asyncio.Future[Any], Any]], error: BaseException | None) -> None:
    """Give each waiting future its result, or every one the error (those cancelled meanwhile are skipped)."""
    for future, result in futures:
        if future.done():  # cancelled: the caller went away
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
