"""Statistics read model: activations and recent activity per vendor, for the dashboard and product stats.

Windows are computed at query time from `now` (UTC): *today* starts at 00:00 of `now`'s
date, *this week* is the last 7 days, *this month* the last 30 days. License counts by
status come from the licenses read model, so both always agree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid5

from domain.ids import NAMESPACE
from domain.license import License, LicenseStatus
from domain.product import Product
from domain.session import Session
from projections.base import ReadModelProjection, iso
from projections.db import Cursor, ReadStore, Row
from projections.licenses import status_condition

RECENT = 10

# What a vendor sees in `recent_activity`; public names, independent of event class names.
ACTIVITY: dict[type, str] = {
    License.Issued: "license_created",
    License.Suspended: "license_suspended",
    License.Reinstated: "license_reinstated",
    License.HwidReset: "hwid_reset",
    License.Expired: "license_expired",
    License.Deleted: "license_deleted",
    License.ActivatedOnDevice: "device_activated",
    License.DeactivatedOnDevice: "device_deactivated",
}


class StatsProjection(ReadModelProjection):
    """Successful activations (sessions started) and a per-vendor activity feed, keyed to owners through small
    lookup tables."""

    name = "stats"
    tables = ("stats_owners", "stats_activations", "stats_activity")
    ddl = (
        "CREATE TABLE IF NOT EXISTS stats_owners (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_id TEXT,"
        " license_key TEXT)",
        "CREATE TABLE IF NOT EXISTS stats_activations (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL,"
        " product_id TEXT NOT NULL, license_id TEXT NOT NULL, created_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS stats_activations_product ON stats_activations (product_id, created_at)",
        "CREATE INDEX IF NOT EXISTS stats_activations_owner ON stats_activations (owner_id, created_at)",
        "CREATE TABLE IF NOT EXISTS stats_activity (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_id TEXT,"
        " license_id TEXT, license_key TEXT, type TEXT NOT NULL, created_at TEXT NOT NULL, seq BIGINT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS stats_activity_owner ON stats_activity (owner_id, seq)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case Product.Created():
                self.remember_owner(cursor, event.originator_id, event.owner_id, event.originator_id, None)
            case License.Issued():
                owner = (str(event.owner_id), str(event.product_id), event.key)
                self.remember_owner(cursor, event.originator_id, *owner)
                self.record_activity(cursor, event, event.originator_id, owner)
            case Session.Started():  # every successful activation (and Lockence init) starts one
                self.record_activation(cursor, event)
            case _ if type(event) in ACTIVITY:
                self.record_activity(cursor, event, event.originator_id)

    def remember_owner(self, cursor: Cursor, aggregate_id: Any, owner_id: Any, product_id: Any, key: str | None) -> None:
        cursor.execute("INSERT INTO stats_owners VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                       (str(aggregate_id), str(owner_id), str(product_id), key))

    def record_activation(self, cursor: Cursor, event: Any) -> None:
        owner = _owner(cursor, event.license_id)
        if owner is not None:
            cursor.execute("INSERT INTO stats_activations VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                           (str(event.originator_id), owner[0], owner[1], str(event.license_id), iso(event.at)))

    def record_activity(self, cursor: Cursor, event: Any, license_id: Any,
                        owner: tuple[str, str, str | None] | None = None) -> None:
        owner = owner or _owner(cursor, license_id)
        if owner is None:
            return
        activity_id = uuid5(NAMESPACE, f"activity:{event.originator_id}:{event.originator_version}")
        cursor.execute(
            "INSERT INTO stats_activity VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (str(activity_id), owner[0], owner[1], str(license_id), owner[2], ACTIVITY[type(event)],
             iso(event.at), self.position),
        )


def _owner(cursor: Cursor, aggregate_id: Any) -> tuple[str, str, str | None] | None:
    cursor.execute("SELECT owner_id, product_id, license_key FROM stats_owners WHERE id = ?", (str(aggregate_id),))
    row = cursor.fetchone()
    return None if row is None else (row["owner_id"], row["product_id"], row["license_key"])


def _count(store: ReadStore, sql: str, params: list[Any]) -> int:
    return store.query(sql, params)[0]["n"]


def dashboard(store: ReadStore, owner_id: str, now: datetime) -> Row:
    """The vendor's totals and its latest activity."""
    active, active_params = status_condition(LicenseStatus.ACTIVE, now)
    recent = store.query("SELECT type, license_id, license_key, product_id, created_at FROM stats_activity"
                         " WHERE owner_id = ? ORDER BY seq DESC LIMIT ?", (owner_id, RECENT))
    return {
        "total_products": _count(store, "SELECT COUNT(*) AS n FROM products WHERE owner_id = ?", [owner_id]),
        "total_licenses": _count(store, "SELECT COUNT(*) AS n FROM licenses WHERE owner_id = ?", [owner_id]),
        "active_licenses": _count(store, f"SELECT COUNT(*) AS n FROM licenses WHERE owner_id = ? AND {active}",
                                  [owner_id, *active_params]),
        "total_activations": _count(store, "SELECT COUNT(*) AS n FROM stats_activations WHERE owner_id = ?",
                                    [owner_id]),
        "recent_activity": recent,
    }


def product_stats(store: ReadStore, product_id: str, now: datetime) -> Row:
    """One product's licenses by status and its activations today, this week and this month."""
    figures: Row = {"total_licenses": _count(store, "SELECT COUNT(*) AS n FROM licenses WHERE product_id = ?",
                                             [product_id])}
    for status in LicenseStatus:
        condition, params = status_condition(status, now)
        figures[f"{status.value}_licenses"] = _count(
            store, f"SELECT COUNT(*) AS n FROM licenses WHERE product_id = ? AND {condition}", [product_id, *params])
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    windows = {"today": today, "this_week": now - timedelta(days=7), "this_month": now - timedelta(days=30)}
    for window, since in windows.items():
        figures[f"activations_{window}"] = _count(
            store, "SELECT COUNT(*) AS n FROM stats_activations WHERE product_id = ? AND created_at >= ?",
            [product_id, iso(since)])
    return figures
