"""License logs: every change to a license and every client call, newest first (`GET /licenses/{id}/logs`).

Rows come from two logs. Changes are projected from the event store into `license_changes`;
client calls are read where they were appended, the call log (adapters/call_log.py), which
is already an ordered, final, indexed record of them. A page merges the two: by time, and at
the same instant a call's outcome follows the changes it made (it is recorded after them).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from itertools import islice
from typing import Any, Protocol
from uuid import uuid5

from domain.ids import NAMESPACE
from domain.license import License
from projections.base import ReadModelProjection, from_json, iso, page_bounds, pagination, to_json
from projections.db import Cursor, ReadStore, Row


class CallHistory(Protocol):
    """The call log, as this read model queries it (adapters/call_log.py: CallTable)."""

    def history(self, license_id: str, limit: int) -> list[Sequence[Any]]: ...
    def count(self, license_id: str) -> int: ...


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


class LicenseChangesProjection(ReadModelProjection):
    """One row per change to a license; the id is derived from the event, so replays upsert."""

    name = "license_changes"
    tables = ("license_changes",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS license_changes ("
        " id TEXT PRIMARY KEY, license_id TEXT NOT NULL, action TEXT NOT NULL, details TEXT NOT NULL,"
        " created_at TEXT NOT NULL, seq BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS license_changes_license ON license_changes (license_id, created_at, seq)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        action = ACTIONS.get(type(event))
        if action is not None:
            cursor.execute(
                "INSERT INTO license_changes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (str(uuid5(NAMESPACE, f"log:{event.originator_id}:{event.originator_version}")),
                 str(event.originator_id), action, to_json(_details(event)), iso(event.at), self.position),
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


CHANGE, CALL = 0, 1
"""At the same instant, a call sorts after (is newer than) the changes it made."""


def list_license_logs(store: ReadStore, calls: CallHistory, license_id: str, page: int, limit: int
                      ) -> tuple[list[Row], dict[str, int]]:
    """One page of a license's changes and calls, newest first."""
    size, offset = page_bounds(page, limit)
    total = store.query("SELECT COUNT(*) AS n FROM license_changes WHERE license_id = ?", (license_id,))[0]["n"]
    total += calls.count(license_id)
    wanted = offset + size  # the page is somewhere in the newest `wanted` of either log
    changes = store.query("SELECT * FROM license_changes WHERE license_id = ? ORDER BY created_at DESC, seq DESC"
                          " LIMIT ?", (license_id, wanted))
    outcomes = calls.history(license_id, wanted)
    merged = heapq.merge(((row["created_at"], CHANGE, row["seq"], row) for row in changes),
                         ((row[1], CALL, row[0], row) for row in outcomes), reverse=True, key=lambda item: item[:3])
    page_rows = [_change(row, license_id) if source == CHANGE else _call(row, license_id)
                 for _, source, _, row in islice(merged, offset, wanted)]
    return page_rows, pagination(page, limit, total)


def _change(row: Row, license_id: str) -> Row:
    return {"id": row["id"], "license_id": license_id, "action": row["action"], "ip_address": None, "hwid": None,
            "user_agent": None, "details": from_json(row["details"]), "created_at": row["created_at"],
            "success": True, "error_code": None}


def _call(row: Sequence[Any], license_id: str) -> Row:
    position, at, action, ip, hwid, user_agent, error_code, security_event, details = row
    return {"id": f"call:{position}", "license_id": license_id, "action": action, "ip_address": ip, "hwid": hwid,
            "user_agent": user_agent, "details": {**from_json(details), "success": error_code is None,
                                                  "error_code": error_code, "security_event": security_event},
            "created_at": at, "success": error_code is None, "error_code": error_code}
