"""Security alert commands: record an alert (a detection rule fired, a limit was hit), or place a block."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.blacklist import BlacklistEntry, BlacklistType, Severity, blacklist_entry_id
from domain.security import SecurityAlert


class SecurityAlertCommands(CommandsBase):
    """The security-alert part of the Ledger."""

    def raise_security_alert(self, event_type: str, severity: str, product_id: UUID | None,
                             license_id: UUID | None, ip: str | None, hwid: str | None, blocked: bool,
                             details: dict[str, Any], at: datetime) -> Receipt:
        """Record one alert; `blocked` says something was refused or blocked because of it."""
        alert = SecurityAlert(event_type, severity, product_id, license_id, ip, hwid, blocked, details, at)
        return Receipt(alert.id, self.record(alert))

    @retry_on_conflict
    def block_ip(self, event_type: str, ip: str, reason: str, duration: timedelta, details: dict[str, Any],
                 at: datetime) -> Receipt:
        """Block an address for `duration` (an expiring blacklist entry) and record why, as a blocking alert,
        in one save: the entry never exists without its alert."""
        expires_at = at + duration
        entry = self._optional(blacklist_entry_id(BlacklistType.IP, ip), BlacklistEntry)
        if entry is None:
            entry = BlacklistEntry(BlacklistType.IP, ip, reason, Severity.HIGH, expires_at, None, at)
        else:
            entry.readd(reason, Severity.HIGH, expires_at, None, at)
        details = {**details, "blacklist_entry_id": str(entry.id), "expires_at": expires_at.isoformat()}
        alert = SecurityAlert(event_type, "high", None, None, ip, None, True, details, at)
        return Receipt(alert.id, self.record(entry, alert))
