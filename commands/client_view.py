"""What the client path reads, kept in memory and brought up to the log's head on every call.

The view holds the blacklist entries and, for each license and product, the position of its last change;
licenses and products are cached with the head they were loaded at and reloaded once an event about them
lies past it (decision 0021). Each call reads the head and, only when it moved, the events since, so a
change recorded anywhere applies to the next call, in every process. On an event loop `fresh` shares one
head read among the calls that arrived together and reads the log in a thread; on PostgreSQL a call decided
from memory needs no head read first, and `follow` brings the view up in the background (decision 0022).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic

from commands.ports import HeadSource
from domain.blacklist import BlacklistEntry, BlacklistType, IpNetwork, address_in, blacklist_entry_id, network_of
from domain.validation import DECIDED_FROM


def _event_topics(*aggregates: type) -> tuple[str, ...]:
    return tuple(get_topic(value) for aggregate in aggregates for value in vars(aggregate).values()
                 if isinstance(value, type) and issubclass(value, CanMutateAggregate))


TOPICS = _event_topics(*DECIDED_FROM)
"""The events that invalidate what the view holds: those of every aggregate type a client decision reads."""
BATCH = 1000
MAX_CACHED = 50_000
"""Licenses and products (and absent keys) kept; past it the oldest are dropped and reloaded when asked for."""


class SizedCache(Protocol):
    """What tells the view how much memory it may hold and what an aggregate takes (adapters/aggregate_cache.py)."""

    max_bytes: int

    def size_of(self, value: Any) -> int: ...


entry_id = lru_cache(maxsize=16384)(blacklist_entry_id)
"""blacklist_entry_id, memoised: each call looks up its key, HWID and IP (three SHA-1s otherwise)."""


class ClientView:
    """Blacklist entries, plus the position of the last change to each license and product."""

    def __init__(self, recorder: Any, mapper: Any, head: HeadSource, sized: SizedCache | None = None) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._head = head
        # Keyed by `UUID.int`: a UUID hashes and compares in Python, an int in C (a dozen lookups a call).
        self._entries: dict[int, tuple[bool, datetime | None]] = {}
        self._networks: dict[int, IpNetwork] = {}  # IP entries wider than one address, active or not
        self._changed_at: dict[int, int] = {}
        self._cached: dict[int, tuple[int, Any]] = {}
        self._sized = sized  # bounds `_cached` by bytes too, when given
        self._cached_sizes: dict[int, int] = {}
        self._cached_bytes = 0
        self._position = 0
        self._lock = threading.Lock()
        self._reaching: asyncio.Future[int] | None = None  # a catch-up to a head read through the link
        self._following: asyncio.Future[None] | None = None  # a catch-up that no call waits for
        self._followed = 0  # the newest head `follow` was given

    def hit(self, candidates: Iterable[tuple[BlacklistType, str | None]], now: datetime) -> BlacklistType | None:
        """The first candidate type whose value is blocked at `now`, or None (call `catch_up` first)."""
        for entry_type, value in candidates:
            if value:
                active, expires_at = self._entries.get(entry_id(entry_type, value).int, (False, None))
                if active and (expires_at is None or expires_at > now):
                    return entry_type
                if entry_type is BlacklistType.IP and self._networks and self._in_network(value, now):
                    return entry_type
        return None

    def _in_network(self, ip: str, now: datetime) -> bool:
        """Whether `ip` lies in a network (CIDR) entry that blocks at `now`."""
        blocking = [network for key, network in self._networks.items()
                    if (state := self._entries.get(key)) and state[0] and (state[1] is None or state[1] > now)]
        return address_in(ip, blocking)

    def current(self, aggregate_id: UUID | None, kind: type, head: int, load: Callable[[UUID], Any]) -> Any:
        """A license or product as of `head` (shared: callers never change it), loaded again when stale."""
        if aggregate_id is None:
            return None
        key = aggregate_id.int
        loaded_at, aggregate = self._cached.get(key, (-1, None))
        if loaded_at < self._changed_at.get(key, 0):
            aggregate = load(aggregate_id)
            self._keep(key, head, aggregate)
        return aggregate if isinstance(aggregate, kind) else None

    def _keep(self, key: int, head: int, aggregate: Any) -> None:
        """Remember `aggregate` as of `head`; the oldest go while there are too many, or too many bytes."""
        self._cached.pop(key, None)
        self._cached[key] = (head, aggregate)
        if self._sized is not None:
            size = self._sized.size_of(aggregate)
            self._cached_bytes += size - self._cached_sizes.get(key, 0)
            self._cached_sizes[key] = size
        while len(self._cached) > MAX_CACHED or (
                self._sized is not None and self._cached_bytes > self._sized.max_bytes and len(self._cached) > 1):
            dropped = next(iter(self._cached))
            del self._cached[dropped]
            self._cached_bytes -= self._cached_sizes.pop(dropped, 0)

    def is_current(self, aggregate_id: UUID | None) -> bool:
        """Whether `current` would answer from memory (no id is trivially answered: None)."""
        if aggregate_id is None:
            return True
        key = aggregate_id.int
        loaded_at, _ = self._cached.get(key, (-1, None))
        return loaded_at >= self._changed_at.get(key, 0)

    @property
    def position(self) -> int:
        """The log position up to which every change is applied: memory answers as of here."""
        return self._position

    def follow(self, head: int) -> None:
        """Start catching up to `head` (a thread) if behind it, without waiting: calls decided from memory
        keep working while the log moves, and the view keeps near the head for the calls after them. A head
        given while a catch-up runs is reached after it."""
        self._followed = max(self._followed, head)
        if head > self._position and (self._following is None or self._following.done()):
            self._following = asyncio.ensure_future(self._follow())
            self._following.add_done_callback(retrieved)  # a failure is retried by the next call

    async def _follow(self) -> None:
        while self._position < self._followed:
            await self.reach(self._followed)

    def cached(self, aggregate_id: UUID | None) -> Any:
        return self._cached.get(aggregate_id.int, (-1, None))[1] if aggregate_id is not None else None

    async def fresh(self) -> int:
        """`catch_up` for an event loop: a head read after this call arrived (shared with the calls that
        arrived with it, adapters/heads.py), then the log up to it in a thread, only when the head moved."""
        head = await self._head.read_async()
        if head > self._position:
            await self.reach(head)
        return head

    async def reach(self, head: int) -> None:
        """Read the log up to `head` in a thread, one catch-up shared by the calls of a loop that need it."""
        loop = asyncio.get_running_loop()
        while self._position < head:
            reading = self._reaching
            # A catch-up that is done may not be cleared yet (its callback runs next turn), and awaiting a done
            # future does not yield: awaited again, it would spin this loop for ever.
            if reading is None or reading.done() or reading.get_loop() is not loop:
                reading = self._reaching = asyncio.ensure_future(asyncio.to_thread(self.catch_up, head))
                reading.add_done_callback(self._reached)
            await asyncio.shield(reading)  # one caller going away must not cancel the others' catch-up

    def _reached(self, reading: asyncio.Future[int]) -> None:
        if self._reaching is reading:
            self._reaching = None

    def catch_up(self, head: int | None = None) -> int:
        """Read what changed since the last call (up to `head` when it was just read); returns the head the
        call may rely on."""
        head = self._head() if head is None else head
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
        self._changed_at[notification.originator_id.int] = notification.id
        if not notification.topic.startswith(get_topic(BlacklistEntry)):
            return
        event = self._mapper.to_domain_event(notification)
        if isinstance(event, BlacklistEntry.Removed | BlacklistEntry.Expired):
            self._entries[event.originator_id.int] = (False, None)
        else:
            self._entries[event.originator_id.int] = (True, event.expires_at)
        if isinstance(event, BlacklistEntry.Added) and (network := network_of(event.entry_type, event.value)):
            self._networks[event.originator_id.int] = network


def retrieved(done: asyncio.Future[Any]) -> None:
    """A done-callback for a future nobody awaits any more: its exception counts as seen, not warned about."""
    if not done.cancelled():
        done.exception()
