"""Audit answers: the signed checkpoints of the audit chain (docs/audit.md)."""

import msgspec

from api.schemas.common import Pagination


class Checkpoint(msgspec.Struct, forbid_unknown_fields=True):
    """A signed checkpoint: Ed25519 over compact sorted JSON of chain, position, hash, key_id and at (the text
    exactly as given here)."""

    chain: str
    position: int
    hash: str
    key_id: str
    at: str
    signature: str


class CheckpointPage(msgspec.Struct, forbid_unknown_fields=True):
    """A page of checkpoints, oldest first, with the public key that verifies them."""

    checkpoints: list[Checkpoint]
    key_id: str
    algorithm: str
    public_key: str
    pagination: Pagination
