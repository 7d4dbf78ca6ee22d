"""The client gate: how a validation is decided and recorded, while the API builds its answer.

`admit` decides a call and queues its record (a refusal is recorded, then raised); the API signs its answer
while the record commits; `record` waits for it, and answers with a new decision in the rare case the first
went stale. One of two strategies decides first, chosen once from what the call log can do: READ_THEN_DECIDE
(the view brought to a head read after the call arrived; every store) or DECIDE_THEN_CHECK (decided from memory,
the record appended only if nothing in DECIDED_FROM changed since; PostgreSQL), which falls back to the first
when memory cannot answer or its decision went stale. See docs/decisions/0065-client-gate.md.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Any, NamedTuple
from uuid import UUID

from commands.client import ClientCommands, Granted
from commands.client_view import retrieved
from domain.client_call import ClientRequest
from domain.refusals import ClientRefusedError
from domain.validation import check_attempt


class Strategy(Enum):
    """Which way a validation is decided first (see the module docstring)."""

    READ_THEN_DECIDE = "read then decide"
    DECIDE_THEN_CHECK = "decide then check"


class Decision(NamedTuple):
    """An allowed validation whose record is committing: the API answers `granted` once `record` says so."""

    call: ClientRequest
    granted: Granted
    recorded: asyncio.Future[Any]
    """Done once the record is committed; with (appended, head) when it was appended unless changed."""
    checked: bool


class ClientGate:
    """The validate route's way through the commands: `admit`, then `record` (module docstring)."""

    def __init__(self, commands: ClientCommands) -> None:
        self._commands = commands
        self._view = commands.view
        self._calls = commands.calls
        self.strategy = (Strategy.DECIDE_THEN_CHECK if commands.calls.appends_conditionally
                         else Strategy.READ_THEN_DECIDE)

    async def admit(self, call: ClientRequest) -> Decision:
        """Decide `call` and queue its record; a refusal is raised once its record is committed."""
        if self.strategy is Strategy.DECIDE_THEN_CHECK:
            decision = await self._decide_then_check(call)
            if decision is not None:
                return decision
        return await self._read_then_decide(call)

    async def record(self, decision: Decision) -> Decision | None:
        """Wait for the record `admit` queued: None once it is committed and the decision stands. When what
        it was decided from changed first, the call decided again: a refusal raised, or a new decision to
        answer instead (its record queued in turn)."""
        outcome = await decision.recorded
        if not decision.checked:
            return None
        appended, head = outcome
        self._view.follow(head)
        return None if appended else await self._read_then_decide(decision.call, head)

    async def validate(self, call: ClientRequest) -> Granted:
        """`admit` then `record`, with nothing to build meanwhile: the validation once it is recorded."""
        decision: Decision | None = await self.admit(call)
        while decision is not None:
            granted = decision.granted
            decision = await self.record(decision)
        return granted

    async def _read_then_decide(self, call: ClientRequest, head: int | None = None) -> Decision:
        """Decide from the view brought to `head`, or to a head read after the call arrived."""
        commands = self._commands
        try:
            if head is None:
                head = await self._view.fresh()
            else:
                await self._view.reach(head)
            if commands.answerable_from_memory(call):
                attempt = commands.validation_attempt(call, head)
            else:
                attempt = await asyncio.to_thread(commands.validation_attempt, call, head)
            admitted = check_attempt(attempt)
        except ClientRefusedError as refusal:
            await self._calls.append_async(commands.refusal_record("validation", call, refusal))
            raise
        recorded = self._calls.append_soon(commands.validated(call, admitted))
        recorded.add_done_callback(retrieved)  # the record stands even if the answer fails
        return Decision(call, Granted(admitted.license, admitted.product), recorded, False)

    async def _decide_then_check(self, call: ClientRequest) -> Decision | None:
        """Decide from memory alone and append unless changed; None when memory cannot answer."""
        commands = self._commands
        position = self._view.position  # read first: what memory holds below is at least this current
        if not commands.answerable_from_memory(call):
            return None
        try:
            attempt = commands.validation_attempt(call, position, _not_in_memory)
        except _NotInMemory:
            return None
        try:
            admitted = check_attempt(attempt)
        except ClientRefusedError as refusal:
            record = commands.refusal_record("validation", call, refusal)
            _, recorded = self._calls.queue_unless_changed(record, position, commands.decided_on(call, attempt))
            appended, head = await recorded
            self._view.follow(head)
            if appended:
                raise
            return await self._read_then_decide(call, head)
        sent, recorded = self._calls.queue_unless_changed(commands.validated(call, admitted), position,
                                                          commands.decided_on(call, attempt))
        recorded.add_done_callback(retrieved)  # the record stands even if the answer fails
        await sent  # the statement is on its way: the API builds its answer during the round trip
        return Decision(call, Granted(admitted.license, admitted.product), recorded, True)


class _NotInMemory(Exception):
    """Raised by `_not_in_memory`: deciding this call would mean a read of the event store."""


def _not_in_memory(aggregate_id: UUID) -> Any:
    raise _NotInMemory(aggregate_id)
