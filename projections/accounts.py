"""Accounts read model: who can sign in, with which role, and which tokens are retired (admin listing, token
checks)."""

from __future__ import annotations

from typing import Any

from domain.account import Account
from projections.base import ReadModelProjection, iso, page_bounds, pagination
from projections.db import Cursor, ReadStore, Row


class AccountListProjection(ReadModelProjection):
    """One row per account, and one per retired token until the token would have lapsed anyway."""

    name = "accounts"
    tables = ("accounts", "retired_tokens", "token_epochs")
    ddl = (
        "CREATE TABLE IF NOT EXISTS accounts ("
        " id TEXT PRIMARY KEY, email TEXT NOT NULL, display_name TEXT NOT NULL, role TEXT NOT NULL,"
        " is_active INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, seq BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS retired_tokens ("
        " jti TEXT PRIMARY KEY, account_id TEXT NOT NULL, expires_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS retired_tokens_by_expiry ON retired_tokens (expires_at)",
        "CREATE TABLE IF NOT EXISTS token_epochs (account_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case Account.Registered():
                self.upsert_account(cursor, event)
            case Account.RoleChanged():
                self.update_account(cursor, event, "role = ?", event.role.value)
            case Account.Deactivated():
                self.update_account(cursor, event, "is_active = ?", 0)
                self.end_tokens(cursor, event)
            case Account.PasswordChanged():
                self.end_tokens(cursor, event)
            case Account.Reactivated():
                self.update_account(cursor, event, "is_active = ?", 1)
            case Account.TokenRetired():
                self.insert_retired_token(cursor, event)
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

    def end_tokens(self, cursor: Cursor, event: Any) -> None:
        """Every token the account holds ends: tokens carry the epoch they were made in (api/auth.py)."""
        cursor.execute("INSERT INTO token_epochs VALUES (?, 1) ON CONFLICT (account_id) DO UPDATE"
                       " SET epoch = token_epochs.epoch + 1", (str(event.originator_id),))

    def insert_retired_token(self, cursor: Cursor, event: Any) -> None:
        """Keep the token's id; forget those that have lapsed by now (as of the event, so a rebuild agrees)."""
        cursor.execute("INSERT INTO retired_tokens VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING",
                       (event.jti, str(event.originator_id), iso(event.expires_at)))
        cursor.execute("DELETE FROM retired_tokens WHERE expires_at < ?", (iso(event.at),))


def _shape(row: Row) -> Row:
    return {**row, "is_active": bool(row["is_active"])}


EPOCH = "COALESCE((SELECT epoch FROM token_epochs WHERE account_id = accounts.id), 0) AS token_epoch"
"""How many times the account's tokens were ended (password changed, deactivated): a token of an earlier
epoch opens nothing."""


def get_account(store: ReadStore, account_id: str) -> Row | None:
    rows = store.query(f"SELECT accounts.*, {EPOCH} FROM accounts WHERE id = ?", (account_id,))
    return _shape(rows[0]) if rows else None


def get_account_for_token(store: ReadStore, account_id: str, jti: str) -> Row | None:
    """The account a token names, with `token_retired` and `token_epoch`: one statement, three primary-key
    lookups (every authenticated request asks)."""
    rows = store.query("SELECT accounts.*, EXISTS (SELECT 1 FROM retired_tokens WHERE jti = ?) AS token_retired,"
                       f" {EPOCH} FROM accounts WHERE id = ?", (jti, account_id))
    return {**_shape(rows[0]), "token_retired": bool(rows[0]["token_retired"])} if rows else None


def list_accounts(store: ReadStore, page: int, limit: int) -> tuple[list[Row], dict[str, int]]:
    total = store.query("SELECT COUNT(*) AS n FROM accounts")[0]["n"]
    size, offset = page_bounds(page, limit)
    rows = store.query("SELECT * FROM accounts ORDER BY seq LIMIT ? OFFSET ?", (size, offset))
    return [_shape(row) for row in rows], pagination(page, limit, total)
