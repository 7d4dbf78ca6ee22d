"""The blacklist as the client path sees it: in memory, brought up to the log's head on every check.

Each client call would otherwise read three BlacklistEntry streams (license key, HWID, IP),
which almost never exist. Instead the index asks the store for its head (one query) and, only
when the head moved, reads the blacklist events recorded since. It is therefore exactly as
current as the store itself, in every process: an entry added anywhere blocks the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.blacklist import BlacklistEntry, BlacklistType, blacklist_entry_id

TOPICS = tuple(get_topic(cls) for cls in (BlacklistEntry.Added, BlacklistEntry.Readded, BlacklistEntry.Removed))


class BlacklistIndex:
    """Entry id → (active, expires_at), for every entry ever recorded."""

    def __init__(self, recorder: Any, mapper: Any) -> None:
        self._recorder = recorder
        self._mapper = mapper
        self._entries: dict[UUID, tuple[bool, datetime | None]] = {}
        self._position = 0
        self._lock = threading.Lock()

    def hit(self, candidates: Iterable[tuple[BlacklistType, str | None]], now: datetime) -> BlacklistType | None:
        """The first candidate type whose value is blocked at `now`, or None."""
        self._catch_up()
        for entry_type, value in candidates:
            if value:
                active, expires_at = self._entries.get(blacklist_entry_id(entry_type, value), (False, None))
                if active and (expires_at is None or expires_at > now):
                    return entry_type
        return None

    def _catch_up(self) -> None:
        head = self._recorder.max_notification_id() or 0
        if head <= self._position:
            return
        with self._lock:
            while self._position < head:
                notifications = self._recorder.select_notifications(
                    start=self._position, stop=head, limit=1000, topics=TOPICS, inclusive_of_start=False)
                for notification in notifications:
                    self._apply(self._mapper.to_domain_event(notification))
                if len(notifications) < 1000:
                    self._position = head
                else:
                    self._position = notifications[-1].id

    def _apply(self, event: Any) -> None:
        if isinstance(event, BlacklistEntry.Removed):
            self._entries[event.originator_id] = (False, None)
        else:
            self._entries[event.originator_id] = (True, event.expires_at)
