"""License logs read model: every change to a license, newest first (`GET /licenses/{id}/logs`)."""

from __future__ import annotations

from typing import Any
from uuid import uuid5

from domain.client_call import ClientCall
from domain.ids import NAMESPACE
from domain.license import License
from projections.base import ReadModelProjection, from_json, iso, page_bounds, pagination, to_json
from projections.db import Cursor, ReadStore, Row

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
    tables = ("license_logs",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS license_logs ("
        " id TEXT PRIMARY KEY, license_id TEXT NOT NULL, action TEXT NOT NULL, ip_address TEXT, hwid TEXT,"
        " user_agent TEXT, details TEXT NOT NULL, created_at TEXT NOT NULL, seq BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS license_logs_license ON license_logs (license_id, seq)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        if isinstance(event, ClientCall.Recorded):
            self.client_call_recorded(cursor, event)
            return
        action = ACTIONS.get(type(event))
        if action is not None:
            self.insert_log(cursor, event, str(event.originator_id), action, details=_details(event))

    def client_call_recorded(self, cursor: Cursor, event: Any) -> None:
        """Each client call against a known license: the spec's `activation`, `validation`, … with its outcome."""
        if event.license_id is None:
            return
        details = {**event.details, "success": event.error_code is None, "error_code": event.error_code,
                   "security_event": event.security_event}
        self.insert_log(cursor, event, str(event.license_id), event.action, details, event.ip, event.hwid,
                        event.user_agent)

    def insert_log(self, cursor: Cursor, event: Any, license_id: str, action: str, details: dict[str, Any],
                   ip_address: str | None = None, hwid: str | None = None, user_agent: str | None = None) -> None:
        log_id = uuid5(NAMESPACE, f"log:{event.originator_id}:{event.originator_version}")
        cursor.execute(
            "INSERT INTO license_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (str(log_id), license_id, action, ip_address, hwid, user_agent, to_json(details), iso(event.at),
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
        "SELECT * FROM license_logs WHERE license_id = ? ORDER BY seq DESC LIMIT ? OFFSET ?",
        (license_id, size, offset),
    )
    return [_shape(row) for row in rows], pagination(page, limit, total)


def _shape(row: Row) -> Row:
    details = from_json(row.pop("details"))
    row.pop("seq")
    return {**row, "details": details, "success": details.get("success", True),
            "error_code": details.get("error_code")}
