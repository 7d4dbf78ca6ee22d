"""Batches: whatever was queued while the last batch ran is handled in one go.

Group commit is the classic use: concurrent callers share one transaction. `BatchThread`
handles batches on a worker thread; callers wait either blocking (threads) or on an event
loop (a future each, resolved with one wake-up of their loop per batch). `LoopBatches`
handles them on the event loop itself, for work that is asynchronous I/O: no thread, so no
hand-over of the GIL between threads on the way.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
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
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._enqueue(item, (loop, future))
        return await future

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
            loop.call_soon_threadsafe(_resolve, futures, error)


def _resolve(futures: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None) -> None:
    for future, result in futures:
        if future.done():  # cancelled: the caller went away
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


class LoopBatches(Generic[T]):
    """Runs `await handle(items)` on an event loop, one batch at a time.

    Items submitted while a batch runs wait for the next one, so each caller's item is handled by a
    batch that started after it arrived. If `handle` raises, every item of that batch gets the exception.
    Batches run on one loop at a time; a caller on another loop (tests run several) goes to `elsewhere`.
    """

    def __init__(self, handle: Callable[[list[T]], Awaitable[None]],
                 elsewhere: Callable[[T], Awaitable[Any]]) -> None:
        self._handle = handle
        self._elsewhere = elsewhere
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = False
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # only loops in different threads ever contend for it

    async def submit(self, item: T) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._loop is not loop and (self._running or self._pending):
                done = None
            else:
                self._loop = loop
                done = loop.create_future()
                self._pending.append((item, done))
                if not self._running:
                    self._running = True
                    self._task = loop.create_task(self._run())  # held: the loop keeps only a weak reference
        if done is None:
            await self._elsewhere(item)
        else:
            await done

    async def _run(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            while True:
                with self._lock:
                    batch, self._pending = self._pending, []
                    if not batch:
                        self._running = False
                        return
                error: BaseException | None = None
                try:
                    await self._handle([item for item, _ in batch])
                except Exception as exc:  # every caller of the batch learns its fate
                    error = exc
                _resolve([(done, None) for _, done in batch], error)
        except BaseException as stopped:  # cancelled with its loop: nobody may wait on for it
            with self._lock:
                left, self._pending, self._running = self._pending, [], False
            _resolve([(done, None) for _, done in [*batch, *left]], stopped)
            raise
