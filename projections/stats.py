"""Statistics read model: per-owner, per-product counters for the dashboard and product stats."""

from __future__ import annotations

from typing import Any

from projections.base import ReadModelProjection
from projections.db import Cursor


class StatsProjection(ReadModelProjection):
    """Activation history and recent activity (filled in by the stats work)."""

    name = "stats"
    tables = ("activity",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS activity ("
        " id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, product_id TEXT, license_id TEXT, kind TEXT NOT NULL,"
        " created_at TEXT NOT NULL)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        pass
