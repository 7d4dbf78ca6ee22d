"""Projection machinery: a tracking view per read model and the base every projection extends.

Built on eventsourcing's `Projection`, `Tracking` and `TrackingRecorder`: a projection
applies a batch of events and records the last one's position in the same transaction,
so a crash either keeps both or neither. The transaction first locks the tracking row and
reads the position there, so any number of projector processes take turns and each event
is applied exactly once (docs/decisions/0001-exactly-once-projections.md).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
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
            if self.claim_position(cursor, tracking.application_name) >= tracking.notification_id:
                raise IntegrityError(f"{self.projection_name} already at or past {tracking.notification_id}")
            self.record_tracking(cursor, tracking)

    def claim_position(self, cursor: Cursor, application_name: str) -> int:
        """Lock this read model's tracking row until the transaction ends, and return its position. Projectors in
        other processes wait here for each other, so each reads the position the last one committed and applies
        only what lies past it: every event lands exactly once."""
        cursor.execute(
            "INSERT INTO projection_tracking (projection, application_name, notification_id) VALUES (?, ?, 0)"
            " ON CONFLICT (projection, application_name)"
            " DO UPDATE SET notification_id = projection_tracking.notification_id RETURNING notification_id",
            (self.projection_name, application_name),
        )
        return int(cursor.fetchone()["notification_id"])

    def record_tracking(self, cursor: Cursor, tracking: Tracking) -> None:
        """Move the position claimed in this transaction (`claim_position`) to `tracking`."""
        cursor.execute(
            "UPDATE projection_tracking SET notification_id = ? WHERE projection = ? AND application_name = ?",
            (tracking.notification_id, self.projection_name, tracking.application_name),
        )

    def quarantine(self, tracking: Tracking, after: int, topic: str, error: str, at: datetime) -> int:
        """Pass over an event this read model cannot apply: its position moves past it, and the event,
        with the error, is kept in `projection_quarantine` until a rebuild applies it (one transaction).
        Returns the position afterwards (another process may have got past the event first)."""
        with self.store.transaction() as cursor:
            position = self.claim_position(cursor, tracking.application_name)
            if position >= tracking.notification_id:
                return position
            _require_contiguous(self.projection_name, position, after)
            cursor.execute(
                "INSERT INTO projection_quarantine (projection, application_name, notification_id, topic, error, at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (projection, application_name, notification_id) DO NOTHING",
                (self.projection_name, tracking.application_name, tracking.notification_id, topic, error[:2000],
                 utc_text(at)),
            )
            self.record_tracking(cursor, tracking)
        self.notify_advanced()
        return tracking.notification_id

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

    def process_batch(self, batch: Sequence[tuple[Any, Tracking]], after: int | None = None) -> int:
        """Apply the events past this read model's position and record the last one, in one transaction; returns the
        position afterwards. Events another process applied meanwhile are skipped. `after` is the position the
        batch was read from: a recorded position behind it would leave a gap, so the batch is refused instead."""
        if not batch:
            return after or 0
        application_name = batch[0][1].application_name
        with self.view.store.transaction(durable=False) as cursor:  # rows and position are lost together, or kept
            position = self.view.claim_position(cursor, application_name)
            if after is not None:
                _require_contiguous(self.name, position, after)
            pending = [item for item in batch if item[1].notification_id > position]
            for domain_event, tracking in pending:
                self.position = tracking.notification_id
                self.apply(cursor, domain_event)
            if pending:
                self.view.record_tracking(cursor, pending[-1][1])
                position = pending[-1][1].notification_id
        self.view.notify_advanced()
        return position

    def apply(self, cursor: Cursor, event: Any) -> None:
        """Upsert the rows this event changes; events the model ignores fall through."""
        raise NotImplementedError


class PositionBehindError(IntegrityError):
    """Raised when a read model's recorded position is behind where its batch was read from (it was dropped
    for a rebuild meanwhile): applying the batch would skip the events in between."""


class ReadModelsBehindError(Exception):
    """Raised when a change is recorded but the read models an answer reads have not reached it in time (or
    could not be reached: `unreachable`)."""

    def __init__(self, position: int, unreachable: bool = False) -> None:
        super().__init__(f"read models have not reached position {position}")
        self.position = position
        self.unreachable = unreachable


def _require_contiguous(name: str, position: int, after: int) -> None:
    if position < after:
        raise PositionBehindError(f"{name} is at {position}, behind the batch read after {after}")


def iso(at: datetime | None) -> str | None:
    """Fixed-width UTC ISO-8601, so timestamps compare and sort correctly as text."""
    return None if at is None else utc_text(at)


_ENCODE = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode  # json.dumps builds one per call


def to_json(value: Any) -> str:
    return _ENCODE(value)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def page_bounds(page: int, limit: int) -> tuple[int, int]:
    return limit, (page - 1) * limit


def pagination(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "total": total, "pages": (total + limit - 1) // limit}
