"""The live event stream's plumbing: the event store read in position order, and a bell its streams wait on.

Threads ring the bell (the PostgreSQL listener on every append in any process, this process's projector when
the read model the stream follows moves); streams wait on it from the event loop, so a waiting stream holds
no thread and no connection. A ring counter makes a ring between a stream's read and its wait never lost.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class Bell:
    """Wakes every waiter on each `ring()`, from any thread; `close()` wakes them for good."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rings = 0
        self._closed = False
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()

    @property
    def rings(self) -> int:
        return self._rings

    @property
    def closed(self) -> bool:
        return self._closed

    def ring(self) -> None:
        with self._lock:
            self._rings += 1
            waiters, self._waiters = self._waiters, set()
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_settle, future)
            except RuntimeError:  # that loop is closed: nobody waits there any more
                pass

    def close(self) -> None:
        self._closed = True
        self.ring()

    async def wait(self, rings: int, timeout: float) -> int:
        """Wait until rung after `rings` (a value of `rings` read earlier), closed, or `timeout` s passed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._rings != rings or self._closed:
                return self._rings
            self._waiters.add((loop, future))
        try:
            await asyncio.wait_for(future, max(0.0, timeout))
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard((loop, future))
        return self._rings


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class StoreFeed:
    """The event store's events after a position, a page at a time, and the bell that says it may have grown.
    `listen` is called once, on the first wait: on PostgreSQL it starts this process's listener for appends, if no
    projector or dispatcher started it already."""

    def __init__(self, recorder: Any, mapper: Any, bell: Bell, listen: Callable[[], None]) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self.bell = bell
        self._listen: Callable[[], None] | None = listen

    @property
    def rings(self) -> int:
        return self.bell.rings

    @property
    def closed(self) -> bool:
        return self.bell.closed

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def read(self, after: int, upto: int, limit: int) -> list[tuple[int, Any]]:
        """Each (position, domain event) in (after, upto], in order, at most `limit`."""
        page = self.recorder.select_notifications(start=after, limit=limit, stop=upto, inclusive_of_start=False)
        return [(n.id, self.mapper.to_domain_event(n)) for n in page]

    async def wait(self, rings: int, timeout: float) -> int:
        if self._listen is not None:
            listen, self._listen = self._listen, None
            listen()
        return await self.bell.wait(rings, timeout)

    def close(self) -> None:
        self.bell.close()
