"""The base of every aggregate: eventsourcing's `Aggregate`, whose events record who caused them.

An event is stamped with the current actor (domain/actor.py) as it is created, whichever way its
aggregate triggers it, so the actor is stored with the event (the mapper stores an event's
attributes) and comes back on replay. An event stored before events recorded an actor has none
stored; the class-level default answers `UNKNOWN` for it, so no upcast is needed.
"""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.domain import Aggregate as _Aggregate

from domain.actor import UNKNOWN, EventActor, current_actor


class Aggregate(_Aggregate):
    """eventsourcing's Aggregate, with the actor on every event."""

    class Event(_Aggregate.Event):
        actor: ClassVar[EventActor] = UNKNOWN  # not a field: the default for an event stored without one

        def __post_init__(self) -> None:
            super().__post_init__()
            if (actor := current_actor()) is not UNKNOWN:  # unknown is the default: nothing to store
                object.__setattr__(self, "actor", actor)

    class Created(Event, _Aggregate.Created):
        pass
