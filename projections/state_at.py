"""State at a past time: an aggregate's events up to then, replayed through its read model's own projection.

The events are applied by the same projection that keeps the live read model, into a private
in-memory copy of its tables, and the row is read back with the same query; so a license or
product "as it was" has exactly the shape (and the tenancy) of the live answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from domain.audit import EVENTS
from projections.base import ProjectionView, ReadModelProjection
from projections.db import ReadStore, Row, SQLiteReadStore


def event_time(event: Any) -> datetime:
    """When an event happened: the time its command was given (`at`), else when it was recorded."""
    return getattr(event, "at", None) or event.timestamp


def replay_until(events: Iterable[Any], at: datetime, projection_class: type[ReadModelProjection],
                 read: Callable[[ReadStore], Row | None]) -> tuple[Row | None, Any]:
    """`read` over the projection's tables after the events up to `at`; and the last event applied (None
    when there was none: the aggregate did not exist yet)."""
    store = SQLiteReadStore(Path(":memory:"))
    try:
        projection = projection_class(view=ProjectionView(store, projection_class.name))
        last = None
        with store.transaction() as cursor:
            for statement in projection_class.ddl:
                cursor.execute(statement)
            for event in events:
                if event_time(event) > at:
                    break
                projection.apply(cursor, event)
                last = event
        return (read(store) if last is not None else None), last
    finally:
        store.close()


def position_of(store: ReadStore, aggregate_id: str, version: int) -> int | None:
    """The event store position of an aggregate's event, as the audit chain linked it (None: not linked yet)."""
    rows = store.query("SELECT position FROM audit_links WHERE chain = ? AND record_id = ? AND version = ?",
                       (EVENTS, aggregate_id, version))
    return int(rows[0]["position"]) if rows else None
