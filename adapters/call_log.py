"""The client-call log: one row per client call, in its own append-only table, written in group commits.

The records live apart from the event store, so a validation never moves the head every client call reads
(decision 0020). Whatever arrived while the last commit ran goes in one transaction: from a writer thread
or child on SQLite, from the event loop through the client link on PostgreSQL (adapters/client_link.py).
Each caller returns only once its own record is durable. On PostgreSQL the writers of several processes
commit side by side, so a position can become visible after a higher one: readers by position wait at a
gap (projections/call_rows.py). The log is its own read model for `GET /licenses/{id}/logs`.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from adapters.batches import BatchThread
from adapters.children import ChildLink
from adapters.client_link import CallRow, ClientLink, insert_json, rows_json
from adapters.writer_turns import WriterTurns
from domain.client_call import CallRecord
from domain.instants import utc_text

COLUMNS = "at, action, license_id, product_id, error_code, security_event, ip, hwid, user_agent, details"
INSERT = f"INSERT INTO client_calls ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_JSON = insert_json("client_calls", COLUMNS)  # PostgreSQL: a whole batch as one JSON array, in order
SELECT = f"SELECT position, {COLUMNS} FROM client_calls WHERE position > ? ORDER BY position LIMIT ?"
SELECT_SETTLING = ("WITH s AS MATERIALIZED (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,"
                   f" pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax) SELECT position, {COLUMNS},"
                   " s.xmin, s.xmax FROM client_calls, s WHERE position > ? ORDER BY position LIMIT ?")
"""PostgreSQL: SELECT, with the bounds of the statement's snapshot (every transaction id below the first has ended;
none at or above the second had started)."""
HEAD = "SELECT COALESCE(MAX(position), 0) FROM client_calls"
HISTORY = ("SELECT position, at, action, ip, hwid, user_agent, error_code, security_event, details"
           " FROM client_calls WHERE license_id = ? ORDER BY at DESC, position DESC LIMIT ?")
COUNT = "SELECT COUNT(*) FROM client_calls WHERE license_id = ?"
TABLE_DDL = ("CREATE TABLE IF NOT EXISTS client_calls (position {position}, at TEXT NOT NULL,"
             " action TEXT NOT NULL, license_id TEXT, product_id TEXT, error_code TEXT, security_event TEXT,"
             " ip TEXT, hwid TEXT, user_agent TEXT, details TEXT NOT NULL)")
INDEX_DDL = "CREATE INDEX IF NOT EXISTS client_calls_license ON client_calls (license_id, at, position)"
READ_CONNECTIONS = 2
"""The PostgreSQL log's read pool (pages of license logs, the stats' counts): each read is one short query."""
IDLE_CHECK_SECONDS = 2.0
"""The writer thread's connection, unused this long, is checked before its next batch (the server may have
dropped it). The client link needs no such check: its sockets' readers notice (adapters/client_link.py)."""
REMEMBERED_GAPS = 1024
"""Gaps a PostgreSQL log remembers the bounds of, the oldest forgotten first: one is left by each rolled-back
append, and a forgotten one met again is only waited at a little longer (`PostgresCallStore._settled`)."""


class CallTable(Protocol):
    """Where call records are kept: appended in batches, read back in position order."""

    def append(self, rows: Sequence[CallRow]) -> None: ...
    def rows(self, after: int, limit: int) -> list[CallRow]:
        """Rows past `after` in position order, as committed so far (see the module docstring on order)."""
    def head(self) -> int: ...
    def history(self, license_id: str, limit: int) -> list[CallRow]:
        """A license's newest `limit` calls, newest first: (position, at, action, ip, hwid, user_agent,
        error_code, security_event, details)."""
    def count(self, license_id: str) -> int: ...
    def close(self) -> None: ...


def to_row(record: CallRecord) -> CallRow:
    return (utc_text(record.at), record.action, _text(record.license_id), _text(record.product_id),
            record.error_code, record.security_event, record.ip, record.hwid, record.user_agent,
            json.dumps(record.details, separators=(",", ":"), sort_keys=True) if record.details else "{}")


def _text(value: UUID | None) -> str | None:
    return None if value is None else _id_text(value)


@lru_cache(maxsize=16384)  # a call's row writes its license's and product's ids; str(UUID) is Python code
def _id_text(value: UUID) -> str:
    return str(value)


class _Reads:
    """The queries both stores answer, each through the store's own `_read`."""

    def _read(self, sql: str, parameters: tuple[Any, ...]) -> list[CallRow]:
        raise NotImplementedError

    def head(self) -> int:
        return self._read(HEAD, ())[0][0]  # type: ignore[no-any-return]

    def rows(self, after: int, limit: int) -> list[CallRow]:
        """Rows past `after` as stored (position, then COLUMNS): what the log's followers read
        (projections/call_rows.py)."""
        return self._read(SELECT, (after, limit))

    def history(self, license_id: str, limit: int) -> list[CallRow]:
        return self._read(HISTORY, (license_id, limit))

    def count(self, license_id: str) -> int:
        return self._read(COUNT, (license_id,))[0][0]  # type: ignore[no-any-return]


class SQLiteCallStore(_Reads):
    """The log in its own SQLite file (WAL, synchronous=FULL: a commit is on disk when it returns). A file's reads
    go through a second connection, so a page of logs never waits for the writer's fsync; the writers of every
    process take turns on `<log>.lock` beside the file (adapters/writer_turns.py, decision 0091)."""

    DDL = TABLE_DDL.format(position="INTEGER PRIMARY KEY")

    def __init__(self, path: str) -> None:
        self.path = path
        self._conn = self._connect(path)
        self._lock = threading.Lock()
        self._turns = None if path == ":memory:" else WriterTurns(str(Path(path).with_suffix(".lock")))
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(self.DDL)
        self._conn.execute(INDEX_DDL)
        # A file's reads get a connection of their own, opened by the first (a writer child never reads).
        self._reader: sqlite3.Connection | None = self._conn if path == ":memory:" else None
        self._read_lock = self._lock if path == ":memory:" else threading.Lock()

    @staticmethod
    def _connect(path: str) -> sqlite3.Connection:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)

    def append(self, rows: Sequence[CallRow]) -> None:
        with self._lock, self._turns.turn() if self._turns else nullcontext():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(INSERT, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a COMMIT that failed leaves the transaction, and its lock, held
                    self._conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, parameters: tuple[Any, ...]) -> list[CallRow]:
        with self._read_lock:
            if self._reader is None:
                self._reader = self._connect(self.path)
            return self._reader.execute(sql, parameters).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._turns is not None:
                self._turns.close()
        if self._reader is not self._conn:
            with self._read_lock:
                if self._reader is not None:
                    self._reader.close()


class PostgresCallStore(_Reads):
    """The log as a PostgreSQL table beside the event store's, in the same schema. The writer thread keeps a
    connection of its own (autocommit), the event loop appends through the client link; both send a batch as one
    INSERT of one JSON array, one round trip however many rows (decision 0020). Reads share a small pool."""

    DDL = TABLE_DDL.format(position="BIGSERIAL PRIMARY KEY")

    def __init__(self, conninfo: str, schema: str | None = None, events: Any = None) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self._conninfo = conninfo
        self._kwargs: dict[str, Any] = {"autocommit": False}
        if schema:
            self._kwargs["options"] = f"-c search_path={schema}"
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self._pool = ConnectionPool(conninfo, min_size=1, max_size=READ_CONNECTIONS, kwargs=self._kwargs, open=True,
                                    check=ConnectionPool.check_connection)
        with self._pool.connection() as conn:
            conn.execute(self.DDL)
            conn.execute(INDEX_DDL)
        self._gaps: dict[int, int] = {}  # a gap's first position: the snapshot's xmax when it was first seen
        self._gaps_lock = threading.Lock()
        self._writer: Any = None
        self._written_at = 0.0
        self._write_lock = threading.Lock()
        self.link = ClientLink(conninfo, self._kwargs, "client_calls", COLUMNS, events)

    def append(self, rows: Sequence[CallRow]) -> None:
        """Append in one statement; one that fails on a lost connection is sent again on a fresh one."""
        import psycopg

        with self._write_lock:
            try:
                self._append(rows)
            except psycopg.OperationalError:
                self._append(rows)

    def _append(self, rows: Sequence[CallRow]) -> None:
        writer = self._writing_connection()
        try:
            writer.execute(INSERT_JSON, (rows_json(rows),))  # one statement: its own transaction
        except BaseException:
            writer.close()  # whatever state the connection was left in dies with it
            self._writer = None
            raise
        self._written_at = time.monotonic()

    def append_soon(self, rows: Sequence[CallRow]) -> asyncio.Future[None]:
        """`append` from the event loop, through the client link: no thread, so no hand-over of the GIL
        between the loop and a writer thread, and the batch shares its round trip with a head read."""
        return self.link.append_soon(rows)

    def _writing_connection(self) -> Any:
        """The writer's connection; after a quiet spell, checked first (the server may have dropped it)."""
        import psycopg

        if self._writer is not None and time.monotonic() - self._written_at > IDLE_CHECK_SECONDS:
            try:
                self._writer.execute("")
            except psycopg.Error:
                self._writer.close()
                self._writer = None
        if self._writer is None:
            self._writer = psycopg.connect(self._conninfo, **{**self._kwargs, "autocommit": True})
        return self._writer

    def rows(self, after: int, limit: int) -> list[CallRow]:
        """Rows past `after` in position order, up to the first gap that may still fill (`_settled`)."""
        read = self._read(SELECT_SETTLING, (after, limit))
        return self._settled(read, after) if read else []

    def _settled(self, read: list[CallRow], after: int) -> list[CallRow]:
        """Positions come from a sequence and commit out of order. The writer of a missing position drew it before
        the row after it, so it had its transaction id by then (XID_FIRST, adapters/client_link.py): once every
        transaction running when the gap was first seen has ended, the position never fills and is passed. A later
        snapshot's bound is as sound, only later: a forgotten gap is settled again, by the next read's."""
        xmin, xmax = read[0][-2:]
        settled, expected = [], after + 1
        for row in read:
            if row[0] != expected:
                with self._gaps_lock:
                    running_then = self._gaps.setdefault(expected, xmax)
                    if len(self._gaps) > REMEMBERED_GAPS:
                        del self._gaps[next(iter(self._gaps))]
                if xmin < running_then:
                    break
            settled.append(row[:-2])
            expected = row[0] + 1
        return settled

    def _read(self, sql: str, parameters: tuple[Any, ...]) -> list[CallRow]:
        with self._pool.connection() as conn:
            return conn.execute(sql.replace("?", "%s"), parameters).fetchall()

    def close(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self.link.close()
        self._pool.close()


def conninfo_of(env: dict[str, str]) -> str:
    """The libpq conninfo of an eventsourcing PostgreSQL env, quoted as libpq reads it (spaces, quotes)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(**{name: env[key] for name, key in (
        ("dbname", "POSTGRES_DBNAME"), ("host", "POSTGRES_HOST"), ("port", "POSTGRES_PORT"),
        ("user", "POSTGRES_USER"), ("password", "POSTGRES_PASSWORD")) if env.get(key)})


def call_store_for(env: dict[str, str], events: Any = None) -> CallTable:
    """The call log beside the event store that this eventsourcing env configures (on PostgreSQL,
    `events` names the event store's table, for the client link)."""
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        return PostgresCallStore(conninfo_of(env), env.get("POSTGRES_SCHEMA") or None, events)
    dbname = env.get("SQLITE_DBNAME", ":memory:")
    if "memory" in dbname:
        return SQLiteCallStore(":memory:")
    path = Path(dbname)
    return SQLiteCallStore(str(path.with_name(path.stem + ".calls" + path.suffix)))


def committing(store: CallTable) -> Callable[[list[CallRow]], list[None]]:
    """A batch handler that commits each batch of rows to `store` (one result per row, as batches answer)."""
    def commit(rows: list[CallRow]) -> list[None]:
        store.append(rows)
        return [None] * len(rows)

    return commit


def committer(path: str) -> Callable[[list[CallRow]], list[None]]:
    """A writer child's handler (adapters/children.py): each batch of rows committed to the log at `path`."""
    return committing(SQLiteCallStore(path))


class CallLog:
    """Appends call records in group commits: whatever arrives while a commit runs shares the next one (0020).
    Blocking callers go through one writer thread, and so do an event loop's, unless given the client link
    (PostgreSQL) or a writer child (`child` names its handler, `committer`; a SQLite file only: decision 0090)."""

    def __init__(self, store: CallTable, link: ClientLink | None = None, child: str | None = None) -> None:
        self.store = store
        self._link = link
        self._writer: BatchThread[CallRow, None] = BatchThread("call-log", committing(store))
        self._child: ChildLink | None = None
        if child is not None and link is None and isinstance(store, SQLiteCallStore) and store.path != ":memory:":
            self._child = ChildLink(child, store.path)

    def append(self, record: CallRecord) -> None:
        """Append and return once the record is durable (raises what the commit raised)."""
        self._writer.submit(to_row(record))

    async def append_async(self, record: CallRecord) -> None:
        """`append` for an event loop: the loop runs on while the commit is under way."""
        await self.append_soon(record)

    def append_soon(self, record: CallRecord) -> asyncio.Future[None]:
        """Queue the record now; the future (of the running loop) is done once it is durable."""
        if self._link is not None:
            return self._link.append_soon([to_row(record)])
        if self._child is not None:
            return self._child.submit(to_row(record))
        return self._writer.submit_soon(to_row(record))

    @property
    def appends_conditionally(self) -> bool:
        """Whether `queue_unless_changed` is available (PostgreSQL's client link)."""
        return self._link is not None and self._link.reads_heads

    def queue_unless_changed(self, record: CallRecord, position: int, ids: Sequence[UUID]
                             ) -> tuple[asyncio.Future[None], asyncio.Future[tuple[bool, int]]]:
        """Append unless an event about one of `ids` lies past `position`, as of one snapshot taken after
        this call (adapters/client_link.py). Two futures: the statement was sent; then (appended, the event
        store's head) once committed."""
        if self._link is None:
            raise RuntimeError("this call log appends conditionally only through a client link")
        return self._link.queue_unless_changed(to_row(record), position, ids)

    def head(self) -> int:
        return self.store.head()

    def close(self) -> None:
        """Commit what is queued, stop the writer (and the child), close the store."""
        self._writer.close()
        if self._child is not None:
            self._child.close()
        self.store.close()
