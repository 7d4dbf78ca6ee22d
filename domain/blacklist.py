"""BlacklistEntry aggregate: an IP, HWID, license key or fingerprint refused at every client call."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.ids import NAMESPACE


class BlacklistType(Enum):
    IP = "ip"
    HWID = "hwid"
    LICENSE = "license"
    FINGERPRINT = "fingerprint"


class Severity(Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def blacklist_entry_id(entry_type: BlacklistType, value: str) -> UUID:
    return uuid5(NAMESPACE, f"blacklist:{entry_type.value}:{value.strip().lower()}")


class BlacklistEntry(Aggregate):
    """One blocked value; re-adding a removed value reactivates the same entry."""

    @event("Added")
    def __init__(self, entry_type: BlacklistType, value: str, reason: str, severity: Severity,
                 expires_at: datetime | None, added_by: UUID | None, at: datetime) -> None:
        self._activate(expires_at)

    @staticmethod
    def create_id(entry_type: BlacklistType, value: str) -> UUID:
        return blacklist_entry_id(entry_type, value)

    def _activate(self, expires_at: datetime | None) -> None:
        self.is_active = True
        self.expires_at = expires_at

    def blocks_at(self, now: datetime) -> bool:
        return self.is_active and (self.expires_at is None or self.expires_at > now)

    @event("Readded")
    def readd(self, reason: str, severity: Severity, expires_at: datetime | None, added_by: UUID | None,
              at: datetime) -> None:
        self._activate(expires_at)

    def remove(self, at: datetime) -> None:
        if self.is_active:
            self._remove(at=at)

    @event("Removed")
    def _remove(self, at: datetime) -> None:
        self.is_active = False
