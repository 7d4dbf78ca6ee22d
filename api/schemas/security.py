"""Security requests and answers: blacklist entries, quick blocks."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from api.schemas.common import Instant, Pagination
from commands.blacklist import MAX_BLOCK_HOURS
from domain.blacklist import MAX_VALUE, BlacklistType, Severity

Value = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_VALUE, pattern=r"\S")]
"""Holds a character that is not blank: an entry keeps its value trimmed, and `\\s` matches what
`str.strip` trims (the separators U+001C–U+001F among them)."""
Reason = Annotated[str, msgspec.Meta(max_length=500)]
Expiry = Annotated[datetime, msgspec.Meta(tz=True)]
Hours = Annotated[float, msgspec.Meta(ge=0.01, le=MAX_BLOCK_HOURS)]
"""At least 36 s: a shorter block could lapse before it is recorded, and a block that never blocked is refused."""


class BlacklistEntryCreate(msgspec.Struct, forbid_unknown_fields=True):
    """An `ip` value is an address or a network (CIDR, IPv4 or IPv6); a `fingerprint` is what the client sends
    as `client_data.fingerprint` (docs/licensing-rules.md)."""

    type: BlacklistType
    value: Value
    reason: Reason = ""
    severity: Severity = Severity.MEDIUM
    expires_at: Expiry | None = None


class BlacklistEntry(msgspec.Struct, forbid_unknown_fields=True):
    """An entry; `is_active` is whether it blocks now (active and not past its expiry)."""

    id: UUID
    type: BlacklistType
    value: str
    reason: str
    severity: Severity
    expires_at: Instant | None
    is_active: bool
    added_by: UUID | None
    created_at: Instant
    updated_at: Instant
    ended_at: Instant | None
    end_reason: str | None


class BlacklistPage(msgspec.Struct, forbid_unknown_fields=True):
    entries: list[BlacklistEntry]
    pagination: Pagination


class IpBlock(msgspec.Struct, forbid_unknown_fields=True):
    ip: Value
    reason: Reason = ""
    duration_hours: Hours = 24


class HwidBlock(msgspec.Struct, forbid_unknown_fields=True):
    hwid: Value
    reason: Reason = ""
    duration_hours: Hours = 720


class ClientSession(msgspec.Struct, forbid_unknown_fields=True):
    """A client session; `is_active` is whether it may still run now, `released` whether a change to its license
    (device released, sessions revoked, deletion) has cut it off before its `Ended` was recorded."""

    id: UUID
    license_id: UUID
    product_id: UUID
    hwid: str
    ip_address: str | None
    started_at: Instant
    last_heartbeat_at: Instant | None
    heartbeats: int
    expires_at: Instant
    ended_at: Instant | None
    end_reason: str | None
    released: bool
    is_active: bool


class SessionPage(msgspec.Struct, forbid_unknown_fields=True):
    sessions: list[ClientSession]
    pagination: Pagination


class Revocation(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class SessionsRevoked(msgspec.Struct, forbid_unknown_fields=True):
    """How many of the license's sessions were running when they were revoked."""

    license_id: UUID
    revoked_sessions: int


class SecurityEvent(msgspec.Struct, forbid_unknown_fields=True):
    """A security event: from a client call (`id` `call:<position>`) or an alert (`alert:<id>`)."""

    id: str
    event_type: str
    severity: str
    license_id: UUID | None
    product_id: UUID | None
    ip_address: str | None
    hwid: str | None
    is_blocked: bool
    details: dict[str, Any]
    created_at: Instant


class SecurityEventPage(msgspec.Struct, forbid_unknown_fields=True):
    events: list[SecurityEvent]
    pagination: Pagination


class SecurityOverview(msgspec.Struct, forbid_unknown_fields=True):
    """Today (UTC) so far, and what blocks or runs now."""

    today_events: int
    critical_events: int
    blocked_attempts: int
    active_blacklist: int
    active_sessions: int


class TypeCount(msgspec.Struct, forbid_unknown_fields=True):
    event_type: str
    count: int


class SeverityCount(msgspec.Struct, forbid_unknown_fields=True):
    severity: str
    count: int


class DayCount(msgspec.Struct, forbid_unknown_fields=True):
    date: str
    count: int
    blocked: int


class SecurityStats(msgspec.Struct, forbid_unknown_fields=True):
    """The overview, then the last seven days (today included) by type, by severity and by day."""

    overview: SecurityOverview
    events_by_type: list[TypeCount]
    events_by_severity: list[SeverityCount]
    daily_trend: list[DayCount]
