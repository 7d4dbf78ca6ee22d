"""Head reads of the event store: every use of eventsourcing's recorder internals is here."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import Any


class HeadReader:
    """The event store's head: `inline` when reading it costs microseconds and never waits on a network;
    `read_async`, when given, reads it on the event loop itself (no thread)."""

    def __init__(self, read: Callable[[], int | None], inline: bool,
                 read_async: Callable[[], Awaitable[int | None]] | None = None) -> None:
        self._read = read
        self.inline = inline
        self.read_async = read_async

    def __call__(self) -> int:
        return self._read() or 0


def head_reader(recorder: Any, read_async: Callable[[], Awaitable[int | None]] | None = None) -> HeadReader:
    """SQLite files get a connection of their own for MAX(rowid): no queue behind the recorder's writers.
    On PostgreSQL the head is read on the event loop through the client link (`read_async`)."""
    pool = getattr(getattr(recorder, "datastore", None), "pool", None)
    if read_async is not None:
        return HeadReader(recorder.max_notification_id, inline=False, read_async=read_async)
    if pool is None or not hasattr(pool, "is_sqlite_memory_mode"):
        return HeadReader(recorder.max_notification_id, inline=False)
    if pool.is_sqlite_memory_mode:
        return HeadReader(recorder.max_notification_id, inline=True)
    connection = sqlite3.connect(pool.db_name, check_same_thread=False, isolation_level=None)
    statement, lock = recorder.select_max_notification_id_statement, threading.Lock()

    def read() -> int | None:
        with lock:
            return connection.execute(statement).fetchone()[0]

    return HeadReader(read, inline=True)


def events_table(recorder: Any) -> Any:
    """The event store's table as a composed SQL identifier, on PostgreSQL (None elsewhere)."""
    schema, table = getattr(getattr(recorder, "datastore", None), "schema", None), getattr(
        recorder, "events_table_name", None)
    if schema is None or table is None or not hasattr(recorder, "max_notification_id_statement"):
        return None
    from psycopg import sql

    return sql.Identifier(schema, table)
