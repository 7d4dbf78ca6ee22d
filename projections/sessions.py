"""Sessions read model: every client session, live or ended (`GET /security/sessions`), and the sweeper's work list.

A session stops working on the very next call once it lapses, its device is released, its
license's sessions are revoked or its license or product is deleted; its `Session.Ended` is
recorded later by the sweeper. Until then `released` marks the sessions those license and
product events cut off, so the sweeper finds them without loading every session.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.license import License
from domain.product import Product
from domain.session import Session
from projections.base import ReadModelProjection, iso, page_bounds, pagination
from projections.db import Cursor, ReadStore, Row

OPEN = "ended_at IS NULL"
ACTIVE = "ended_at IS NULL AND released = 0 AND expires_at > ?"
INACTIVE = "(ended_at IS NOT NULL OR released = 1 OR expires_at <= ?)"


class SessionListProjection(ReadModelProjection):
    """One row per session; `version` is the last session event applied, so a redelivered heartbeat counts once."""

    name = "sessions"
    tables = ("sessions",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS sessions ("
        " id TEXT PRIMARY KEY, license_id TEXT NOT NULL, product_id TEXT NOT NULL, hwid TEXT NOT NULL, ip TEXT,"
        " started_at TEXT NOT NULL, last_heartbeat_at TEXT, heartbeats INTEGER NOT NULL, expires_at TEXT NOT NULL,"
        " ended_at TEXT, end_reason TEXT, released INTEGER NOT NULL, seq BIGINT NOT NULL, version INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS sessions_seq ON sessions (seq)",
        "CREATE INDEX IF NOT EXISTS sessions_license ON sessions (license_id, seq)",
        "CREATE INDEX IF NOT EXISTS sessions_product ON sessions (product_id)",
        "CREATE INDEX IF NOT EXISTS sessions_open ON sessions (expires_at) WHERE ended_at IS NULL",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case Session.Started():
                self.session_started(cursor, event)
            case Session.HeartbeatReceived():
                self.heartbeat_received(cursor, event)
            case Session.Ended():
                cursor.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?",
                               (iso(event.at), event.reason.value, str(event.originator_id)))
            case License.DeactivatedOnDevice():
                self.release(cursor, "license_id = ? AND hwid = ?", str(event.originator_id), event.hwid)
            case License.HwidReset() | License.Deleted():
                self.release(cursor, "license_id = ?", str(event.originator_id))
            case License.SessionsRevoked():
                self.release(cursor, "license_id = ? AND started_at <= ?", str(event.originator_id), iso(event.at))
            case Product.Deleted():
                self.release(cursor, "product_id = ?", str(event.originator_id))
            case _:
                pass

    def session_started(self, cursor: Cursor, event: Any) -> None:
        cursor.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, NULL, 0, ?, NULL, NULL, 0, ?, ?) ON CONFLICT (id) DO NOTHING",
            (str(event.originator_id), str(event.license_id), str(event.product_id), event.hwid, event.ip,
             iso(event.at), iso(event.expires_at), self.position, event.originator_version),
        )

    def heartbeat_received(self, cursor: Cursor, event: Any) -> None:
        cursor.execute(
            "UPDATE sessions SET last_heartbeat_at = ?, heartbeats = heartbeats + 1, expires_at = ?, version = ?"
            " WHERE id = ? AND version < ?",
            (iso(event.at), iso(event.expires_at), event.originator_version, str(event.originator_id),
             event.originator_version),
        )

    def release(self, cursor: Cursor, condition: str, *params: Any) -> None:
        """Mark the open sessions the event cuts off: they can no longer run, whatever their expiry says."""
        cursor.execute(f"UPDATE sessions SET released = 1 WHERE {OPEN} AND {condition}", params)


def shape_session(row: Row, now: datetime) -> Row:
    released = bool(row["released"])
    return {
        "id": row["id"], "license_id": row["license_id"], "product_id": row["product_id"], "hwid": row["hwid"],
        "ip_address": row["ip"], "started_at": row["started_at"], "last_heartbeat_at": row["last_heartbeat_at"],
        "heartbeats": row["heartbeats"], "expires_at": row["expires_at"], "ended_at": row["ended_at"],
        "end_reason": row["end_reason"], "released": released,
        "is_active": row["ended_at"] is None and not released and row["expires_at"] > iso(now),
    }


def sessions_to_close(store: ReadStore, now: datetime) -> list[str]:
    """Sessions that can no longer run but have no `Session.Ended` yet, oldest first (the sweeper's work list)."""
    rows = store.query(f"SELECT id FROM sessions WHERE {OPEN} AND (released = 1 OR expires_at <= ?) ORDER BY seq",
                       (iso(now),))
    return [row["id"] for row in rows]


def list_sessions(
    store: ReadStore,
    now: datetime,
    *,
    license_id: str | None = None,
    is_active: bool | None = None,
    page: int = 1,
    limit: int = 20,
) -> tuple[list[Row], dict[str, int]]:
    """The spec's filters (license, active or not) and pagination, newest first."""
    conditions, params = ["1 = 1"], []
    if license_id is not None:
        conditions.append("license_id = ?")
        params.append(license_id)
    if is_active is not None:
        conditions.append(ACTIVE if is_active else INACTIVE)
        params.append(iso(now))
    where = " AND ".join(conditions)
    total = store.query(f"SELECT COUNT(*) AS n FROM sessions WHERE {where}", params)[0]["n"]
    size, offset = page_bounds(page, limit)
    rows = store.query(f"SELECT * FROM sessions WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                       [*params, size, offset])
    return [shape_session(row, now) for row in rows], pagination(page, limit, total)


def open_sessions_on_device(store: ReadStore, license_id: str, hwid: str, limit: int = 5) -> list[str]:
    """The sessions of a license on one device that had neither ended nor been cut off when this read model
    last heard, newest first: candidates, which whoever asks checks against the aggregates."""
    rows = store.query(f"SELECT id FROM sessions WHERE license_id = ? AND hwid = ? AND {OPEN} AND released = 0"
                       " ORDER BY seq DESC LIMIT ?", (license_id, hwid, limit))
    return [row["id"] for row in rows]


def count_active_sessions(store: ReadStore, now: datetime, license_id: str | None = None) -> int:
    """Sessions still running at `now` (the security overview's `active_sessions`), of one license if given."""
    if license_id is None:
        return store.query(f"SELECT COUNT(*) AS n FROM sessions WHERE {ACTIVE}", (iso(now),))[0]["n"]
    return store.query(f"SELECT COUNT(*) AS n FROM sessions WHERE license_id = ? AND {ACTIVE}",
                       (license_id, iso(now)))[0]["n"]


def get_session(store: ReadStore, session_id: str, now: datetime) -> Row | None:
    rows = store.query("SELECT * FROM sessions WHERE id = ?", (session_id,))
    return shape_session(rows[0], now) if rows else None
