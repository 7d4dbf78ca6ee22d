"""The client-call log as its followers read it: rows as stored, ids and times as text.

The security-event and time-series feeds and the audit chain read every call the server answers.
Parsing each row into a `CallRecord` (two UUIDs, a datetime, JSON) cost them more than their own
writes, so they take the row as adapters/call_log.py stores it and parse only what they use; a
call that raises an alert becomes a `CallRecord` (decision 0086).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from domain.client_call import CallRecord
from domain.instants import utc_text

BATCH = 5000
"""Calls a follower of the call log reads per transaction."""
GAP_WAIT = timedelta(seconds=10)
"""How long a follower waits at a gap in the call log's positions before passing it. On PostgreSQL the store hands
out rows past a gap only once no transaction can fill it (adapters/call_log.py, `_settled`): what is left is a
rolled-back append's gap, and this wait only delays passing it."""


class StoredCall(NamedTuple):
    """One call-log row: its position, then the columns of adapters/call_log.py's COLUMNS, as stored (`at` in
    domain/instants.py's fixed-width UTC text, ids in canonical text, `details` compact JSON)."""

    position: int
    at: str
    action: str
    license_id: str | None
    product_id: str | None
    error_code: str | None
    security_event: str | None
    ip: str | None
    hwid: str | None
    user_agent: str | None
    details: str

    def detail_values(self) -> dict[str, Any]:
        return {} if self.details == "{}" else json.loads(self.details)

    def record(self) -> CallRecord:
        return CallRecord(self.action, _uuid(self.license_id), _uuid(self.product_id), self.error_code,
                          self.security_event, self.ip, self.hwid, self.user_agent, self.detail_values(),
                          datetime.fromisoformat(self.at))


class CallSource(Protocol):
    """The call log, as its followers read it (adapters/call_log.py's stores)."""

    def rows(self, after: int, limit: int) -> list[Any]:
        """At most `limit` rows past position `after`, in position order: the position, then the columns."""


def settled_calls(calls: CallSource, position: int, limit: int, now: datetime) -> list[StoredCall]:
    """The next `limit` calls past `position`, up to the first gap in positions younger than GAP_WAIT."""
    read = list(map(StoredCall._make, calls.rows(position, limit)))
    fresh = utc_text(now - GAP_WAIT)
    expected = position + 1
    for index, call in enumerate(read):
        if call.position != expected and call.at > fresh:
            return read[:index]
        expected = call.position + 1
    return read


def _uuid(value: str | None) -> UUID | None:
    return None if value is None else UUID(value)
