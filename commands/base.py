"""What every command mixin relies on from the Ledger application."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.errors import NotFoundError

if TYPE_CHECKING:
    from eventsourcing.application import Repository

    from commands.retry import KeyedLocks
    from keys.passwords import Passwords

A = TypeVar("A")


class Receipt(NamedTuple):
    """What a command hands back: the id it touched and the position to wait for."""

    id: UUID
    position: int


class CommandsBase:
    """Typed view of the Application members the command mixins use."""

    repository: Repository[UUID]
    master_key: bytes
    passwords: Passwords
    issue_locks: KeyedLocks

    def record(self, *aggregates: Any) -> int:
        raise NotImplementedError

    def position(self) -> int:
        """The event store's head."""
        raise NotImplementedError

    def _load(self, aggregate_id: UUID, kind: type[A], missing: type[NotFoundError]) -> A:
        """Load one aggregate of `kind`; anything else or nothing at all is `missing`."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise missing(aggregate_id) from None
        if not isinstance(aggregate, kind):
            raise missing(aggregate_id)
        return aggregate

    def _optional(self, aggregate_id: UUID | None, kind: type[Any], copy: bool = True) -> Any:
        """One read: the aggregate if it exists and is a `kind`, else None (no separate existence query).

        `copy=False` returns the cached instance itself: only for callers that never change it.
        """
        if aggregate_id is None:
            return None
        try:
            aggregate = self.repository.get(aggregate_id, deepcopy_from_cache=copy)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository
