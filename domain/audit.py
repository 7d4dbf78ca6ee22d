"""The audit hash chain: how one link is computed, what a checkpoint signs, and how a break is named.

A chain covers one ordered log (the event store, or the client-call log). Each link is
SHA-256 over the previous link's hash and the record's position, id, version, type and
stored bytes, each field length-prefixed so no two records encode alike; the first link's
previous hash is 32 zero bytes. docs/audit.md gives the same scheme for auditors.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from datetime import datetime, timezone

from domain.errors import InvalidValueError

GENESIS = bytes(32)
EVENTS = "events"
CALLS = "calls"
CHAINS = (EVENTS, CALLS)


@dataclass(frozen=True, slots=True)
class ChainRecord:
    """One stored record as the chain sees it: its position in its log and its stored bytes."""

    position: int
    record_id: str
    version: int
    type: str
    data: bytes
    at: str | None = None
    """When the record was made, where its log may show positions out of order (the call log); not hashed."""


def link_hash(previous: bytes, record: ChainRecord) -> bytes:
    """SHA-256(prev ‖ u64 position ‖ str id ‖ u64 version ‖ str type ‖ bytes data); str/bytes are u32-length-prefixed."""
    return hashlib.sha256(previous + _POSITION.pack(record.position) + _body(record)).digest()


def link_and_fingerprint(previous: bytes, record: ChainRecord) -> tuple[bytes, str]:
    """`link_hash` and `fingerprint` of one record, its fields encoded once."""
    body = _body(record)
    return hashlib.sha256(previous + _POSITION.pack(record.position) + body).digest(), hashlib.sha256(body).hexdigest()


_POSITION = struct.Struct(">Q")
_LENGTH = struct.Struct(">I")


def _body(record: ChainRecord) -> bytes:
    """The hashed fields after the position: str id ‖ u64 version ‖ str type ‖ bytes data."""
    record_id, kind = record.record_id.encode(), record.type.encode()
    return b"".join((_LENGTH.pack(len(record_id)), record_id, _POSITION.pack(record.version),
                     _LENGTH.pack(len(kind)), kind, _LENGTH.pack(len(record.data)), record.data))


def checkpoint_message(chain: str, position: int, hash_hex: str, key_id: str, at: str) -> bytes:
    """The bytes a checkpoint's Ed25519 signature covers: compact JSON with sorted keys."""
    body = {"chain": chain, "position": position, "hash": hash_hex, "key_id": key_id, "at": at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain stops matching its records: the first position, and what happened there."""

    chain: str
    position: int
    kind: str  # "changed", "removed", "inserted", "reordered", "checkpoint"
    detail: str

    def describe(self) -> str:
        return f"{self.chain} chain: record {self.kind} at position {self.position} ({self.detail})"


def fingerprint(record: ChainRecord) -> str:
    """SHA-256 (hex) of a record without its position: the same record found at another position matches."""
    return hashlib.sha256(_body(record)).hexdigest()


def classify(linked_elsewhere: bool, linked_here_comes_next: bool) -> str:
    """Name what happened at a position whose record does not match its link: the record there is linked at
    another position (records were swapped), or the record linked there comes next (one was put before it),
    or else it was changed in place."""
    if linked_elsewhere:
        return "reordered"
    if linked_here_comes_next:
        return "inserted"
    return "changed"


def parse_instant(text: str) -> datetime:
    """An ISO-8601 time; one without a zone is taken as UTC. InvalidValueError names what did not parse."""
    try:
        at = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise InvalidValueError(f"{text!r} is not an ISO-8601 time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
