"""A license's history: its events (and its sessions'), and its client calls, in the order the audit chain
linked them, a page at a time, each with its position and hash; and what each event changed, without secrets."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from domain.actor import UNKNOWN
from domain.audit import CALLS, EVENTS
from domain.instants import utc_text
from projections.db import ReadStore, Row

BOOKKEEPING = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "at", "actor"})
SECRET = re.compile(r"secret|token|password|hash|nonce|sealed", re.IGNORECASE)
"""Fields never shown in a history, whatever the event: a secret, or something derived from one."""


def session_ids(store: ReadStore, license_id: str) -> list[str]:
    """Every session the license ever had (the sessions read model keeps ended ones)."""
    return [row["id"] for row in store.query("SELECT id FROM sessions WHERE license_id = ?", (license_id,))]


def linked_events(store: ReadStore, record_ids: list[str], page: int, limit: int) -> tuple[list[Row], int]:
    """A page of these aggregates' events as linked (position, record_id, version, hash), in position order,
    and how many there are."""
    marks = ", ".join("?" for _ in record_ids)
    where = f"WHERE chain = ? AND record_id IN ({marks})"
    total = store.query(f"SELECT COUNT(*) AS n FROM audit_links {where}", [EVENTS, *record_ids])[0]["n"]
    rows = store.query(f"SELECT position, record_id, version, hash FROM audit_links {where}"
                       " ORDER BY position LIMIT ? OFFSET ?", [EVENTS, *record_ids, limit, (page - 1) * limit])
    return rows, int(total)


def linked_calls(store: ReadStore, license_id: str, page: int, limit: int) -> tuple[list[Row], int]:
    """A page of the license's client calls as linked (position, hash), in position order, and how many."""
    where = "WHERE chain = ? AND record_id = ?"
    total = store.query(f"SELECT COUNT(*) AS n FROM audit_links {where}", (CALLS, license_id))[0]["n"]
    rows = store.query(f"SELECT position, hash FROM audit_links {where} ORDER BY position LIMIT ? OFFSET ?",
                       (CALLS, license_id, limit, (page - 1) * limit))
    return rows, int(total)


def actor_of(event: Any) -> dict[str, Any]:
    """Who caused the event and how (domain/actor.py), as JSON values; `unknown` for one stored without."""
    return getattr(event, "actor", UNKNOWN).as_dict()


def changes(event: Any) -> dict[str, Any]:
    """What an event says happened, as JSON values: its own fields, without bookkeeping and never a secret."""
    return {name: plain(value) for name, value in vars(event).items()
            if name not in BOOKKEEPING and not SECRET.search(name)}


def plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if not SECRET.search(str(k))}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
