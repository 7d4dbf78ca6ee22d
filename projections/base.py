"""Projection machinery: a tracking view per read model and the base every projection extends.

Built on eventsourcing's `Projection`, `Tracking` and `TrackingRecorder`: a projection
applies a batch of events and records the last one's position in the same transaction,
so a crash either keeps both or neither (exactly once), and a redelivered batch is refused.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from domain.instants import utc_text
from projections.db import Cursor, ReadStore

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " projection TEXT NOT NULL, application_name TEXT NOT NULL, notification_id BIGINT NOT NULL,"
    " PRIMARY KEY (projection, application_name))"
)
QUARANTINE_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_quarantine ("
    " projection TEXT NOT NULL, application_name TEXT NOT NULL, notification_id BIGINT NOT NULL,"
    " topic TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL,"
    " PRIMARY KEY (projection, application_name, notification_id))"
)


class ProjectionView(TrackingRecorder):
    """The tracking half of one read model: its position in the application's log."""

    def __init__(self, store: ReadStore, projection_name: str) -> None:
        self.store = store
        self.projection_name = projection_name
        self._advanced = threading.Condition()

    def create_table(self) -> None:
        with self.store.transaction() as cursor:
            cursor.execute(TRACKING_DDL)
            cursor.execute(QUARANTINE_DDL)

    def insert_tracking(self, tracking: Tracking) -> None:
        with self.store.transaction() as cursor:
            self.record_tracking(cursor, tracking)

    def record_tracking(self, cursor: Cursor, tracking: Tracking) -> None:
        """Advance the position; refuse (roll the batch back) if another worker got there first."""
        cursor.execute(
            "INSERT INTO projection_tracking (projection, application_name, notification_id) VALUES (?, ?, ?)"
            " ON CONFLICT (projection, application_name) DO UPDATE SET notification_id = excluded.notification_id"
            " WHERE projection_tracking.notification_id < excluded.notification_id",
            (self.projection_name, tracking.application_name, tracking.notification_id),
        )
        if cursor.rowcount != 1:
            raise IntegrityError(f"{self.projection_name} already past {tracking.notification_id}")

    def quarantine(self, tracking: Tracking, topic: str, error: str, at: datetime) -> None:
        """Pass over an event this read model cannot apply: its position moves past it, and the event,
        with the error, is kept in `projection_quarantine` until a rebuild applies it (one transaction)."""
        with self.store.transaction() as cursor:
            cursor.execute(
                "INSERT INTO projection_quarantine (projection, application_name, notification_id, topic, error, at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (projection, application_name, notification_id) DO NOTHING",
                (self.projection_name, tracking.application_name, tracking.notification_id, topic, error[:2000],
                 utc_text(at)),
            )
            self.record_tracking(cursor, tracking)
        self.notify_advanced()

    def quarantined(self, application_name: str) -> list[dict[str, Any]]:
        """The events this read model passed over, oldest first."""
        return self.store.query(
            "SELECT notification_id, topic, error, at FROM projection_quarantine"
            " WHERE projection = ? AND application_name = ? ORDER BY notification_id",
            (self.projection_name, application_name),
        )

    def max_tracking_id(self, application_name: str) -> int | None:
        rows = self.store.query(
            "SELECT notification_id FROM projection_tracking WHERE projection = ? AND application_name = ?",
            (self.projection_name, application_name),
        )
        return rows[0]["notification_id"] if rows else None

    def notify_advanced(self) -> None:
        with self._advanced:
            self._advanced.notify_all()

    def wait(self, application_name: str, notification_id: int | None, timeout: float = 1.0,
             interrupt: threading.Event | None = None) -> None:
        """Block until the view has reached `notification_id` (TimeoutError after `timeout`).

        Woken at once by an in-process projector; polls briefly for one in another process.
        """
        deadline = time.monotonic() + timeout
        while not self.has_tracking_id(application_name, notification_id):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.projection_name} has not reached {notification_id}")
            with self._advanced:
                self._advanced.wait(min(remaining, 0.02))


class ReadModelProjection(Projection[ProjectionView]):
    """One read model: its tables (DDL), and `apply()` turning an event into row upserts."""

    name: ClassVar[str] = ""
    tables: ClassVar[Sequence[str]] = ()
    ddl: ClassVar[Sequence[str]] = ()
    position: int = 0
    """The notification id of the event being applied: an order a rebuild reproduces."""

    def create_tables(self) -> None:
        self.view.create_table()
        with self.view.store.transaction() as cursor:
            for statement in self.ddl:
                cursor.execute(statement)

    def drop_tables(self) -> None:
        """Forget the model and its position, so the next run rebuilds it from the store."""
        with self.view.store.transaction() as cursor:
            for table in self.tables:
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(TRACKING_DDL)
            cursor.execute(QUARANTINE_DDL)
            cursor.execute("DELETE FROM projection_tracking WHERE projection = ?", (self.name,))
            cursor.execute("DELETE FROM projection_quarantine WHERE projection = ?", (self.name,))

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.process_batch([(domain_event, tracking)])

    def process_batch(self, batch: Iterable[tuple[Any, Tracking]]) -> None:
        """Apply every event and record the last position, all in one transaction."""
        last: Tracking | None = None
        with self.view.store.transaction() as cursor:
            for domain_event, tracking in batch:
                self.position = tracking.notification_id
                self.apply(cursor, domain_event)
                last = tracking
            if last is not None:
                self.view.record_tracking(cursor, last)
        self.view.notify_advanced()

    def apply(self, cursor: Cursor, event: Any) -> None:
        """Upsert the rows this event changes; events the model ignores fall through."""
        raise NotImplementedError


def iso(at: datetime | None) -> str | None:
    """Fixed-width UTC ISO-8601, so timestamps compare and sort correctly as text."""
    return None if at is None else utc_text(at)


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def page_bounds(page: int, limit: int) -> tuple[int, int]:
    return limit, (page - 1) * limit


def pagination(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total, "pages": (total + limit - 1) // limit}
