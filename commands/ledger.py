"""The Ledger application: one event store and notification log, the client-call log beside it, every command."""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent, Repository
from eventsourcing.persistence import (
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    RecordConflictError,
    Recording,
    Transcoding,
)

from commands.accounts import AccountCommands
from commands.blacklist import BlacklistCommands
from commands.client import ClientCommands
from commands.client_view import ClientView, SizedCache
from commands.idempotency import CLAIM, key_for
from commands.imports import ImportCommands
from commands.inbox import InboxCommands
from commands.licenses import LicenseCommands
from commands.ports import ClientPlumbing
from commands.products import ProductCommands
from commands.retry import KeyedLocks, OutcomeUnknownError
from commands.security_alerts import SecurityAlertCommands
from commands.sessions import SessionCommands
from commands.webhooks import WebhookCommands
from domain.account import Role
from domain.actor import EventActor
from domain.blacklist import BlacklistType, NetworkIndex, Severity
from domain.idempotency import IdempotencyKey
from domain.license import LicenseType
from domain.product import ClientCompatibility, Product, SigningAlgorithm
from domain.license import License
from domain.session import EndReason, Session
from keys.passwords import Passwords


class EnumAsValue(Transcoding):
    """Store an enum member as its value, so event JSON stays readable by any consumer."""

    def __init__(self, enum_type: type[Enum]) -> None:
        self.type = enum_type
        self.name = enum_type.__name__

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


class ActorAsDict(Transcoding):
    """Store an event's actor as a flat JSON object of its non-empty fields (docs/audit.md)."""

    type = EventActor
    name = "actor"

    def encode(self, obj: EventActor) -> dict[str, Any]:
        return obj.as_dict()

    def decode(self, data: dict[str, Any]) -> EventActor:
        return EventActor.from_dict(data)


class _RecordedAlready(Exception):
    """The store holds the events a save reported as failed: the write happened."""


class Ledger(AccountCommands, ProductCommands, LicenseCommands, InboxCommands, ClientCommands, BlacklistCommands,
             SessionCommands, ImportCommands, WebhookCommands, SecurityAlertCommands,
             Application[UUID]):
    """The write side of KeyLedger. Construct with an eventsourcing env and the master key."""

    name = "KeyLedger"
    # Heartbeats add an event to a session every few minutes; snapshots keep loading it cheap.
    snapshotting_intervals = {  # noqa: RUF012 - eventsourcing's class setting
        Session: 50, License: 100, Product: 100, NetworkIndex: 100}

    def __init__(self, env: dict[str, str], master_key: bytes, client_plumbing: ClientPlumbing,
                 passwords: Passwords | None = None, cache: SizedCache | None = None) -> None:
        self._sized_cache = cache  # read by construct_repository, which the Application's __init__ calls
        super().__init__(env)
        self.master_key = master_key
        self.passwords = passwords or Passwords()
        self.issue_locks = KeyedLocks()
        self.calls, head = client_plumbing(self.recorder)
        self.view = ClientView(self.recorder, self.mapper, head, cache)

    def construct_repository(self) -> Repository[UUID]:
        """eventsourcing's repository, over the cache given (bounded by bytes as well as entries), if one was."""
        repository = super().construct_repository()
        if self._sized_cache is not None:
            repository.cache = self._sized_cache
        return repository

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        for enum_type in (Role, LicenseType, SigningAlgorithm, BlacklistType, Severity, EndReason,
                          ClientCompatibility):
            transcoder.register(EnumAsValue(enum_type))
        transcoder.register(ActorAsDict())

    def record(self, *aggregates: Any) -> int:
        """Save every changed aggregate atomically and return the last notification id. Under an idempotency claim
        (commands/idempotency.py) the key's aggregate is saved with them, or IdempotencyKeyUsedError is raised
        when the key already recorded a write."""
        claim = CLAIM.get()
        if claim is not None and any(getattr(aggregate, "pending_events", None) for aggregate in aggregates):
            existing = self._optional(claim.key_id, IdempotencyKey)
            aggregates = (*aggregates, key_for(existing, claim, aggregates))
        try:
            recordings: list[Recording[UUID]] = self.save(*aggregates)
        except _RecordedAlready:
            return self.position()
        return recordings[-1].notification.id if recordings else self.position()

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Put the events in the store. When it failed to answer (a connection dropped as the commit went
        out, so eventsourcing's own retry then met the events already there), the store is asked whether
        they are in it: a write whose outcome is known is answered as such, never recorded twice."""
        try:
            return super()._record(processing_event)
        except (RecordConflictError, OperationalError, InterfaceError):
            if self._stored_already(processing_event.events):
                raise _RecordedAlready from None
            raise

    def _stored_already(self, events: list[Any]) -> bool:
        """Whether these very events (same originator, version and bytes) are in the store."""
        try:
            for stored in map(self.mapper.to_stored_event, events):
                found = self.recorder.select_events(stored.originator_id, gt=stored.originator_version - 1,
                                                    lte=stored.originator_version)
                if not found or found[0].state != stored.state or found[0].topic != stored.topic:
                    return False
        except (OperationalError, InterfaceError) as error:
            raise OutcomeUnknownError("the store could not say whether the write was recorded") from error
        return bool(events)

    def position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def close(self) -> None:
        self.calls.close()
        super().close()
