"""The client path's PostgreSQL round trips: a head read and a call-log append go out as one statement.

Every validation needs two things from PostgreSQL: the event store's head, read after the call
arrived (commands/client_view.py), and its outcome appended to the call log before it is
answered (commands/call_log.py). Calls arriving together already share each; this link sends
whatever is due of the two as one statement, over an asyncio connection of the event loop's
own, so a busy process makes one round trip per batch of calls instead of two:

    WITH appended AS (INSERT INTO client_calls ...) SELECT MAX(notification_id) FROM events

One statement runs in one snapshot, taken when it starts, which is after every call waiting
for the head arrived; and in autocommit it commits its rows before it answers. So a head it
reads is as fresh as a head read alone, and a record it appends is as durable.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Sequence
from typing import Any

from commands.batches import settle

IDLE_CHECK_SECONDS = 2.0
"""A connection unused this long is checked before the next statement (the server may have dropped it)."""


class _LoopLink:
    """One event loop's connection and what waits for its next round trip."""

    def __init__(self) -> None:
        self.connection: Any = None
        self.used_at = 0.0
        self.heads: list[asyncio.Future[int]] = []
        self.appends: list[tuple[Sequence[Sequence[Any]], asyncio.Future[None]]] = []
        self.running: asyncio.Task[None] | None = None


class ClientLink:
    """Head reads and call-log appends of each event loop, sent together: one round trip, one statement.

    `insert` is an INSERT taking one array per column (%s placeholders); `head` a statement whose one
    row and column is the event store's head (without one, the link only appends). Each loop (a
    process has one; tests run several) gets a connection of its own, so nothing here is shared
    between threads.
    """

    def __init__(self, conninfo: str, connect_kwargs: dict[str, Any], insert: str, head: Any = None) -> None:
        from psycopg import sql

        self._conninfo = conninfo
        self._kwargs = {**connect_kwargs, "autocommit": True}
        self._insert = sql.SQL(insert)  # type: ignore[arg-type]
        self._head = head  # None: this link only appends
        self._both = None if head is None else sql.SQL("WITH appended AS ({}) {}").format(self._insert, head)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopLink] = weakref.WeakKeyDictionary()

    async def head(self) -> int:
        """The event store's head, read by a statement that starts after this call."""
        if self._head is None:
            raise RuntimeError("this client link was given no head statement")
        link, done = self._queue()
        link.heads.append(done)  # type: ignore[arg-type]
        return await done  # type: ignore[no-any-return]

    async def append(self, rows: Sequence[Sequence[Any]]) -> None:
        """Append call-log rows; returns once they are committed."""
        link, done = self._queue()
        link.appends.append((rows, done))
        await done

    def _queue(self) -> tuple[_LoopLink, asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        link = self._loops.get(loop)
        if link is None:
            link = self._loops[loop] = _LoopLink()
        if link.running is None:  # starts on the loop's next turn, so what else is due by then joins it
            link.running = loop.create_task(self._run(link))
        return link, loop.create_future()

    async def _run(self, link: _LoopLink) -> None:
        heads: list[asyncio.Future[int]] = []
        appends: list[tuple[Sequence[Sequence[Any]], asyncio.Future[None]]] = []
        try:
            while link.heads or link.appends:
                heads, link.heads = link.heads, []
                appends, link.appends = link.appends, []
                rows = [row for batch, _ in appends for row in batch]
                head, error = 0, None
                try:
                    head = await self._round_trip(link, bool(heads), rows)
                except Exception as exc:  # everyone of this round trip learns its fate
                    error = exc
                settle([*((done, head) for done in heads), *((done, None) for _, done in appends)], error)
                heads, appends = [], []
        except BaseException as stopped:  # cancelled with its loop: nobody may wait on for it
            settle([(done, None) for done in [*heads, *link.heads, *(d for _, d in [*appends, *link.appends])]],
                   stopped)
            link.heads, link.appends = [], []
            raise
        finally:
            link.running = None

    async def _round_trip(self, link: _LoopLink, read_head: bool, rows: list[Sequence[Any]]) -> int:
        connection = await self._connection(link)
        columns = columns_of(rows)
        statement, parameters = ((self._both if rows else self._head, columns or None) if read_head
                                 else (self._insert, columns))
        try:
            cursor = await connection.execute(statement, parameters)
            head = (await cursor.fetchone() or (0,))[0] if read_head else 0
        except BaseException:
            connection.pgconn.finish()  # whatever state it was left in dies with it
            link.connection = None
            raise
        link.used_at = time.monotonic()
        return head or 0

    async def _connection(self, link: _LoopLink) -> Any:
        import psycopg

        if link.connection is not None and time.monotonic() - link.used_at > IDLE_CHECK_SECONDS:
            try:
                await link.connection.execute("")
            except psycopg.Error:
                link.connection.pgconn.finish()
                link.connection = None
        if link.connection is None:
            link.connection = await psycopg.AsyncConnection.connect(self._conninfo, **self._kwargs)
        return link.connection

    def close(self) -> None:
        """Close every loop's connection, from any thread (the loops that opened them may be gone)."""
        for link in list(self._loops.values()):
            if link.connection is not None:
                link.connection.pgconn.finish()
                link.connection = None


def columns_of(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows as one list per column: the parameters of an INSERT ... SELECT FROM unnest(...)."""
    return [list(column) for column in zip(*rows, strict=True)]
