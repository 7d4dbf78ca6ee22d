"""Accounts read model: who can sign in, with which role (admin listing, token checks)."""

from __future__ import annotations

from typing import Any

from domain.account import Account
from projections.base import ReadModelProjection, iso, page_bounds, pagination
from projections.db import Cursor, ReadStore, Row


class AccountListProjection(ReadModelProjection):
    """One row per account."""

    name = "accounts"
    tables = ("accounts",)
    ddl = (
        "CREATE TABLE IF NOT EXISTS accounts ("
        " id TEXT PRIMARY KEY, email TEXT NOT NULL, display_name TEXT NOT NULL, role TEXT NOT NULL,"
        " is_active INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, seq BIGINT NOT NULL)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case Account.Registered():
                self.upsert_account(cursor, event)
            case Account.RoleChanged():
                self.update_account(cursor, event, "role = ?", event.role.value)
            case Account.Deactivated():
                self.update_account(cursor, event, "is_active = ?", 0)
            case Account.Reactivated():
                self.update_account(cursor, event, "is_active = ?", 1)
            case _:
                pass

    def upsert_account(self, cursor: Cursor, event: Any) -> None:
        cursor.execute(
            "INSERT INTO accounts VALUES (?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (str(event.originator_id), event.email, event.display_name, event.role.value, iso(event.at), iso(event.at),
             self.position),
        )

    def update_account(self, cursor: Cursor, event: Any, assignment: str, value: Any) -> None:
        cursor.execute(
            f"UPDATE accounts SET {assignment}, updated_at = ? WHERE id = ?",
            (value, iso(event.at), str(event.originator_id)),
        )


def _shape(row: Row) -> Row:
    return {**row, "is_active": bool(row["is_active"])}


def get_account(store: ReadStore, account_id: str) -> Row | None:
    rows = store.query("SELECT * FROM accounts WHERE id = ?", (account_id,))
    return _shape(rows[0]) if rows else None


def list_accounts(store: ReadStore, page: int, limit: int) -> tuple[list[Row], dict[str, int]]:
    total = store.query("SELECT COUNT(*) AS n FROM accounts")[0]["n"]
    size, offset = page_bounds(page, limit)
    rows = store.query("SELECT * FROM accounts ORDER BY seq LIMIT ? OFFSET ?", (size, offset))
    return [_shape(row) for row in rows], pagination(page, limit, total)
