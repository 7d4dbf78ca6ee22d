"""One SQL surface over SQLite and PostgreSQL for the read models.

Statements are written once with `?` placeholders and portable types (TEXT for ids,
ISO-8601 UTC timestamps and JSON; INTEGER for booleans and counters); on PostgreSQL the
placeholders become `%s`. Each projection writes its rows and its tracking position
through one `transaction()`.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import msgspec

Row = dict[str, Any]


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchone(self) -> Any: ...
    @property
    def rowcount(self) -> int: ...


class ReadStore(Protocol):
    """Where the read models live. `transaction()` commits on success, rolls back on error."""

    dialect: str

    def transaction(self, durable: bool = True) -> contextmanager[Cursor]: ...  # type: ignore[valid-type]
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    def close(self) -> None: ...


def use_wal(conn: sqlite3.Connection, timeout: float = 30) -> None:
    """Puts a SQLite file in WAL mode (kept in the file). SQLite answers "database is locked" at once, without the
    busy timeout, when another connection holds the file while the mode changes: processes opening a new file
    together take turns here until `timeout`."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":  # a reader's lock, which waits its turn
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


class SQLiteReadStore:
    """Read models in a SQLite file, WAL mode: one writer (the projector), many readers."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")  # 64 MiB: rebuilds touch every table at random keys
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Cursor]:
        conn = self._connection()
        cursor = conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            cursor.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [dict(row) for row in self._connection().execute(sql, tuple(params)).fetchall()]

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


def unreachable(error: BaseException) -> bool:
    """Whether `error` says the database could not be reached or was busy (worth trying again), rather than
    that a statement was wrong."""
    if isinstance(error, sqlite3.OperationalError):
        return any(word in str(error) for word in ("locked", "busy", "disk I/O", "unable to open"))
    import psycopg
    from psycopg_pool import PoolTimeout

    return isinstance(error, psycopg.OperationalError | psycopg.InterfaceError | PoolTimeout)


SET_INSERT_MIN = 3
"""Rows from which a run of one plain INSERT goes out as one statement of one JSON parameter (`set_insert`):
it costs the client and the server less a row than a statement a row does (bench/README.md)."""
_PLAIN_INSERT = re.compile(r"INSERT INTO (\w+)(?: \(([\w, ]+)\))? VALUES \((\?(?:, ?\?)*)\)"
                           r"((?: ON CONFLICT(?: \([\w, ]+\))? DO NOTHING)?)")
INTEGERS = frozenset({"smallint", "integer", "bigint"})


@lru_cache(maxsize=1024)
def plain_insert(sql: str) -> tuple[str, tuple[str, ...] | None, int, str] | None:
    """A single-row INSERT, maybe skipping conflicts, as (table, its columns or None for all, the number of
    values, the conflict clause); None for any other statement (an upsert's rows go one by one: one
    statement may not update a row twice)."""
    match = _PLAIN_INSERT.fullmatch(" ".join(sql.split()))
    if match is None:
        return None
    table, columns, values, conflict = match.groups()
    names = tuple(name.strip() for name in columns.split(",")) if columns else None
    return table, names, values.count("?"), conflict


@lru_cache(maxsize=256)
def set_insert(table: str, columns: tuple[tuple[str, str], ...], conflict: str) -> str:
    """The INSERT of the rows of one JSON array parameter, in order: `columns` are (name, SQL type) pairs.
    A number goes into an integer column through numeric, so a float is rounded into it, not refused (as one
    of psycopg's float parameters is)."""
    fields = ", ".join(f"(r->>{index})::{'numeric::' if type_ in INTEGERS else ''}{type_}"
                       for index, (_, type_) in enumerate(columns))
    return (f"INSERT INTO {table} ({', '.join(name for name, _ in columns)}) SELECT {fields}"
            f" FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS batch(r, n) ORDER BY n{conflict}")


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """`?` placeholders to psycopg's `%s` (our statements never contain a literal `%` or `?`)."""
    return sql.replace("%", "%%").replace("?", "%s")


_PLAIN = frozenset({str, int, bool, type(None)})
_ENCODE = msgspec.json.Encoder().encode


def json_rows(rows: list[tuple[Any, ...]]) -> str | None:
    """The rows as one JSON array, or None if a value is not plain JSON (bytes, datetimes, NaN: psycopg adapts
    those, row by row). Rows of text, integers, booleans and nulls only, the common case, go through msgspec."""
    if {type(value) for row in rows for value in row} <= _PLAIN:
        try:
            return _ENCODE(rows).decode()
        except ValueError:  # a lone surrogate, which UTF-8 cannot carry: json escapes it (PostgreSQL refuses it)
            pass
    try:
        return json.dumps(rows, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


class _PgCursor:
    """psycopg cursor for the `?` statements the projections are written in, pipelined inside a transaction. A run
    of the same statement goes out as one `executemany`, or as one `set_insert` statement for a plain INSERT of
    SET_INSERT_MIN rows or more; order is kept, and a statement whose result is read goes alone (decision 0005)."""

    def __init__(self, cursor: Any, pipeline: Any = None,
                 column_types: Callable[[str], dict[str, str]] | None = None) -> None:
        self._cursor = cursor
        self._pipeline = pipeline
        self._column_types = column_types
        self._run_sql = ""
        self._run: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if sql != self._run_sql:
            self.flush()
            self._run_sql = sql
        self._run.append(tuple(params))

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        self.flush()
        self._many(sql, [tuple(p) for p in params])

    def flush(self, keep_last: bool = False) -> None:
        """Send the run of statements held back; `keep_last` sends the last one by itself, to be read."""
        run, self._run = self._run, []
        if keep_last and run:
            self._send(run[:-1])
            self._cursor.execute(to_pyformat(self._run_sql), run[-1])
        else:
            self._send(run)

    def _send(self, run: list[tuple[Any, ...]]) -> None:
        if len(run) == 1:
            self._cursor.execute(to_pyformat(self._run_sql), run[0])
        elif run:
            self._many(self._run_sql, run)

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """`rows` of one statement: as one set-based INSERT where it is a plain one and its values are JSON
        (text, numbers, booleans, nulls), else as an `executemany`."""
        statement = self._set_insert(sql) if len(rows) >= SET_INSERT_MIN else None
        batch = None if statement is None else json_rows(rows)
        if batch is not None:
            self._cursor.execute(statement, (batch,))
            return
        self._cursor.executemany(to_pyformat(sql), rows)

    def _set_insert(self, sql: str) -> str | None:
        parts = plain_insert(sql)
        if parts is None or self._column_types is None:
            return None
        table, names, count, conflict = parts
        types = self._column_types(table)
        columns = tuple((name, types[name]) for name in names if name in types) if names else tuple(types.items())
        return set_insert(table, columns, conflict) if len(columns) == count else None

    def fetchall(self) -> list[Any]:
        self.flush(keep_last=True)
        return self._cursor.fetchall()

    def fetchone(self) -> Any:
        self.flush(keep_last=True)
        return self._cursor.fetchone()

    @property
    def rowcount(self) -> int:
        self.flush(keep_last=True)
        if self._pipeline is not None:
            self._pipeline.sync()
        return self._cursor.rowcount


class PostgresReadStore:
    """Read models in PostgreSQL tables (optionally in one schema), through a psycopg pool."""

    dialect = "postgres"

    def __init__(self, conninfo: str, schema: str | None = None, max_size: int = 16) -> None:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        options = f"-c search_path={schema}" if schema else None
        kwargs: dict[str, Any] = {"row_factory": dict_row, "autocommit": False}
        if options:
            kwargs["options"] = options
        if schema:
            import psycopg

            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        self._pool = ConnectionPool(conninfo, min_size=1, max_size=max_size, kwargs=kwargs, open=True)
        self._types: dict[str, dict[str, str]] = {}

    def column_types(self, table: str) -> dict[str, str]:
        """`table`'s columns and their SQL types, in order (none while it is not there to see): read once."""
        types = self._types.get(table)
        if types is None:
            rows = self._query("SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute"
                               " WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped"
                               " ORDER BY attnum", (table,))
            types = {row["attname"]: row["type"] for row in rows}
            if types:
                self._types[table] = types
        return types

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[_PgCursor]:
        """`durable=False` commits without waiting for the WAL flush: for rows a crash may lose together with
        their tracking position, since both are then applied again (the read models)."""
        try:
            with self._pool.connection() as conn, conn.pipeline() as pipeline, conn.transaction(), \
                    conn.cursor() as cursor:
                batching = _PgCursor(cursor, pipeline, self.column_types)
                if not durable:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                yield batching
                batching.flush()
        except Exception as error:
            if unreachable(error):
                self._pool.check()  # its other idle connections may be gone with this one
            raise

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Rows of a read; one that fails on a lost connection is read again on a fresh one, once the pool
        has let go of every connection the server dropped (a restart, terminated backends)."""
        try:
            return self._query(sql, params)
        except Exception as error:
            if not unreachable(error):
                raise
            self._pool.check()
            return self._query(sql, params)

    def _query(self, sql: str, params: Sequence[Any]) -> list[Row]:
        with self._pool.connection() as conn:
            rows = conn.execute(to_pyformat(sql), tuple(params)).fetchall()
            conn.rollback()
            return rows

    def close(self) -> None:
        self._pool.close()
