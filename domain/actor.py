"""Who caused an event and how: an account through the vendor API, a client call's product and device, or
the system (a worker, the CLI); with the request id and IP where there is one.

Every event is stamped with the current actor when it is created (domain/aggregate.py), so it is stored with the
event and comes back on replay. The current actor is a context variable each way in sets once (per request, call,
CLI command or worker thread), holding an `EventActor` or an `ActorSource` whose actor is built only when an event
is created, as few client calls create one (docs/decisions/0075-event-actors.md). It never holds a token,
password or key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol
from uuid import UUID

ActorKind = Literal["account", "anonymous", "client", "system", "unknown"]
"""`anonymous`: a vendor API request nobody signed in to (registering, signing in)."""
Channel = Literal["vendor_api", "client_api", "cli", "worker"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EventActor:
    """Who caused an event (an account with its email and role at the time; a client's product and device;
    the system, named) and how: its channel, request id and IP."""

    kind: ActorKind
    channel: Channel | None = None
    account_id: UUID | None = None
    email: str | None = None
    role: str | None = None
    product_id: UUID | None = None
    device: str | None = None
    name: str | None = None
    """Which part of the system acted: a worker (`expiry-sweeper`) or a CLI command (`admin promote`)."""
    os_user: str | None = None
    """The operating-system account that ran a CLI command."""
    request_id: str | None = None
    ip: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """As JSON values, without the empty fields (how it is stored, and shown in a history)."""
        return {name: str(value) if isinstance(value, UUID) else value
                for name, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventActor:
        uuids = {name: UUID(data[name]) for name in ("account_id", "product_id") if data.get(name)}
        return cls(**{**data, **uuids})


UNKNOWN = EventActor(kind="unknown")
"""The actor of an event stored before events recorded one, or created where no way in set one."""


def system(name: str, channel: Channel = "worker", os_user: str | None = None) -> EventActor:
    return EventActor(kind="system", channel=channel, name=name, os_user=os_user)


class ActorSource(Protocol):
    """Something that can say who is acting once an event needs to know (a request under way)."""

    def actor(self) -> EventActor: ...


_CURRENT: ContextVar[EventActor | ActorSource] = ContextVar("event_actor", default=UNKNOWN)


def current_actor() -> EventActor:
    """Who is acting now, for an event being created."""
    found = _CURRENT.get()
    return found if isinstance(found, EventActor) else found.actor()


def current_source() -> EventActor | ActorSource:
    """What the current actor is set to, unresolved: a way in fills in the source it set as it learns more."""
    return _CURRENT.get()


def act_as(actor: EventActor | ActorSource) -> Token[EventActor | ActorSource]:
    """Make `actor` the current one for the rest of this context (a thread, a request's task or thread), or until
    `stop_acting` with the token returned."""
    return _CURRENT.set(actor)


def stop_acting(token: Token[EventActor | ActorSource]) -> None:
    _CURRENT.reset(token)


@contextmanager
def acting(actor: EventActor | ActorSource) -> Iterator[None]:
    """`actor` is the current one inside the block."""
    token = _CURRENT.set(actor)
    try:
        yield
    finally:
        _CURRENT.reset(token)
