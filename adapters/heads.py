"""Head reads of the event store: every use of eventsourcing's recorder internals is here."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from typing import Any


class HeadReader:
    """The event store's head, read blocking (`__call__`) or on an event loop (`read_async`): through the
    client link when given one (PostgreSQL); inline where a read costs microseconds and never waits on a
    network (SQLite), one read shared by the calls that arrive in one turn of the loop; else in a thread."""

    def __init__(self, read: Callable[[], int | None], inline: bool,
                 link_read: Callable[[], Awaitable[int | None]] | None = None) -> None:
        self._read = read
        self._inline = inline
        self._link_read = link_read
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[asyncio.Future[int]] = []  # calls waiting for the inline read due this turn

    def __call__(self) -> int:
        return self._read() or 0

    async def read_async(self) -> int:
        """A head read that starts after this call arrived, the loop never blocked for long."""
        if self._link_read is not None:
            return await self._link_read() or 0
        if not self._inline:
            return await asyncio.to_thread(self)
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._waiting:  # another loop's read is due (tests run several loops)
                return await asyncio.to_thread(self)
            self._loop = loop
        if not self._waiting:
            loop.call_soon(self._read_for_waiting)  # after every callback already due: they share it
        waiter = loop.create_future()  # one each: a caller going away cancels only its own
        self._waiting.append(waiter)
        return await waiter

    def _read_for_waiting(self) -> None:
        waiters, self._waiting = self._waiting, []
        try:
            head = self()
        except Exception as error:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
            return
        for waiter in waiters:
            if not waiter.done():  # cancelled: the caller went away
                waiter.set_result(head)


def head_reader(recorder: Any, link_read: Callable[[], Awaitable[int | None]] | None = None) -> HeadReader:
    """SQLite files get a connection of their own for MAX(rowid): no queue behind the recorder's writers.
    On PostgreSQL the head is read on the event loop through the client link (`link_read`)."""
    pool = getattr(getattr(recorder, "datastore", None), "pool", None)
    if link_read is not None:
        return HeadReader(recorder.max_notification_id, inline=False, link_read=link_read)
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
