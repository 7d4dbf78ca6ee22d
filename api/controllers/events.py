"""The live event stream: Server-Sent Events of the caller's products' events, resumable by position.

Each message is `id:` the event's position in the store, `event:` its type (`License.Suspended`), `data:` the
license history's JSON shape of it. The stream reads the store a page at a time up to where the stats read
model has reached (projections/event_stream.py), then waits on the bell (adapters/event_feed.py) that appends
in any process ring, sending `: keep-alive` when it has been quiet for the keep-alive interval.
docs/events-stream.md describes it for clients.
"""

import time
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

import anyio
import msgspec
from litestar import Controller, get
from litestar.params import FromQuery, HeaderParameter, QueryParameter
from litestar.response import Stream

from api.deps import ActorDep, RuntimeDep
from api.ports import Services
from api.schemas.openapi import refused
from domain.errors import InvalidValueError
from domain.product import ProductNotFoundError
from projections import products
from projections.event_stream import TYPE_NAMES, StreamScope, in_scope, stream_event, stream_position

EVENT_STREAM = "text/event-stream"
PAGE = 200
"""Events read from the store at a time: memory stays flat however far back a stream resumes."""
BEHIND_PAUSES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""How soon to look again while the stats read model is behind the store (a write projected by another process:
the bell rang at the append, before the projection), longer each time it still is."""
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy may buffer a live answer
MAX_POSITION = 2**63 - 1


class EventStreamController(Controller):
    path = "/events"
    tags = ["events"]

    @get("/stream", sync_to_thread=True, media_type=EVENT_STREAM,
         responses=refused({404: "PRODUCT_NOT_FOUND: `product_id` names no product of the caller's."}))
    def stream_events(
        self, actor: ActorDep, runtime: RuntimeDep,
        types: Annotated[str | None, QueryParameter(name="type", description=(
            "Comma-separated event types (`License.Suspended,License.Issued`): only these.")) ] = None,
        product_id: FromQuery[UUID | None] = None,
        last_event_id: Annotated[int | None, QueryParameter(ge=0, le=MAX_POSITION, description=(
            "Resume after this position, for clients that cannot send `Last-Event-ID` (the header wins)."))] = None,
        resume_header: Annotated[str | None, HeaderParameter(name="Last-Event-ID", description=(
            "Resume after this position: the `id:` of the last message received."))] = None,
        follow: Annotated[bool, QueryParameter(description=(
            "false: send what is stored up to now, then end."))] = True,
    ) -> Stream:
        """Server-Sent Events of the caller's products' events (admins: every event), from the current head, or
        after `Last-Event-ID` with no gap and no repeat; `: keep-alive` comments while quiet."""
        scope = _scope(runtime, actor.is_admin, str(actor.id), types, product_id)
        head = runtime.events.head()
        after = _resume(resume_header, last_event_id, head)
        messages = _messages(runtime, scope, head if after is None else after, None if follow else head)
        return Stream(messages, media_type=EVENT_STREAM, headers=HEADERS)


def _scope(runtime: Services, is_admin: bool, account_id: str, types: str | None, product_id: UUID | None
           ) -> StreamScope:
    """The stream's scope; an unknown type is a 400, a product not the caller's a 404."""
    wanted = None if types is None else frozenset(part.strip() for part in types.split(",") if part.strip())
    if wanted is not None and (not wanted or wanted - TYPE_NAMES):
        raise InvalidValueError(f"type takes event types, comma-separated: {', '.join(sorted(TYPE_NAMES))}")
    owner = None if is_admin else account_id
    if product_id is not None and products.get_product(runtime.store, str(product_id), owner) is None:
        raise ProductNotFoundError(product_id)
    return StreamScope(owner, None if product_id is None else str(product_id), wanted)


def _resume(header: str | None, query: int | None, head: int) -> int | None:
    """Where to resume from (the header wins over the query): a position in the store, at most its head."""
    if header is not None:
        if not (header.strip().isascii() and header.strip().isdigit()) or int(header) > MAX_POSITION:
            raise InvalidValueError("Last-Event-ID must be an event's position (a whole number)")
        query = int(header)
    if query is not None and query > head:
        raise InvalidValueError(f"Last-Event-ID {query} is past the last event ({head})")
    return query


async def _messages(runtime: Services, scope: StreamScope, after: int, until: int | None) -> AsyncIterator[bytes]:
    """The stream: each page of events in scope as they arrive, keep-alives between; ends at `until` (if given,
    or once the read models have kept it waiting the consistency timeout), on shutdown, or when the client goes
    (Litestar cancels it)."""
    feed, keepalive = runtime.events, runtime.settings.stream_keepalive_seconds
    quiet_since, behind = time.monotonic(), 0
    give_up = quiet_since + runtime.settings.consistency_timeout
    while not feed.closed:
        rings = feed.rings  # before reading, so a ring while reading is not lost
        reached, head = await anyio.to_thread.run_sync(_reach, runtime)
        upto = reached if until is None else min(reached, until)
        while after < upto and not feed.closed:
            after, text = await anyio.to_thread.run_sync(_page, runtime, scope, after, upto)
            if text:
                yield text
                quiet_since = time.monotonic()
        if until is not None and (after >= until or time.monotonic() > give_up):
            return
        behind = behind + 1 if head > reached else 0
        pause = keepalive - (time.monotonic() - quiet_since)
        if behind:
            pause = min(pause, BEHIND_PAUSES[min(behind, len(BEHIND_PAUSES)) - 1])
        await feed.wait(rings, pause)
        if time.monotonic() - quiet_since >= keepalive and not feed.closed:
            yield b": keep-alive\n\n"
            quiet_since = time.monotonic()


def _reach(runtime: Services) -> tuple[int, int]:
    """How far the stream may go now, and the store's head."""
    return stream_position(runtime.store, runtime.ledger.name), runtime.events.head()


def _page(runtime: Services, scope: StreamScope, after: int, upto: int) -> tuple[int, bytes]:
    """The next page of events after `after` (up to `upto`): the position reached, and its messages in scope."""
    events = runtime.events.read(after, upto, PAGE)
    if not events:
        return upto, b""
    shown = in_scope(runtime.store, events, scope)
    return events[-1][0], b"".join(_message(position, event) for position, event in shown)


def _message(position: int, event: object) -> bytes:
    data = stream_event(position, event)
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (position, data["type"].encode(), msgspec.json.encode(data))
