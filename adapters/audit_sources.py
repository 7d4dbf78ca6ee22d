"""The logs the audit chain covers, read raw in position order: the event store and the client-call log.

Plumbing only: each turns stored rows into `ChainRecord`s (projections/audit_chain.py's
`ChainSource`), bytes exactly as stored, so a hash over them sees any change to a row.
"""

from __future__ import annotations

from typing import Any

import msgspec

from domain.audit import ChainRecord

CALL_FIELDS = ("at", "action", "license_id", "product_id", "error_code", "security_event", "ip", "hwid",
               "user_agent", "details")


class EventStoreSource:
    """The event store's notification log: position = notification id, id and version = the originator's,
    type = the event's topic, data = its stored state."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def records(self, after: int, limit: int) -> list[ChainRecord]:
        notifications = self.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        return [ChainRecord(n.id, str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
                for n in notifications]


class CallLogSource:
    """The client-call log: position = the call's, id = its license (or ""), version 0, type = the action,
    data = the row's columns as compact JSON with sorted keys (docs/audit.md)."""

    def __init__(self, calls: Any) -> None:
        self.calls = calls  # adapters/call_log.py's store

    def records(self, after: int, limit: int) -> list[ChainRecord]:
        return [call_record(row) for row in self.calls.rows(after, limit)]


_ENCODE = msgspec.json.Encoder(order="sorted").encode
"""Compact JSON, keys sorted, non-ASCII as UTF-8: the bytes of Python's `json.dumps(..., sort_keys=True,
separators=(",", ":"), ensure_ascii=False)` (tests/property/test_audit_bytes.py), at a fraction of its cost."""


def call_record(row: tuple[Any, ...]) -> ChainRecord:
    fields = dict(zip(CALL_FIELDS, row[1:], strict=True))
    data = _ENCODE(fields)
    return ChainRecord(row[0], fields["license_id"] or "", 0, fields["action"], data, fields["at"])
