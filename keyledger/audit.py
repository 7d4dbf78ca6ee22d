"""Wiring of the audit chain: the server's audit key, one chain per log, and the worker that keeps them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.audit_sources import CallLogSource, EventStoreSource
from domain.audit import CALLS, EVENTS
from keys.signing import SigningKey, load_or_create_signing_key, load_public_key, sign
from projections.audit_chain import AuditChain, ChainSource, Signer
from projections.db import ReadStore
from workers.audit import ChainKeeper


class Audit:
    """The chains a process keeps, the logs they cover, and the key their checkpoints are signed with."""

    def __init__(self, key: SigningKey, sources: dict[str, ChainSource], keeper: ChainKeeper) -> None:
        self.key = key
        self.sources = sources
        self.keeper = keeper

    def public_keys(self) -> dict[str, Any]:
        return {self.key.key_id: load_public_key(self.key.public_pem)}


def audit_key_path(data_path: Path) -> Path:
    return data_path / "keys" / "audit-ed25519.pem"


def audit_key(data_path: Path) -> SigningKey:
    """The server's checkpoint-signing key, Ed25519, created on first start (0600); apart from the answer keys."""
    return load_or_create_signing_key(audit_key_path(data_path), "ed25519")


def build_audit(data_path: Path, ledger: Any, store: ReadStore, clock: Callable[[], datetime], every: int,
                interval_seconds: float) -> Audit:
    key = audit_key(data_path)
    signer = Signer(key.key_id, lambda message: sign(key.private_key, message))
    sources: dict[str, ChainSource] = {EVENTS: EventStoreSource(ledger.recorder),
                                       CALLS: CallLogSource(ledger.calls.store)}
    chains = [AuditChain(store, name, source, signer, clock, ledger.name, every, timedelta(seconds=interval_seconds))
              for name, source in sources.items()]
    for chain in chains:
        chain.create_tables()
    return Audit(key, sources, ChainKeeper(chains))
