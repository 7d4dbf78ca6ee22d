"""Notifications read model: what a vendor is told about (bulk issues, suspensions, expiries)."""

from __future__ import annotations

from typing import Any

from projections.base import ReadModelProjection
from projections.db import Cursor


class NotificationProjection(ReadModelProjection):
    """One row per notification (filled in by the notifications work)."""

    name = "notifications"
    tables = ("notifications",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS notifications ("
        " id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, type TEXT NOT NULL, title TEXT NOT NULL,"
        " message TEXT NOT NULL, is_read INTEGER NOT NULL, created_at TEXT NOT NULL)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        pass
