"""Blacklist commands: block or unblock an IP (or network), HWID, license key or fingerprint; quick blocks."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.blacklist import (
    NETWORKS_ID,
    BlacklistEntry,
    BlacklistType,
    NetworkIndex,
    Severity,
    blacklist_entry_id,
    check_expiry,
    normalise_value,
)
from domain.errors import InvalidValueError, NotFoundError
from domain.security import SecurityAlert

MAX_BLOCK_HOURS = 24 * 365 * 10
"""The longest quick block (ten years); a permanent one is a blacklist entry without an expiry."""


class BlacklistEntryNotFoundError(NotFoundError):
    """Raised when no blacklist entry has the given id."""


class BlacklistCommands(CommandsBase):
    """The blacklist part of the Ledger (admin only, enforced by the API)."""

    @retry_on_conflict
    def add_blacklist_entry(self, entry_type: BlacklistType, value: str, reason: str, severity: Severity,
                            expires_at: datetime | None, added_by: UUID | None, at: datetime) -> Receipt:
        """Block a value from the next client call on; adding it again renews the entry."""
        entry = self._entry_added(entry_type, value, reason, severity, expires_at, added_by, at)
        return Receipt(entry.id, self.record(entry, *self._networks_touched(entry, at)))

    def _entry_added(self, entry_type: BlacklistType, value: str, reason: str, severity: Severity,
                     expires_at: datetime | None, added_by: UUID | None, at: datetime) -> BlacklistEntry:
        value = normalise_value(entry_type, value)
        check_expiry(expires_at, at)
        entry_id = blacklist_entry_id(entry_type, value)
        if not self._exists(entry_id):
            return BlacklistEntry(entry_type, value, reason, severity, expires_at, added_by, at)
        entry = self._load(entry_id, BlacklistEntry, BlacklistEntryNotFoundError)
        entry.readd(reason, severity, expires_at, added_by, at)
        return entry

    def _networks_touched(self, entry: BlacklistEntry, at: datetime) -> list[NetworkIndex]:
        """The network index, touched, when `entry` is a network (saved with it, in one transaction)."""
        if not entry.is_network:
            return []
        index = self._optional(NETWORKS_ID, NetworkIndex) or NetworkIndex(at)
        index.network_changed(entry.id, at)
        return [index]

    def blocks(self, entry_type: BlacklistType, value: str, at: datetime) -> bool:
        """Whether an active, unexpired entry blocks this exact value at `at` (read from the store itself, so
        every process agrees at once)."""
        entry = self._optional(blacklist_entry_id(entry_type, value), BlacklistEntry, copy=False)
        return entry is not None and entry.blocks_at(at)

    @retry_on_conflict
    def remove_blacklist_entry(self, entry_id: UUID, at: datetime) -> Receipt:
        entry = self._load(entry_id, BlacklistEntry, BlacklistEntryNotFoundError)
        was_active = entry.is_active
        entry.remove(at)
        return Receipt(entry.id, self.record(entry, *(self._networks_touched(entry, at) if was_active else [])))

    @retry_on_conflict
    def expire_blacklist_entry(self, entry_id: UUID, now: datetime) -> int | None:
        """Record `Expired` (at the entry's own expiry) once it has passed; None when there was nothing to record."""
        entry: BlacklistEntry | None = self._optional(entry_id, BlacklistEntry)
        if entry is None or not entry.expire(now):
            return None
        return self.record(entry, *self._networks_touched(entry, now))

    @retry_on_conflict
    def block_value(self, entry_type: BlacklistType, value: str, reason: str, duration_hours: float,
                    blocked_by: UUID | None, at: datetime, event_type: str = "manual_block",
                    severity: Severity = Severity.HIGH) -> Receipt:
        """A quick block: an entry that expires after `duration_hours`, and a SecurityAlert (blocked) saying so.
        `event_type` names why (an admin's `manual_block`, a detection rule's own type)."""
        if not 0 < duration_hours <= MAX_BLOCK_HOURS:
            raise InvalidValueError(f"duration_hours must be more than 0 and at most {MAX_BLOCK_HOURS}")
        expires_at = at + timedelta(hours=duration_hours)
        entry = self._entry_added(entry_type, value, reason, severity, expires_at, blocked_by, at)
        kept = normalise_value(entry_type, value)
        alert = SecurityAlert(event_type, severity.value, None, None,
                              kept if entry_type is BlacklistType.IP else None,
                              kept if entry_type is BlacklistType.HWID else None, True,
                              {"reason": reason, "blacklist_entry_id": str(entry.id),
                               "blacklist_type": entry_type.value, "expires_at": expires_at.isoformat()}, at)
        return Receipt(entry.id, self.record(entry, alert, *self._networks_touched(entry, at)))
