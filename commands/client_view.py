"""What the client path reads, kept in memory and brought up to the log's head on every call.

Each client call would otherwise read the license, the product and three BlacklistEntry
streams (license key, HWID, IP) that almost never exist. Instead the view asks the store for
its head (one query) and, only when the head moved, reads the license, product and blacklist
events recorded since (one more). Licenses and products are cached with the head at which
they were loaded and reloaded once an event about them lies past that point; a key that
names no license is remembered as absent the same way. The view is therefore exactly as
current as the store at the start of the call, in every process: a suspension, a deletion or
a blacklist entry recorded anywhere applies to the next call.

Client calls only append to the call log (commands/call_log.py), never to the event store,
so under a flood of validations the head stays put and a call costs one head query.

On an event loop, `fresh()` gives the same guarantee without blocking it: on SQLite the head
is read inline (microseconds, over a connection of its own); on PostgreSQL one query at a
time runs in a thread, and every call that arrived while it ran waits for the next one, so
each call still sees a head read after it arrived.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic

from domain.blacklist import BlacklistEntry, BlacklistType, blacklist_entry_id
from domain.license import License
from domain.product import Product


def _event_topics(*aggregates: type) -> tuple[str, ...]:
    return tuple(get_topic(value) for aggregate in aggregates for value in vars(aggregate).values()
                 if isinstance(value, type) and issubclass(value, CanMutateAggregate))


TOPICS = _event_topics(BlacklistEntry, License, Product)
BATCH = 1000
MAX_CACHED = 50_000
"""Licenses and products (and absent keys) kept; past it the oldest are dropped and reloaded when asked for."""


class HeadReader:
    """The event store's head: `inline` when reading it costs microseconds and never waits on a network."""

    def __init__(self, read: Callable[[], int | None], inline: bool) -> None:
        self._read = read
        self.inline = inline

    def __call__(self) -> int:
        return self._read() or 0


def head_reader(recorder: Any) -> HeadReader:
    """SQLite files get a connection of their own for MAX(rowid): no queue behind the recorder's writers."""
    pool = getattr(getattr(recorder, "datastore", None), "pool", None)
    if pool is None or not hasattr(pool, "is_sqlite_memory_mode"):
        return HeadReader(recorder.max_notification_id, inline=False)
    if pool.is_sqlite_memory_mode:
        return HeadReader(recorder.max_notification_id, inline=True)
    connection = sqlite3.connect(pool.db_name, check_same_thread=False, isolation_level=None)
    statement, lock = recorder.select_max_notification_id_statement, threading.Lock()

    def read() -> int | None:
        with lock:
            return connection.execute(statement).fetchone()[0]

    return HeadReader(read, inline=True)


class ClientView:
    """Blacklist entries, plus the position of the last change to each license and product."""

    def __init__(self, recorder: Any, mapper: Any, head: HeadReader | None = None) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._head = head or head_reader(recorder)
        self._entries: dict[UUID, tuple[bool, datetime | None]] = {}
        self._changed_at: dict[UUID, int] = {}
        self._cached: dict[UUID, tuple[int, Any]] = {}
        self._position = 0
        self._lock = threading.Lock()
        self._running: asyncio.Future[int] | None = None  # the head query in flight (PostgreSQL)
        self._next: asyncio.Future[int] | None = None  # the one that starts when it ends

    def hit(self, candidates: Iterable[tuple[BlacklistType, str | None]], now: datetime) -> BlacklistType | None:
        """The first candidate type whose value is blocked at `now`, or None (call `catch_up` first)."""
        for entry_type, value in candidates:
            if value:
                active, expires_at = self._entries.get(blacklist_entry_id(entry_type, value), (False, None))
                if active and (expires_at is None or expires_at > now):
                    return entry_type
        return None

    def current(self, aggregate_id: UUID | None, kind: type, head: int, load: Callable[[UUID], Any]) -> Any:
        """A license or product as of `head` (shared: callers never change it), loaded again when stale."""
        if aggregate_id is None:
            return None
        loaded_at, aggregate = self._cached.get(aggregate_id, (-1, None))
        if loaded_at < self._changed_at.get(aggregate_id, 0):
            aggregate = load(aggregate_id)
            if len(self._cached) >= MAX_CACHED:
                self._cached.pop(next(iter(self._cached)), None)
            self._cached[aggregate_id] = (head, aggregate)
        return aggregate if isinstance(aggregate, kind) else None

    def is_current(self, aggregate_id: UUID | None) -> bool:
        """Whether `current` would answer from memory (no id is trivially answered: None)."""
        if aggregate_id is None:
            return True
        loaded_at, _ = self._cached.get(aggregate_id, (-1, None))
        return loaded_at >= self._changed_at.get(aggregate_id, 0)

    def cached(self, aggregate_id: UUID | None) -> Any:
        return self._cached.get(aggregate_id, (-1, None))[1] if aggregate_id is not None else None

    async def fresh(self) -> int:
        """`catch_up` for an event loop: the head as read after this call arrived, the loop never blocked."""
        if self._head.inline:
            head = self._head()
            if head <= self._position:
                return head
            return await asyncio.to_thread(self.catch_up)
        if self._running is not None and self._running.get_loop() is not asyncio.get_running_loop():
            return await asyncio.to_thread(self.catch_up)  # another loop's query (tests run several): no sharing
        if self._running is None:
            self._running = self._start_catch_up()
            return await asyncio.shield(self._running)
        if self._next is None:  # the query in flight may have read the head before this call arrived
            self._next = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._next)

    def _start_catch_up(self) -> asyncio.Future[int]:
        running = asyncio.ensure_future(asyncio.to_thread(self.catch_up))
        running.add_done_callback(self._catch_up_done)
        return running

    def _catch_up_done(self, done: asyncio.Future[int]) -> None:
        waiting, self._next = self._next, None
        self._running = None
        if waiting is None:
            return
        self._running = self._start_catch_up()
        self._running.add_done_callback(lambda running: _copy_outcome(running, waiting))

    def catch_up(self) -> int:
        """Read what changed since the last call; returns the head the call may rely on."""
        head = self._head()
        if head <= self._position:
            return head
        with self._lock:
            while self._position < head:
                notifications = self._recorder.select_notifications(
                    start=self._position, stop=head, limit=BATCH, topics=TOPICS, inclusive_of_start=False)
                for notification in notifications:
                    self._apply(notification)
                self._position = head if len(notifications) < BATCH else notifications[-1].id
        return head

    def _apply(self, notification: Any) -> None:
        self._changed_at[notification.originator_id] = notification.id
        if not notification.topic.startswith(get_topic(BlacklistEntry)):
            return
        event = self._mapper.to_domain_event(notification)
        if isinstance(event, BlacklistEntry.Removed):
            self._entries[event.originator_id] = (False, None)
        else:
            self._entries[event.originator_id] = (True, event.expires_at)


def _copy_outcome(source: asyncio.Future[int], target: asyncio.Future[int]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())  # type: ignore[arg-type]
    else:
        target.set_result(source.result())
