"""What the client path needs from plumbing it does not own; adapters/ implements these, the wiring picks one."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from domain.client_call import CallRecord


class CallStore(Protocol):
    """The client-call log: appends whose callers return once their record is durable."""

    @property
    def appends_conditionally(self) -> bool:
        """Whether `queue_unless_changed` is available."""

    def append(self, record: CallRecord) -> None: ...
    async def append_async(self, record: CallRecord) -> None: ...
    def append_soon(self, record: CallRecord) -> asyncio.Future[None]: ...

    def queue_unless_changed(self, record: CallRecord, position: int, ids: Sequence[UUID]
                             ) -> tuple[asyncio.Future[None], asyncio.Future[tuple[bool, int]]]:
        """Append unless an event about one of `ids` lies past `position`: two futures, the statement sent,
        then (appended, the event store's head) once committed."""

    def close(self) -> None: ...


class HeadSource(Protocol):
    """The event store's head: read blocking, or on an event loop without blocking it (a read that starts
    after the call arrived, possibly shared with the calls that arrived with it)."""

    def __call__(self) -> int: ...
    async def read_async(self) -> int: ...


class ClientPlumbing(Protocol):
    """Builds the call log and head source beside the event store whose recorder it is given."""

    def __call__(self, recorder: Any) -> tuple[CallStore, HeadSource]: ...
