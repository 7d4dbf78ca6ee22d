"""License logs read model: every change to a license and every client call, newest first (`GET /licenses/{id}/logs`).

Rows come from two logs: the event store (what changed) and the call log (who called, with
what outcome). Each log's positions order its own rows; across the two, rows order by time,
and at the same instant a call's outcome follows the changes it made (it is recorded after them).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid5

from domain.client_call import CallRecord
from domain.ids import NAMESPACE
from domain.license import License
from projections.base import ReadModelProjection, from_json, iso, page_bounds, pagination, to_json
from projections.db import Cursor, ReadStore, Row

EVENTS, CALLS = 0, 1
"""The `source` of a row: the event store or the call log."""

# Public action names are a contract (the spec's `activation`); class names may evolve.
ACTIONS: dict[type, str] = {
    License.Issued: "created",
    License.Suspended: "suspended",
    License.Reinstated: "reinstated",
    License.LimitsChanged: "limits_changed",
    License.ExpiryChanged: "expiry_changed",
    License.MetadataChanged: "metadata_changed",
    License.HwidReset: "hwid_reset",
    License.ActivatedOnDevice: "device_activated",
    License.DeactivatedOnDevice: "device_deactivated",
    License.SessionsRevoked: "sessions_revoked",
    License.UsernameChanged: "username_changed",
    License.Expired: "expired",
    License.Deleted: "deleted",
}


class LicenseLogProjection(ReadModelProjection):
    """One row per logged fact about a license; the id is derived from the event, so replays upsert."""

    name = "license_logs"
    reads_calls = True
    tables = ("license_logs",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS license_logs ("
        " id TEXT PRIMARY KEY, license_id TEXT NOT NULL, action TEXT NOT NULL, ip_address TEXT, hwid TEXT,"
        " user_agent TEXT, details TEXT NOT NULL, created_at TEXT NOT NULL, source INTEGER NOT NULL,"
        " seq BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS license_logs_license ON license_logs (license_id, created_at, source, seq)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        if isinstance(event, CallRecord):
            self.call_recorded(cursor, event)
            return
        action = ACTIONS.get(type(event))
        if action is not None:
            log_id = uuid5(NAMESPACE, f"log:{event.originator_id}:{event.originator_version}")
            self.insert_log(cursor, str(log_id), str(event.originator_id), action, _details(event), event.at,
                            EVENTS)

    def call_recorded(self, cursor: Cursor, call: CallRecord) -> None:
        """Each client call against a known license: the spec's `activation`, `validation`, … with its outcome."""
        if call.license_id is None:
            return
        details = {**call.details, "success": call.error_code is None, "error_code": call.error_code,
                   "security_event": call.security_event}
        self.insert_log(cursor, f"call:{self.position}", str(call.license_id), call.action, details, call.at, CALLS,
                        call.ip, call.hwid, call.user_agent)

    def insert_log(self, cursor: Cursor, log_id: str, license_id: str, action: str, details: dict[str, Any],
                   at: Any, source: int, ip_address: str | None = None, hwid: str | None = None,
                   user_agent: str | None = None) -> None:
        cursor.execute(
            "INSERT INTO license_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (log_id, license_id, action, ip_address, hwid, user_agent, to_json(details), iso(at), source,
             self.position),
        )


def _details(event: Any) -> dict[str, Any]:
    match event:
        case License.Suspended():
            return {"reason": event.reason}
        case License.LimitsChanged():
            return {"max_uses": event.max_uses, "hwid_locked": event.hwid_locked}
        case License.ExpiryChanged():
            return {"expires_at": iso(event.expires_at)}
        case License.HwidReset():
            return {"released": event.released}
        case _:
            return {}


def list_license_logs(store: ReadStore, license_id: str, page: int, limit: int) -> tuple[list[Row], dict[str, int]]:
    total = store.query("SELECT COUNT(*) AS n FROM license_logs WHERE license_id = ?", (license_id,))[0]["n"]
    size, offset = page_bounds(page, limit)
    rows = store.query(
        "SELECT * FROM license_logs WHERE license_id = ? ORDER BY created_at DESC, source DESC, seq DESC"
        " LIMIT ? OFFSET ?",
        (license_id, size, offset),
    )
    return [_shape(row) for row in rows], pagination(page, limit, total)


def _shape(row: Row) -> Row:
    details = from_json(row.pop("details"))
    row.pop("seq")
    row.pop("source")
    return {**row, "details": details, "success": details.get("success", True),
            "error_code": details.get("error_code")}
