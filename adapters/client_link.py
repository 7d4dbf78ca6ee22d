"""The client path's PostgreSQL round trips: one statement carries whatever a batch of calls needs.

Calls arriving together on an event loop share each statement: plain appends to the call log, head reads, and
appends *unless changed*, for calls decided from the client view's memory as of position P: a row goes in only if
no event about its license, product or blacklist entries lies past P, and the statement answers which rows were
stale, with the head. One statement runs in one snapshot taken after its calls arrived and commits before it
answers, so an appended row's decision holds and its record is durable when the call hears of it (decision 0022).
Statements go through libpq (psycopg.pq), prepared once per connection, at most IN_FLIGHT at a time (0040).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec

from adapters.batches import settle

GATHER_TURNS = 3
"""How many turns of the event loop a statement waits for more calls before it goes out. A burst of requests
is read in one wake of the loop, and each reaches the queue a turn or two later (its task starts on the next
turn): three turns let the burst share one statement (docs/decisions/0040)."""

IN_FLIGHT = 2
"""Statements a loop may have in flight at once, each on a connection of its own; what comes while both
are in flight shares the next statement. Why two: docs/decisions/0040."""

CallRow = tuple[Any, ...]
"""One client_calls row, in the order of the columns it is sent with."""
_encode = msgspec.json.Encoder().encode

# libpq's statuses (psycopg.pq.ConnStatus.OK; ExecStatus.COMMAND_OK, TUPLES_OK), without importing psycopg here
_CONNECTION_OK = 0
_SUCCEEDED = frozenset({1, 2})
_HEAD, _INSERT, _BOTH = b"keyledger_link_head", b"keyledger_link_insert", b"keyledger_link_both"
"""The link's prepared statements: the head alone, plain appends, appends unless changed with the head."""


def _row_fields(columns: str) -> str:
    """The columns of a row `r` sent as a JSON array, in order, as text."""
    return ", ".join(f"r->>{i}" for i in range(len(columns.split(","))))


XID_FIRST = "txn AS MATERIALIZED (SELECT pg_current_xact_id() AS id)"
"""A CTE every call-log INSERT joins: the transaction takes its id before it draws a position, which lets a
reader tell a gap that may still fill from one that never will (adapters/call_log.py, `PostgresCallStore._settled`)."""


def insert_json(table: str, columns: str, parameter: str = "%s") -> str:
    """INSERT of the rows of one JSON array parameter (each row an array of text or null), in order;
    `parameter` is its placeholder (psycopg's `%s`, or libpq's `$1`)."""
    return (f"WITH {XID_FIRST} INSERT INTO {table} ({columns}) SELECT {_row_fields(columns)}"
            f" FROM jsonb_array_elements({parameter}::jsonb) WITH ORDINALITY AS batch(r, n), txn ORDER BY n")


def rows_json(rows: Sequence[CallRow]) -> str:
    return _encode(rows).decode()


class _Lane:
    """One connection of a loop's link, at most one statement in flight on it. Its socket's one reader, for the
    connection's life, gathers results and notices a connection the server dropped while idle (decision 0020); so
    psycopg only connects it: psycopg's own calls would wait on the socket and take that reader from it."""

    __slots__ = ("connection", "pgconn", "loop", "fileno", "prepared", "answer", "results", "flushing")

    def __init__(self) -> None:
        # The psycopg connection that connected it: kept while it is open (psycopg warns of one dropped open)
        # and for its `info` (the tests read its backend's pid).
        self.connection: Any = None
        self.pgconn: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.fileno = -1
        self.prepared: set[bytes] = set()  # the statements prepared on this connection
        self.answer: asyncio.Future[list[Any]] | None = None
        self.results: list[Any] = []
        self.flushing = False

    @property
    def is_open(self) -> bool:
        return self.pgconn is not None

    async def open(self, conninfo: str, kwargs: dict[str, Any]) -> None:
        import psycopg

        connection = await psycopg.AsyncConnection.connect(conninfo, **kwargs)
        self.connection, self.pgconn, self.prepared = connection, connection.pgconn, set()
        self.loop, self.fileno = asyncio.get_running_loop(), connection.pgconn.socket
        self.loop.add_reader(self.fileno, self._readable)

    async def run(self, name: bytes, statement: bytes, parameter: bytes | None) -> Any:
        """The statement (SQL with at most one parameter, $1) with `parameter`: its result. Prepared as
        `name` the first time this connection runs it."""
        if name not in self.prepared:
            await self._request(self.pgconn.send_prepare, name, statement)
            self.prepared.add(name)
        return await self._request(self.pgconn.send_query_prepared, name, None if parameter is None else [parameter])

    async def _request(self, send: Any, *arguments: Any) -> Any:
        try:
            send(*arguments)
            self.answer = self.loop.create_future()  # type: ignore[union-attr]
            if self.pgconn.flush():  # the socket took only part of it: the rest goes when it can
                self.flushing = True
                self.loop.add_writer(self.fileno, self._writable)  # type: ignore[union-attr]
            results = await self.answer
        except BaseException:
            self.close()  # whatever state it was left in dies with it
            raise
        for result in results:
            if result.status not in _SUCCEEDED:
                self.close()
                raise _error_of(result)
        return results[-1] if results else None

    def _readable(self) -> None:
        pgconn = self.pgconn
        try:
            pgconn.consume_input()
            answer = self.answer
            if answer is None:  # nothing in flight: a notice, or the server dropping the connection
                if pgconn.status != _CONNECTION_OK:
                    self.close()
                return
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the statement is complete
                    self.answer, results, self.results = None, self.results, []
                    if not answer.done():
                        answer.set_result(results)
                    return
                self.results.append(result)
        except Exception as error:
            self._fail(error)

    def _writable(self) -> None:
        try:
            if self.pgconn.flush() == 0:
                self.flushing = False
                self.loop.remove_writer(self.fileno)  # type: ignore[union-attr]
        except Exception as error:
            self._fail(error)

    def _fail(self, error: Exception) -> None:
        answer, self.answer = self.answer, None
        self.close()
        if answer is not None and not answer.done():
            answer.set_exception(error)

    def close(self) -> None:
        """Close the connection. Its socket leaves the loop's selector first, unless the loop runs in another
        thread (the link closing at exit): a selector is the business of its own thread."""
        if self.pgconn is None:
            return
        if self.loop is not None and not self.loop.is_closed() and (
                not self.loop.is_running() or _running_loop() is self.loop):
            self.loop.remove_reader(self.fileno)
            if self.flushing:
                self.loop.remove_writer(self.fileno)
        self.pgconn.finish()
        self.connection = self.pgconn = None
        self.flushing, self.results, self.prepared = False, [], set()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _error_of(result: Any) -> Exception:
    """The psycopg exception for a failed statement's result (its SQLSTATE's class, as psycopg raises)."""
    from psycopg import errors

    return errors.error_from_result(result)


class _LoopLink:
    """One event loop's connections and what waits for its next round trip."""

    def __init__(self) -> None:
        self.lanes: list[_Lane] = []  # every lane opened, for close()
        self.idle: list[_Lane] = []  # lanes with no statement in flight
        self.heads: list[asyncio.Future[int]] = []
        self.appends: list[tuple[Sequence[CallRow], asyncio.Future[Any]]] = []
        self.conditional: list[tuple[CallRow, asyncio.Future[tuple[bool, int]]]] = []
        self.sent: list[asyncio.Future[None]] = []  # told once the statement carrying their row is on its way
        self.runners: set[asyncio.Task[None]] = set()
        self.gathering = False  # a runner takes whatever is queued on its next turn

    @property
    def due(self) -> bool:
        return bool(self.heads or self.appends or self.conditional)

    def take_lane(self) -> _Lane:
        """An idle lane, or a new one (its connection opens with its first statement)."""
        if self.idle:
            return self.idle.pop()
        lane = _Lane()
        self.lanes.append(lane)
        return lane


class ClientLink:
    """Head reads and call-log appends of each event loop, sent together: one round trip, one statement. `table`
    and `columns` name the call log; `events`, the event store's table (a composed SQL identifier; without it the
    link only appends). Each loop gets connections of its own, so nothing here is shared between threads."""

    def __init__(self, conninfo: str, connect_kwargs: dict[str, Any], table: str, columns: str,
                 events: Any = None) -> None:
        from psycopg import sql

        self._conninfo = conninfo
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopLink] = weakref.WeakKeyDictionary()
        options = f"{connect_kwargs.get('options', '')} -c jit=off".strip()  # a JIT compile costs 100x the statement
        self._kwargs = {**connect_kwargs, "autocommit": True, "options": options}
        width = len(columns.split(","))
        # Each prepared on a connection under its name the first time it runs there (_Lane.run).
        self._prepared: dict[bytes, bytes] = {
            _INSERT: sql.SQL(insert_json(table, columns, "$1")).as_bytes()}  # type: ignore[arg-type]
        self._events = events
        if events is None:
            return
        self._prepared[_HEAD] = sql.SQL("SELECT MAX(notification_id) FROM {}").format(events).as_bytes()
        self._prepared[_BOTH] = sql.SQL(  # type: ignore[arg-type]
            f"WITH {XID_FIRST},"
            " batch AS (SELECT r, n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(r, n)),"
            " recent AS MATERIALIZED (SELECT originator_id, notification_id FROM {events}"
            " WHERE notification_id > (SELECT MIN((r->>{after})::bigint) FROM batch)),"
            " stale AS (SELECT n FROM batch WHERE EXISTS (SELECT FROM recent"
            " WHERE recent.notification_id > (batch.r->>{after})::bigint"
            " AND recent.originator_id = ANY(string_to_array(batch.r->>{ids}, ',')::uuid[]))),"
            " appended AS (INSERT INTO {table} ({columns}) SELECT {fields} FROM batch, txn"
            " WHERE n NOT IN (SELECT n FROM stale) ORDER BY n)"
            " SELECT (SELECT MAX(notification_id) FROM {events}), ARRAY(SELECT n FROM stale)"
        ).format(events=events, after=sql.Literal(width), ids=sql.Literal(width + 1), table=sql.SQL(table),
                 columns=sql.SQL(columns), fields=sql.SQL(_row_fields(columns))).as_bytes()

    @property
    def reads_heads(self) -> bool:
        return self._events is not None

    async def head(self) -> int:
        """The event store's head, read by a statement that starts after this call."""
        if self._events is None:
            raise RuntimeError("this client link was given no event store")
        link, done = self._queue()
        link.heads.append(done)
        return await done  # type: ignore[no-any-return]

    async def append(self, rows: Sequence[CallRow]) -> None:
        """Append call-log rows; returns once they are committed."""
        await self.append_soon(rows)

    def append_soon(self, rows: Sequence[CallRow]) -> asyncio.Future[None]:
        """Queue call-log rows now; the future is done once they are committed."""
        link, done = self._queue()
        link.appends.append((rows, done))
        return done

    async def append_unless_changed(self, row: CallRow, position: int, ids: Sequence[UUID]) -> tuple[bool, int]:
        """Append `row` unless an event about one of `ids` lies past `position`: (appended, head), once
        committed. The head is read in the same snapshot that decided."""
        return await self.queue_unless_changed(row, position, ids)[1]

    def queue_unless_changed(self, row: CallRow, position: int, ids: Sequence[UUID]
                             ) -> tuple[asyncio.Future[None], asyncio.Future[tuple[bool, int]]]:
        """`append_unless_changed`, as two futures: the first done once the statement carrying the row has
        been sent (what the caller does after it overlaps the round trip), the second with the outcome.
        (The ids travel as bare hex, which PostgreSQL reads as uuid as well: a third of `str`'s cost.)"""
        if self._events is None:
            raise RuntimeError("this client link was given no event store")
        link, done = self._queue()
        sent = done.get_loop().create_future()
        link.conditional.append(((*row, position, ",".join([known.hex for known in ids])), done))
        link.sent.append(sent)
        return sent, done

    def _queue(self) -> tuple[_LoopLink, asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        link = self._loops.get(loop)
        if link is None:
            link = self._loops[loop] = _LoopLink()
        if not link.gathering and len(link.runners) < IN_FLIGHT:
            link.gathering = True  # it starts on the loop's next turn, so what else is due by then joins it
            runner = loop.create_task(self._run(link))
            link.runners.add(runner)
            runner.add_done_callback(link.runners.discard)
        return link, loop.create_future()

    async def _run(self, link: _LoopLink) -> None:
        heads: list[asyncio.Future[int]] = []
        appends: list[tuple[Sequence[CallRow], asyncio.Future[Any]]] = []
        conditional: list[tuple[CallRow, asyncio.Future[tuple[bool, int]]]] = []
        lane = link.take_lane()
        try:
            while True:
                for _ in range(GATHER_TURNS):  # the calls of the same burst join this statement
                    await asyncio.sleep(0)
                link.gathering = False
                heads, link.heads = link.heads, []
                appends, link.appends = link.appends, []
                conditional, link.conditional = link.conditional, []
                sent, link.sent = link.sent, []
                settle([(waiting, None) for waiting in sent], None)  # they resume after the statement went out
                rows = [row for batch, _ in appends for row in batch]
                plain = len(rows)
                rows += [row for row, _ in conditional]
                head, stale, error = 0, frozenset[int](), None
                try:
                    head, stale = await self._round_trip_again_if_dropped(lane, rows)
                except Exception as exc:  # everyone of this round trip learns its fate
                    error = exc
                settle([*((done, head) for done in heads), *((done, None) for _, done in appends),
                        *((done, (plain + n + 1 not in stale, head)) for n, (_, done) in enumerate(conditional))],
                       error)
                heads, appends, conditional = [], [], []
                if not link.due or link.gathering:  # nothing left, or another runner takes it
                    return
                link.gathering = True
        except BaseException as stopped:  # cancelled with its loop: nobody may wait on for it
            waiting = [*heads, *link.heads, *(done for _, done in [*appends, *link.appends]),
                       *(done for _, done in [*conditional, *link.conditional]), *link.sent]
            settle([(done, None) for done in waiting], stopped)
            link.heads, link.appends, link.conditional, link.sent = [], [], [], []
            link.gathering = False
            raise
        finally:
            link.idle.append(lane)

    async def _round_trip_again_if_dropped(self, lane: _Lane, rows: list[CallRow]) -> tuple[int, frozenset[int]]:
        """`_round_trip`, sent once more on a new connection when the server dropped the one it went out on
        (a restart, a terminated backend): the statement was not committed then, but for the instant
        between a commit and its answer, where a record may be appended twice."""
        import psycopg

        try:
            return await self._round_trip(lane, rows)
        except psycopg.OperationalError:
            if lane.is_open:  # the connection lives: the statement itself failed
                raise
            return await self._round_trip(lane, rows)

    async def _round_trip(self, lane: _Lane, rows: list[CallRow]) -> tuple[int, frozenset[int]]:
        """One statement: the rows appended (the conditional ones unless stale), and the head whenever the
        event store is known; returns the head and the (1-based) numbers of the rows found stale. A plain
        row has no position and ids (JSON's `->>` past the end of an array is null), so it is never stale."""
        if not lane.is_open:
            await lane.open(self._conninfo, self._kwargs)
        name = _HEAD if not rows else _BOTH if self._events is not None else _INSERT
        result = await lane.run(name, self._prepared[name], _encode(rows) if rows else None)
        if name is _INSERT:
            return 0, frozenset()
        head = result.get_value(0, 0)
        stale = result.get_value(0, 1) if name is _BOTH else b"{}"
        return int(head) if head is not None else 0, frozenset(int(n) for n in stale[1:-1].split(b",") if n)

    def close(self) -> None:
        """Close every loop's connections, from any thread (the loops that opened them may be gone)."""
        for link in list(self._loops.values()):
            for lane in link.lanes:
                lane.close()
