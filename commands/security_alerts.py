"""Security alert commands: record an alert (a detection rule fired, a limit was hit, a block was placed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from commands.base import CommandsBase, Receipt
from domain.security import SecurityAlert


class SecurityAlertCommands(CommandsBase):
    """The security-alert part of the Ledger."""

    def raise_security_alert(self, event_type: str, severity: str, product_id: UUID | None,
                             license_id: UUID | None, ip: str | None, hwid: str | None, blocked: bool,
                             details: dict[str, Any], at: datetime) -> Receipt:
        """Record one alert; `blocked` says something was refused or blocked because of it."""
        alert = SecurityAlert(event_type, severity, product_id, license_id, ip, hwid, blocked, details, at)
        return Receipt(alert.id, self.record(alert))
