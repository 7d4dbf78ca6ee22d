"""Security events read model: every security event, from client calls and from alerts (`GET /security/events`).

Two logs feed one table: `SecurityAlert.Raised` events from the event store, like any projection's, and the calls
that are security events from the call log (adapters/call_log.py), copied by `follow_calls`, which tracks its
call-log position under the same read model name in the same transaction as its rows; a rebuild drops both
positions (decision 0045). The calls whose detections deserve an alert (`alerts_for_call`) go, in that transaction,
to the feed's `RaiseAlerts` with a position of their own (`ALERTS`) that a rebuild keeps, so none is raised twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from eventsourcing.persistence import Tracking

from domain.client_call import CallRecord
from domain.security import SecurityAlert, alerts_for_call
from domain.security_events import STATS_DAYS, call_event_types, severity_of
from projections.base import ProjectionView, ReadModelProjection, from_json, iso, page_bounds, pagination, to_json
from projections.call_rows import BATCH, CallSource, StoredCall, settled_calls
from projections.db import Cursor, ReadStore, Row

CALL_LOG = "client_calls"
"""The application name under which this read model tracks its position in the call log."""
ALERTS = "security_alerts"
"""The name under which the alerts raised for calls track their position in the call log: not this read model's
name, so a rebuild, which drops that one's positions, raises no alert twice."""
RaiseAlerts = Callable[[list[tuple[int, str, CallRecord]]], Any]
"""Raises the alerts of (call-log position, event type, call record), each once (commands/security_alerts.py)."""
INSERT = "INSERT INTO security_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"


class SecurityEventsProjection(ReadModelProjection):
    """One row per security event: alerts by their id, calls by their position in the call log."""

    name = "security_events"
    tables = ("security_events",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS security_events ("
        " id TEXT PRIMARY KEY, event_type TEXT NOT NULL, severity TEXT NOT NULL, license_id TEXT, product_id TEXT,"
        " ip TEXT, hwid TEXT, is_blocked INTEGER NOT NULL, details TEXT NOT NULL, created_at TEXT NOT NULL,"
        " source TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS security_events_at ON security_events (created_at)",
        "CREATE INDEX IF NOT EXISTS security_events_type ON security_events (event_type, created_at)",
        "CREATE INDEX IF NOT EXISTS security_events_license ON security_events (license_id, created_at)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case SecurityAlert.Raised():
                self.alert_raised(cursor, event)
            case _:
                pass

    def alert_raised(self, cursor: Cursor, event: Any) -> None:
        """An alert's row; none for a call's alert, whose call is listed already (from the call log)."""
        if "call_position" in event.details:
            return
        cursor.execute(INSERT, (
            f"alert:{event.originator_id}", event.event_type, event.severity, _text(event.license_id),
            _text(event.product_id), event.ip, event.hwid, int(event.blocked), to_json(event.details),
            iso(event.at), "alert"))


def follow_calls(projection: SecurityEventsProjection, calls: CallSource, now: datetime, limit: int = BATCH,
                 raise_alerts: RaiseAlerts | None = None, info_since: datetime | None = None) -> int:
    """Copy the security events among the call log's next `limit` records, with the position reached, in one
    transaction (`copy_calls`); returns how many records were read (0: caught up, or waiting at a gap)."""
    view: ProjectionView = projection.view
    with view.store.transaction(durable=False) as cursor:
        position = view.claim_position(cursor, CALL_LOG)
        read = settled_calls(calls, position, limit, now)
        copy_calls(cursor, projection, position, read, raise_alerts, info_since)
    view.notify_advanced()
    return len(read)


def copy_calls(cursor: Cursor, projection: SecurityEventsProjection, position: int, read: list[StoredCall],
               raise_alerts: RaiseAlerts | None = None, info_since: datetime | None = None) -> None:
    """Copy the security events among `read`, the calls past `position` (claimed in this transaction), and move
    the position past them; hand those that deserve an alert to `raise_alerts`. `info` events older than
    `info_since` are past their retention: not copied."""
    rows, detections = [], []
    expired = iso(info_since) or ""
    for call in read:
        details = call.detail_values()
        for n, event_type in enumerate(call_event_types(call.action, call.security_event, details)):
            row_id = f"call:{call.position}:{n}" if n else f"call:{call.position}"  # a second detection: `:1`
            if call.at >= expired or severity_of(event_type) != "info":
                rows.append(_call_row(row_id, event_type, call, details))
            detections.append((call, event_type))
    if rows:
        cursor.executemany(INSERT, rows)
    if read:
        view = projection.view
        view.record_tracking(cursor, Tracking(CALL_LOG, read[-1].position))
        if raise_alerts is not None:
            _alert(cursor, ProjectionView(view.store, ALERTS), position, read[-1].position, detections,
                   raise_alerts)


def _alert(cursor: Cursor, alerts: ProjectionView, position: int, reached: int,
           detections: list[tuple[StoredCall, str]], raise_alerts: RaiseAlerts) -> None:
    """Raise the alerts of the detections past the alerts' own position, and move it to `reached`. Where it was
    never kept, it starts where this read model stood: calls recorded before alerts existed raise none."""
    alerted = alerts.claim_position(cursor, CALL_LOG) or position
    raise_alerts([(call.position, event_type, call.record()) for call, event_type in detections
                  if call.position > alerted and alerts_for_call(event_type)])
    alerts.record_tracking(cursor, Tracking(CALL_LOG, reached))


PRUNE_BATCH = 5000
"""Info events removed per transaction, so a first prune of a large table holds no long lock."""


def prune_info_events(store: ReadStore, before: datetime) -> int:
    """Remove the `info` events made before `before`, a batch per transaction; how many were removed."""
    removed = 0
    while True:
        with store.transaction(durable=False) as cursor:
            cursor.execute("DELETE FROM security_events WHERE id IN (SELECT id FROM security_events"
                           " WHERE created_at < ? AND severity = 'info' LIMIT ?)", (iso(before), PRUNE_BATCH))
            batch = cursor.rowcount
        removed += batch
        if batch < PRUNE_BATCH:
            return removed


def _call_row(row_id: str, event_type: str, call: StoredCall, details: dict[str, Any]) -> tuple[Any, ...]:
    return (row_id, event_type, severity_of(event_type), call.license_id, call.product_id, call.ip, call.hwid,
            int(call.error_code is not None),
            to_json({"action": call.action, "error_code": call.error_code, **details}) if details
            else _plain_details(call.action, call.error_code), call.at, "call")


@lru_cache(maxsize=256)
def _plain_details(action: str, error_code: str | None) -> str:
    """The details of a call that reported none: its action and outcome (a handful of combinations)."""
    return to_json({"action": action, "error_code": error_code})


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def shape_event(row: Row) -> Row:
    return {"id": row["id"], "event_type": row["event_type"], "severity": row["severity"],
            "license_id": row["license_id"], "product_id": row["product_id"], "ip_address": row["ip"],
            "hwid": row["hwid"], "is_blocked": bool(row["is_blocked"]), "details": from_json(row["details"]),
            "created_at": row["created_at"]}


def list_security_events(
    store: ReadStore,
    *,
    event_type: str | None = None,
    severity: str | None = None,
    license_id: str | None = None,
    ip_address: str | None = None,
    hwid: str | None = None,
    is_blocked: bool | None = None,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    page: int = 1,
    limit: int = 20,
) -> tuple[list[Row], dict[str, int]]:
    """The spec's filters and pagination, newest first; `start_date` inclusive, `end_date` exclusive."""
    conditions, params = ["1 = 1"], []
    for clause, value in (("event_type = ?", event_type), ("severity = ?", severity), ("license_id = ?", license_id),
                          ("ip = ?", ip_address), ("hwid = ?", hwid), ("created_at >= ?", iso(start_date)),
                          ("created_at < ?", iso(end_date))):
        if value is not None:
            conditions.append(clause)
            params.append(value)
    if is_blocked is not None:
        conditions.append("is_blocked = ?")
        params.append(int(is_blocked))
    where = " AND ".join(conditions)
    total = store.query(f"SELECT COUNT(*) AS n FROM security_events WHERE {where}", params)[0]["n"]
    size, offset = page_bounds(page, limit)
    rows = store.query(f"SELECT * FROM security_events WHERE {where} ORDER BY created_at DESC, LENGTH(id) DESC,"
                       " id DESC LIMIT ? OFFSET ?", [*params, size, offset])  # `call:10` after `call:9`
    return [shape_event(row) for row in rows], pagination(page, limit, total)


def security_event_stats(store: ReadStore, now: datetime, days: int = STATS_DAYS) -> Row:
    """Today's counts (UTC day), and per type, per severity and per day over the last `days` days (today
    included); `active_blacklist` and `active_sessions` come from their own read models."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = iso(today - timedelta(days=days - 1))
    counts = store.query(
        "SELECT COUNT(*) AS today_events, SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END) AS critical_events,"
        " SUM(is_blocked) AS blocked_attempts FROM security_events WHERE created_at >= ?", (iso(today),))[0]
    return {
        "overview": {name: int(counts[name] or 0) for name in ("today_events", "critical_events", "blocked_attempts")},
        "events_by_type": _grouped(store, "event_type", since),
        "events_by_severity": _grouped(store, "severity", since),
        "daily_trend": _daily(store, since, today, days),
    }


def _grouped(store: ReadStore, column: str, since: str | None) -> list[Row]:
    rows = store.query(f"SELECT {column}, COUNT(*) AS n FROM security_events WHERE created_at >= ?"
                       f" GROUP BY {column} ORDER BY COUNT(*) DESC, {column}", (since,))
    return [{column: row[column], "count": row["n"]} for row in rows]


def _daily(store: ReadStore, since: str | None, today: datetime, days: int) -> list[Row]:
    """One row per day, oldest first, days without events included (count 0)."""
    rows = store.query("SELECT SUBSTR(created_at, 1, 10) AS day, COUNT(*) AS n,"
                       " SUM(CASE WHEN is_blocked = 1 THEN 1 ELSE 0 END) AS blocked FROM security_events"
                       " WHERE created_at >= ? GROUP BY SUBSTR(created_at, 1, 10)", (since,))
    by_day = {row["day"]: row for row in rows}
    trend = []
    for offset in range(days - 1, -1, -1):
        day = (today - timedelta(days=offset)).date().isoformat()
        row = by_day.get(day)
        trend.append({"date": day, "count": row["n"] if row else 0, "blocked": int(row["blocked"] or 0) if row else 0})
    return trend


__all__ = ["SecurityEventsProjection", "copy_calls", "follow_calls", "list_security_events", "prune_info_events",
           "security_event_stats"]
