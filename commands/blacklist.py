"""Blacklist commands: block or unblock an IP, HWID, license key or fingerprint."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.blacklist import BlacklistEntry, BlacklistType, Severity, blacklist_entry_id
from domain.errors import NotFoundError


class BlacklistEntryNotFoundError(NotFoundError):
    """Raised when no blacklist entry has the given id."""


class BlacklistCommands(CommandsBase):
    """The blacklist part of the Ledger (admin only, enforced by the API)."""

    @retry_on_conflict
    def add_blacklist_entry(self, entry_type: BlacklistType, value: str, reason: str, severity: Severity,
                            expires_at: datetime | None, added_by: UUID | None, at: datetime) -> Receipt:
        """Block a value from the next client call on; adding it again renews the entry."""
        entry_id = blacklist_entry_id(entry_type, value)
        if self._exists(entry_id):
            entry = self._load(entry_id, BlacklistEntry, BlacklistEntryNotFoundError)
            entry.readd(reason, severity, expires_at, added_by, at)
        else:
            entry = BlacklistEntry(entry_type, value, reason, severity, expires_at, added_by, at)
        return Receipt(entry.id, self.record(entry))

    def blocks(self, entry_type: BlacklistType, value: str, at: datetime) -> bool:
        """Whether an active, unexpired entry blocks this exact value at `at` (read from the store itself, so
        every process agrees at once)."""
        entry = self._optional(blacklist_entry_id(entry_type, value), BlacklistEntry, copy=False)
        return entry is not None and entry.blocks_at(at)

    @retry_on_conflict
    def remove_blacklist_entry(self, entry_id: UUID, at: datetime) -> Receipt:
        entry = self._load(entry_id, BlacklistEntry, BlacklistEntryNotFoundError)
        entry.remove(at)
        return Receipt(entry.id, self.record(entry))
