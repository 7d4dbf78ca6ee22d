"""IdempotencyKey aggregate: one vendor's `Idempotency-Key`, saved with the write it was sent with."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid5

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import ConflictError
from domain.ids import NAMESPACE

RETENTION = timedelta(hours=24)
"""How long a key answers for its first write; after that the same key starts a new write."""


class IdempotencyKeyUsedError(ConflictError):
    """Raised when a write's key already recorded a write (the first answer is replayed instead)."""

    def __init__(self, key: IdempotencyKey) -> None:
        super().__init__(str(key.id))
        self.fingerprint = key.fingerprint
        self.recorded_ids = key.recorded_ids


class IdempotencyKey(Aggregate):
    """Claimed by the first write sent with the key, in the same atomic save as that write's events,
    so a retry (in any process) finds it and records nothing new."""

    @event("Used")
    def __init__(self, id: UUID, account_id: UUID, fingerprint: str, recorded_ids: list[UUID],  # noqa: A002
                 at: datetime) -> None:
        self._use(fingerprint, recorded_ids, at)

    def _use(self, fingerprint: str, recorded_ids: list[UUID], at: datetime) -> None:
        self.fingerprint = fingerprint
        self.recorded_ids = recorded_ids
        self.used_at = at

    def require_unused(self, now: datetime) -> None:
        if now - self.used_at < RETENTION:
            raise IdempotencyKeyUsedError(self)

    @event("UsedAgain")
    def use_again(self, fingerprint: str, recorded_ids: list[UUID], at: datetime) -> None:
        """The key came back after RETENTION: it now stands for this write."""
        self._use(fingerprint, recorded_ids, at)


def idempotency_key_id(account_id: UUID, key: str) -> UUID:
    """The key's aggregate id: keys are the account's own, so two vendors' equal keys never meet."""
    return uuid5(NAMESPACE, f"idempotency:{account_id}:{key}")
