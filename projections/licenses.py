"""Licenses read model: the vendor's filtered, paginated license list and license detail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.license import License, LicenseStatus
from domain.product import Product
from projections.base import ReadModelProjection, from_json, iso, page_bounds, pagination, to_json
from projections.db import Cursor, ReadStore, Row


class LicenseListProjection(ReadModelProjection):
    """One row per live license; status is derived at read time from suspension and expiry."""

    name = "licenses"
    tables = ("licenses",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS licenses ("
        " id TEXT PRIMARY KEY, license_key TEXT NOT NULL, product_id TEXT NOT NULL, owner_id TEXT NOT NULL,"
        " type TEXT NOT NULL, suspended INTEGER NOT NULL, devices TEXT NOT NULL, hwid_locked INTEGER NOT NULL,"
        " max_uses INTEGER NOT NULL, current_uses INTEGER NOT NULL, expires_at TEXT, metadata TEXT NOT NULL,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, username TEXT, seq BIGINT NOT NULL,"
        " expiry_recorded INTEGER NOT NULL DEFAULT 0)",
        "CREATE INDEX IF NOT EXISTS licenses_owner ON licenses (owner_id, seq)",
        "CREATE INDEX IF NOT EXISTS licenses_product ON licenses (product_id, seq)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case License.Issued():
                self.license_issued(cursor, event)
            case License.Suspended():
                self.set_columns(cursor, event, suspended=1)
            case License.Reinstated():
                self.set_columns(cursor, event, suspended=0)
            case License.LimitsChanged():
                self.set_columns(cursor, event, max_uses=event.max_uses, hwid_locked=int(event.hwid_locked))
            case License.ExpiryChanged():
                self.set_columns(cursor, event, expires_at=iso(event.expires_at), expiry_recorded=0)
            case License.Expired():
                self.set_columns(cursor, event, expiry_recorded=1)
            case License.MetadataChanged():
                self.set_columns(cursor, event, metadata=to_json(event.metadata))
            case License.HwidReset():
                self.set_columns(cursor, event, devices="[]", current_uses=0)
            case License.ActivatedOnDevice():
                self.change_devices(cursor, event, lambda devices: [*(d for d in devices if d != event.hwid), event.hwid])
            case License.DeactivatedOnDevice():
                self.change_devices(cursor, event, lambda devices: [d for d in devices if d != event.hwid])
            case License.UsernameChanged():
                self.set_columns(cursor, event, username=event.username)
            case License.Deleted():
                cursor.execute("DELETE FROM licenses WHERE id = ?", (str(event.originator_id),))
            case Product.Deleted():
                cursor.execute("DELETE FROM licenses WHERE product_id = ?", (str(event.originator_id),))
            case _:
                pass

    def license_issued(self, cursor: Cursor, event: Any) -> None:
        cursor.execute(
            "INSERT INTO licenses VALUES (?, ?, ?, ?, ?, 0, '[]', ?, ?, 0, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (id) DO NOTHING",
            (str(event.originator_id), event.key, str(event.product_id), str(event.owner_id),
             event.license_type.value, int(event.hwid_locked), event.max_uses, iso(event.expires_at),
             to_json(event.metadata), iso(event.at), iso(event.at), event.username, self.position),
        )

    def change_devices(self, cursor: Cursor, event: Any, change: Callable[[list[str]], list[str]]) -> None:
        cursor.execute("SELECT devices FROM licenses WHERE id = ?", (str(event.originator_id),))
        row = cursor.fetchone()
        if row is not None:
            devices = change(from_json(row["devices"]))
            self.set_columns(cursor, event, devices=to_json(devices), current_uses=len(devices))

    def set_columns(self, cursor: Cursor, event: Any, **columns: Any) -> None:
        assignments = "".join(f"{column} = ?, " for column in columns)
        cursor.execute(
            f"UPDATE licenses SET {assignments}updated_at = ? WHERE id = ?",
            (*columns.values(), iso(event.at), str(event.originator_id)),
        )


STATUS_CONDITIONS = {
    LicenseStatus.SUSPENDED: ("suspended = 1", 0),
    LicenseStatus.EXPIRED: ("suspended = 0 AND expires_at IS NOT NULL AND expires_at <= ?", 1),
    LicenseStatus.ACTIVE: ("suspended = 0 AND (expires_at IS NULL OR expires_at > ?)", 1),
}


def status_condition(status: LicenseStatus, now: datetime) -> tuple[str, list[Any]]:
    """SQL for "has this status at `now`", shared with the stats queries."""
    condition, uses_now = STATUS_CONDITIONS[status]
    return condition, [iso(now)] * uses_now


def shape_license(row: Row, now: datetime) -> Row:
    devices = from_json(row["devices"])
    if row["suspended"]:
        status = LicenseStatus.SUSPENDED
    elif row["expires_at"] is not None and row["expires_at"] <= iso(now):
        status = LicenseStatus.EXPIRED
    else:
        status = LicenseStatus.ACTIVE
    return {
        "id": row["id"], "license_key": row["license_key"], "product_id": row["product_id"],
        "type": row["type"], "status": status.value, "hwid": devices[0] if devices else None,
        "devices": devices, "hwid_locked": bool(row["hwid_locked"]), "max_uses": row["max_uses"],
        "current_uses": row["current_uses"], "expires_at": row["expires_at"], "username": row["username"],
        "metadata": from_json(row["metadata"]), "created_at": row["created_at"], "updated_at": row["updated_at"],
    }


def get_license(store: ReadStore, license_id: str, owner_id: str | None, now: datetime) -> Row | None:
    rows = store.query("SELECT * FROM licenses WHERE id = ?", (license_id,))
    if not rows or (owner_id is not None and rows[0]["owner_id"] != owner_id):
        return None
    return shape_license(rows[0], now)


def get_licenses(store: ReadStore, license_ids: list[str], now: datetime) -> list[Row]:
    """Several licenses by id, in the order given (a bulk issue's answer)."""
    placeholders = ",".join("?" * len(license_ids))
    rows = {r["id"]: r for r in store.query(f"SELECT * FROM licenses WHERE id IN ({placeholders})", license_ids)}
    return [shape_license(rows[i], now) for i in license_ids if i in rows]


def list_licenses(
    store: ReadStore,
    owner_id: str | None,
    now: datetime,
    *,
    product_id: str | None = None,
    status: LicenseStatus | None = None,
    license_type: str | None = None,
    page: int = 1,
    limit: int = 20,
) -> tuple[list[Row], dict[str, int]]:
    """The spec's filters (product, status, type) and pagination, newest first."""
    conditions, params = ["1 = 1"], []
    for column, value in (("owner_id", owner_id), ("product_id", product_id), ("type", license_type)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if status is not None:
        condition, status_params = status_condition(status, now)
        conditions.append(condition)
        params.extend(status_params)
    where = " AND ".join(conditions)
    total = store.query(f"SELECT COUNT(*) AS n FROM licenses WHERE {where}", params)[0]["n"]
    size, offset = page_bounds(page, limit)
    rows = store.query(
        f"SELECT * FROM licenses WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?", [*params, size, offset]
    )
    return [shape_license(row, now) for row in rows], pagination(page, limit, total)


def lapsed_license_ids(store: ReadStore, now: datetime) -> list[str]:
    """Licenses past their expiry whose lapse is not yet recorded (the expiry sweeper's work list)."""
    rows = store.query("SELECT id FROM licenses WHERE suspended = 0 AND expiry_recorded = 0"
                       " AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY seq", (iso(now),))
    return [row["id"] for row in rows]
