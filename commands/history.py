"""Reading one aggregate's own events back from the store, oldest first: what history and state-at-a-time replay."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

PAGE = 1000


def events_of(app: Any, aggregate_id: UUID, after_version: int = 0) -> Iterator[Any]:
    """The aggregate's events past `after_version`, decoded (and upcast) as the application decodes them, read a
    page at a time; none for an id the store has never seen."""
    while stored := app.recorder.select_events(aggregate_id, gt=after_version or None, limit=PAGE):
        for record in stored:
            yield app.mapper.to_domain_event(record)
        after_version = stored[-1].originator_version


def events_between(app: Any, aggregate_id: UUID, after_version: int, through_version: int) -> list[Any]:
    """The aggregate's events with versions in (after_version, through_version], decoded."""
    stored = app.recorder.select_events(aggregate_id, gt=after_version or None, lte=through_version)
    return [app.mapper.to_domain_event(record) for record in stored]


def first_event(app: Any, aggregate_id: UUID) -> Any | None:
    """The event that created the aggregate (None: the store has never seen the id); kept after a deletion."""
    stored = app.recorder.select_events(aggregate_id, limit=1)
    return app.mapper.to_domain_event(stored[0]) if stored else None


def last_version(app: Any, aggregate_id: UUID) -> int:
    stored = app.recorder.select_events(aggregate_id, desc=True, limit=1)
    return stored[0].originator_version if stored else 0
