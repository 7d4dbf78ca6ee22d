"""Blacklist read model: every entry, active or not (`GET /security/blacklist`), and the sweeper's work list.

An entry blocks while it is active and its expiry, if any, lies ahead; the client path decides
that from the event log itself (commands/client_view.py), so this model only lists entries. An
entry whose expiry passed is shown inactive at once; the sweeper records its `Expired` later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.blacklist import BlacklistEntry
from projections.base import ReadModelProjection, iso, page_bounds, pagination
from projections.db import Cursor, ReadStore, Row

ACTIVE = "is_active = 1 AND (expires_at IS NULL OR expires_at > ?)"
INACTIVE = "(is_active = 0 OR expires_at <= ?)"


class BlacklistProjection(ReadModelProjection):
    """One row per entry; re-adding a value updates its row (the entry's id is derived from type and value)."""

    name = "blacklist"
    tables = ("blacklist",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS blacklist ("
        " id TEXT PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL, reason TEXT NOT NULL, severity TEXT NOT NULL,"
        " expires_at TEXT, is_active INTEGER NOT NULL, added_by TEXT, created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL, ended_at TEXT, end_reason TEXT, seq BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS blacklist_seq ON blacklist (seq)",
        "CREATE INDEX IF NOT EXISTS blacklist_expiring ON blacklist (expires_at) WHERE is_active = 1",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case BlacklistEntry.Added():
                self.entry_added(cursor, event)
            case BlacklistEntry.Readded():
                cursor.execute(
                    "UPDATE blacklist SET reason = ?, severity = ?, expires_at = ?, added_by = ?, is_active = 1,"
                    " updated_at = ?, ended_at = NULL, end_reason = NULL, seq = ? WHERE id = ?",
                    (event.reason, event.severity.value, iso(event.expires_at), _text(event.added_by), iso(event.at),
                     self.position, str(event.originator_id)))
            case BlacklistEntry.Removed():
                self.entry_ended(cursor, event, "removed")
            case BlacklistEntry.Expired():
                self.entry_ended(cursor, event, "expired")
            case _:
                pass

    def entry_added(self, cursor: Cursor, event: Any) -> None:
        cursor.execute(
            "INSERT INTO blacklist VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, NULL, NULL, ?) ON CONFLICT (id) DO NOTHING",
            (str(event.originator_id), event.entry_type.value, event.value, event.reason, event.severity.value,
             iso(event.expires_at), _text(event.added_by), iso(event.at), iso(event.at), self.position))

    def entry_ended(self, cursor: Cursor, event: Any, reason: str) -> None:
        cursor.execute("UPDATE blacklist SET is_active = 0, updated_at = ?, ended_at = ?, end_reason = ? WHERE id = ?",
                       (iso(event.at), iso(event.at), reason, str(event.originator_id)))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def shape_entry(row: Row, now: datetime) -> Row:
    active = bool(row["is_active"]) and (row["expires_at"] is None or row["expires_at"] > iso(now))
    return {
        "id": row["id"], "type": row["type"], "value": row["value"], "reason": row["reason"],
        "severity": row["severity"], "expires_at": row["expires_at"], "is_active": active,
        "added_by": row["added_by"], "created_at": row["created_at"], "updated_at": row["updated_at"],
        "ended_at": row["ended_at"], "end_reason": row["end_reason"],
    }


def get_entry(store: ReadStore, entry_id: str, now: datetime) -> Row | None:
    rows = store.query("SELECT * FROM blacklist WHERE id = ?", (entry_id,))
    return shape_entry(rows[0], now) if rows else None


def list_entries(
    store: ReadStore,
    now: datetime,
    *,
    entry_type: str | None = None,
    severity: str | None = None,
    is_active: bool | None = None,
    page: int = 1,
    limit: int = 20,
) -> tuple[list[Row], dict[str, int]]:
    """The spec's filters (type, severity, active or not) and pagination, most recently changed first."""
    conditions, params = ["1 = 1"], []
    for column, value in (("type", entry_type), ("severity", severity)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if is_active is not None:
        conditions.append(ACTIVE if is_active else INACTIVE)
        params.append(iso(now))
    where = " AND ".join(conditions)
    total = store.query(f"SELECT COUNT(*) AS n FROM blacklist WHERE {where}", params)[0]["n"]
    size, offset = page_bounds(page, limit)
    rows = store.query(f"SELECT * FROM blacklist WHERE {where} ORDER BY seq DESC, id LIMIT ? OFFSET ?",
                       [*params, size, offset])
    return [shape_entry(row, now) for row in rows], pagination(page, limit, total)


def lapsed_entry_ids(store: ReadStore, now: datetime) -> list[str]:
    """Active entries whose expiry has passed and which have no `Expired` yet (the sweeper's work list)."""
    rows = store.query("SELECT id FROM blacklist WHERE is_active = 1 AND expires_at <= ? ORDER BY expires_at",
                       (iso(now),))
    return [row["id"] for row in rows]


def count_active_entries(store: ReadStore, now: datetime) -> int:
    """Entries blocking at `now` (the security overview's `active_blacklist`)."""
    return store.query(f"SELECT COUNT(*) AS n FROM blacklist WHERE {ACTIVE}", (iso(now),))[0]["n"]
