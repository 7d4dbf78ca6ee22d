"""Which write an `Idempotency-Key` is claimed for, and its claim saved with that write's events.

The API sets `claim` around a vendor write sent with the header (api/idempotency.py); the
Ledger's `record` then saves the key's aggregate in the same atomic save as the write, or
refuses when the key already recorded one (domain/idempotency.py). A context variable rather
than a parameter, so every write command is covered without each one passing it on.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.idempotency import IdempotencyKey, idempotency_key_id


@dataclass(frozen=True)
class Claim:
    """The key, whose it is, what the request that carries it looks like (its fingerprint), and when."""

    account_id: UUID
    key: str
    fingerprint: str
    at: datetime

    @property
    def key_id(self) -> UUID:
        return idempotency_key_id(self.account_id, self.key)


CLAIM: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


@contextmanager
def claimed(claim: Claim) -> Iterator[None]:
    token = CLAIM.set(claim)
    try:
        yield
    finally:
        CLAIM.reset(token)


def key_for(existing: IdempotencyKey | None, claim: Claim, aggregates: tuple[Any, ...]) -> IdempotencyKey:
    """The key's aggregate to save with `aggregates`; IdempotencyKeyUsedError if it recorded a write lately."""
    recorded = [aggregate.id for aggregate in aggregates]
    if existing is None:
        return IdempotencyKey(claim.key_id, claim.account_id, claim.fingerprint, recorded, claim.at)
    existing.require_unused(claim.at)
    existing.use_again(claim.fingerprint, recorded, claim.at)
    return existing
