"""The live event stream's read side: which events it shows, to whom, how far it may go, and each one's shape.

Who owns an event is read as the audit export reads it (projections/audit_export.py: the stats read model's
owner tables), so the stream goes no further than the stats read model has reached: every event it passes
over for a vendor was judged with its owner known, and none is held back for ever. An event is shown as the
license history shows one (projections/history.py), never with a secret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.account import Account
from domain.blacklist import BlacklistEntry
from domain.instants import utc_text
from domain.license import License
from domain.product import Product
from domain.security import SecurityAlert
from domain.session import Session
from domain.webhook import Webhook
from projections.audit_export import ExportScope, _owned
from projections.db import ReadStore
from projections.history import changes
from projections.state_at import event_time
from projections.stats import StatsProjection

PUBLIC_AGGREGATES = (Account, Product, License, Session, BlacklistEntry, Webhook, SecurityAlert)
"""Aggregates whose events the stream shows; the index aggregates behind uniqueness are bookkeeping."""

EVENT_TYPES: dict[type, str] = {
    kind: kind.__qualname__ for aggregate in PUBLIC_AGGREGATES for kind in vars(aggregate).values()
    if isinstance(kind, type) and issubclass(kind, aggregate.Event) and kind.__name__ != "Event"
    and (kind.__name__ != "Created" or vars(kind).get("__annotations__"))}  # not the library's unused default
"""Event class → the name the stream gives it (`License.Suspended`), as the license history names it."""

TYPE_NAMES = frozenset(EVENT_TYPES.values())
FOLLOWS = StatsProjection.name
"""The read model whose position bounds the stream (its owner tables decide who sees an event)."""


@dataclass(frozen=True)
class StreamScope:
    """Whose events a stream shows (`owner_id` None: everyone's), of which product, of which types (None: all)."""

    owner_id: str | None = None
    product_id: str | None = None
    types: frozenset[str] | None = None


def stream_position(store: ReadStore, application_name: str) -> int:
    """How far the stream may go: the position the stats read model has reached."""
    rows = store.query("SELECT notification_id FROM projection_tracking WHERE projection = ? AND application_name = ?",
                       (FOLLOWS, application_name))
    return int(rows[0]["notification_id"]) if rows else 0


def in_scope(store: ReadStore, events: Sequence[tuple[int, Any]], scope: StreamScope) -> list[tuple[int, Any]]:
    """The events the scope shows, in order: of a public type asked for, and, for a vendor or a product, one
    whose aggregate (or the product or license it names) the owner tables give to that vendor or product."""
    shown = [(position, event) for position, event in events if (name := EVENT_TYPES.get(type(event))) is not None
             and (scope.types is None or name in scope.types)]
    if scope.owner_id is None and scope.product_id is None:
        return shown
    subjects = {position: _subjects(event) for position, event in shown}
    owned = _owned(store, set().union(*subjects.values()), ExportScope(product_id=scope.product_id,
                                                                      tenant_id=scope.owner_id))
    return [(position, event) for position, event in shown if subjects[position] & owned]


def _subjects(event: Any) -> set[str]:
    """The ids an event concerns: its aggregate's, and the product or license it names (a security alert's)."""
    found = {str(event.originator_id)}
    for name in ("product_id", "license_id"):
        if (value := getattr(event, name, None)) is not None:
            found.add(str(value))
    return found


def stream_event(position: int, event: Any) -> dict[str, Any]:
    """One event as the stream sends it: the license history's shape (position, aggregate, version, type, time,
    what changed)."""
    return {"position": position, "aggregate_id": str(event.originator_id), "version": event.originator_version,
            "type": EVENT_TYPES[type(event)], "at": utc_text(event_time(event)), "changes": changes(event)}
