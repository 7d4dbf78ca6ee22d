"""One-off steps on the read models' schema, each run once, in order, and recorded (`keyledger migrate`).

A projection's DDL only creates what is missing (`CREATE ... IF NOT EXISTS`) and runs on every
start; a step that changes what is already there (a table renamed or dropped) goes here instead,
under the next version number, never edited once released. Steps run before the projections'
DDL, so they find what an older version left, and must allow for its absence on a fresh database
(docs/decisions/0029).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from projections.base import TRACKING_DDL, iso
from projections.db import Cursor, ReadStore

MIGRATIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)
MIGRATION_LOCK = 0x4B4C_4D47  # "KLMG": the PostgreSQL advisory lock under which one process migrates at a time


class Migration(NamedTuple):
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "license_logs: calls are read from their own log, changes from license_changes", (
        "DROP TABLE IF EXISTS license_logs",
        "DELETE FROM projection_tracking WHERE projection = 'license_logs'",
    )),
    Migration(2, "audit_links: no index of fingerprints, read only after a break (decision 0092)", (
        "DROP INDEX IF EXISTS audit_links_fingerprint",
    )),
)


def migrate(store: ReadStore, at: datetime, migrations: Sequence[Migration] = MIGRATIONS) -> list[Migration]:
    """Run the steps not yet recorded, in one transaction with their records; the steps run now. On PostgreSQL
    the transaction first takes an advisory lock, so processes starting together take turns and each step runs
    once; SQLite's `BEGIN IMMEDIATE` already serialises them."""
    with store.transaction() as cursor:
        if store.dialect == "postgres":
            cursor.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        cursor.execute(MIGRATIONS_DDL)
        cursor.execute(TRACKING_DDL)  # steps may clean up projections' positions
        pending = [step for step in migrations if step.version not in _applied(cursor)]
        for step in sorted(pending):
            for statement in step.statements:
                cursor.execute(statement)
            cursor.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (step.version, step.name, iso(at)))
    return sorted(pending)


def applied_versions(store: ReadStore) -> list[int]:
    """The versions recorded as run, in order (empty before the first `migrate`)."""
    with store.transaction() as cursor:
        cursor.execute(MIGRATIONS_DDL)
        return sorted(_applied(cursor))


def _applied(cursor: Cursor) -> set[int]:
    cursor.execute("SELECT version FROM schema_migrations")
    # Reading the row count waits for every statement sent before (PostgreSQL's pipeline), so a late answer
    # to one of them cannot be taken for this one's rows.
    cursor.rowcount  # noqa: B018
    return {int(row["version"]) for row in cursor.fetchall()}
