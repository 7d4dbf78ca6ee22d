"""What the client path reads, kept in memory and brought up to the log's head on every call.

Each client call would otherwise read the license, the product and three BlacklistEntry
streams (license key, HWID, IP) that almost never exist. Instead the view asks the store for
its head (one query) and, only when the head moved, reads the license, product and blacklist
events recorded since (one more). Licenses and products are cached with the head at which
they were loaded and reloaded once an event about them lies past that point. The view is
therefore exactly as current as the store at the start of the call, in every process: a
suspension, a deletion or a blacklist entry recorded anywhere applies to the next call.
"""

from __future__ import annotations

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


class ClientView:
    """Blacklist entries, plus the position of the last change to each license and product."""

    def __init__(self, recorder: Any, mapper: Any) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._entries: dict[UUID, tuple[bool, datetime | None]] = {}
        self._changed_at: dict[UUID, int] = {}
        self._cached: dict[UUID, tuple[int, Any]] = {}
        self._position = 0
        self._lock = threading.Lock()

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
            if aggregate is not None:
                self._cached[aggregate_id] = (head, aggregate)
        return aggregate if isinstance(aggregate, kind) else None

    def catch_up(self) -> int:
        """Read what changed since the last call; returns the head the call may rely on."""
        head = self._recorder.max_notification_id() or 0
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
