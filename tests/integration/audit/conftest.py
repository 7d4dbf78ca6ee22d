"""Fixtures for the audit chain: a runtime with some history, and direct access to the stored rows."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec
import psycopg
import pytest

from domain.account import Actor
from domain.client_call import CallRecord
from domain.license import LicenseTerms
from domain.product import SigningAlgorithm
from keyledger.settings import Settings
from keyledger.wiring import Runtime, build_runtime, postgres_conninfo, postgres_parts, sqlite_files


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Checkpoints every 3 records, so a short history has several."""
    return msgspec.structs.replace(settings, audit_checkpoint_every=3)


@pytest.fixture
def runtime(settings: Settings, clock: Any) -> Iterator[Runtime]:
    """A runtime whose chains are extended only when a test says so (`catch_up`)."""
    runtime = build_runtime(settings, clock=clock, start_projector=False, start_workers=False)
    yield runtime
    runtime.close()


def make_history(runtime: Runtime, clock: Any, licenses: int = 3, calls: int = 6, link: bool = True) -> dict[str, Any]:
    """An account, a product, licenses and client calls; the read models caught up, and the chains unless told."""
    ledger = runtime.ledger
    vendor = ledger.register_account(f"{uuid.uuid4().hex[:8]}@example.com", "secret123", "Vendor", clock()).id
    actor = Actor(vendor, is_admin=False)
    product = ledger.create_product(actor, "App", "", SigningAlgorithm.ED25519, clock()).id
    ids, _ = ledger.issue_licenses(actor, product, licenses, LicenseTerms(), clock())
    for index in range(calls):
        ledger.calls.append(CallRecord("validate", ids[index % len(ids)], product, None, None, f"10.0.0.{index}",
                                       "hw", "ua", {}, clock()))
    runtime.projector.catch_up()
    assert runtime.audit is not None
    if link:
        runtime.audit.keeper.catch_up()
    return {"vendor": vendor, "product": product, "licenses": ids}


class Rows:
    """SQL straight at a log's table, bypassing KeyLedger: what someone tampering with the database does."""

    def __init__(self, runtime: Runtime, chain: str) -> None:
        settings = runtime.settings
        self.postgres = settings.is_postgres
        events = runtime.ledger.recorder.events_table_name
        self.table, self.position = (events, "notification_id" if self.postgres else "rowid") if chain == "events" \
            else ("client_calls", "position")
        self.settings, self.chain = settings, chain
        self._path = settings.sqlite_path if chain == "events" else sqlite_files(settings)[2]

    @contextmanager
    def connect(self) -> Iterator[Any]:
        if self.postgres:
            schema = postgres_parts(self.settings.database_url or "")["schema"]
            with psycopg.connect(postgres_conninfo(self.settings), options=f"-c search_path={schema}") as conn:
                yield conn
        else:
            conn = sqlite3.connect(self._path, isolation_level=None)
            try:
                conn.execute("BEGIN")
                yield conn
                conn.execute("COMMIT")
            finally:
                conn.close()

    def change(self, position: int) -> None:
        with self.connect() as conn:
            if self.chain == "calls":
                conn.execute(self._sql("UPDATE client_calls SET ip = '6.6.6.6' WHERE position = ?"), (position,))
                return
            state = bytes(conn.execute(self._sql(f"SELECT state FROM {self.table} WHERE {self.position} = ?"),
                                       (position,)).fetchone()[0])
            conn.execute(self._sql(f"UPDATE {self.table} SET state = ? WHERE {self.position} = ?"),
                         (state.replace(b"}", b',"x":1}', 1), position))

    def remove(self, position: int) -> None:
        with self.connect() as conn:
            conn.execute(self._sql(f"DELETE FROM {self.table} WHERE {self.position} = ?"), (position,))

    def insert(self, position: int) -> None:
        """Move every row from `position` on up by one, and put a copy of the one there (under a new id) in the gap."""
        with self.connect() as conn:
            self._shift(conn, position, 1)
            if self.chain == "calls":
                conn.execute(self._sql("INSERT INTO client_calls SELECT ?, at, action, license_id, product_id,"
                                       " error_code, security_event, '7.7.7.7', hwid, user_agent, details"
                                       " FROM client_calls WHERE position = ?"), (position, position + 1))
                return
            row = conn.execute(self._sql(f"SELECT originator_id FROM {self.table} WHERE {self.position} = ?"),
                               (position + 1,)).fetchone()
            new_id = uuid.uuid4() if isinstance(row[0], uuid.UUID) else uuid.uuid4().hex
            columns = "originator_id, originator_version, topic, state"
            conn.execute(self._sql(f"INSERT INTO {self.table} ({columns}, {self.position}) SELECT ?,"
                                   f" originator_version, topic, state, ? FROM {self.table} WHERE {self.position} = ?"),
                         (new_id, position, position + 1))

    def swap(self, first: int, second: int) -> None:
        with self.connect() as conn:
            for old, new in ((first, -1), (second, first), (-1, second)):
                conn.execute(self._sql(f"UPDATE {self.table} SET {self.position} = ? WHERE {self.position} = ?"),
                             (new, old))

    def _shift(self, conn: Any, position: int, by: int) -> None:
        far = 10_000_000
        conn.execute(self._sql(f"UPDATE {self.table} SET {self.position} = {self.position} + ?"
                               f" WHERE {self.position} >= ?"), (far, position))
        conn.execute(self._sql(f"UPDATE {self.table} SET {self.position} = {self.position} - ?"
                               f" WHERE {self.position} >= ?"), (far - by, far))

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql
