"""Security alert commands: record an alert (a detection rule fired, a limit was hit), or place a block."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.blacklist import BlacklistEntry, BlacklistType, Severity, blacklist_entry_id
from domain.client_call import CallRecord
from domain.security import SecurityAlert


class SecurityAlertCommands(CommandsBase):
    """The security-alert part of the Ledger."""

    def raise_security_alert(self, event_type: str, severity: str, product_id: UUID | None,
                             license_id: UUID | None, ip: str | None, hwid: str | None, blocked: bool,
                             details: dict[str, Any], at: datetime) -> Receipt:
        """Record one alert; `blocked` says something was refused or blocked because of it."""
        alert = SecurityAlert(event_type, severity, product_id, license_id, ip, hwid, blocked, details, at)
        return Receipt(alert.id, self.record(alert))

    def raise_call_alerts(self, detections: Sequence[tuple[int, str, CallRecord]]) -> int:
        """Raise the alert of each (call-log position, event type, call) not raised yet, in one save when none
        was; returns how many were new. Each alert's id is derived from its call, so a call read again (a
        feed restarted before its position was saved) raises nothing twice."""
        if not detections:
            return 0
        try:
            self.record(*map(_call_alert, detections))
            return len(detections)
        except RecordConflictError:  # some were raised already: the others one by one
            return sum(self._raise_once(_call_alert(detection)) for detection in detections)

    def _raise_once(self, alert: SecurityAlert) -> bool:
        try:
            self.record(alert)
        except RecordConflictError:
            return False
        return True

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


def _call_alert(detection: tuple[int, str, CallRecord]) -> SecurityAlert:
    position, event_type, call = detection
    details = {"action": call.action, "error_code": call.error_code, "call_position": position, **call.details}
    return SecurityAlert.for_call(position, event_type, call.product_id, call.license_id, call.ip, call.hwid,
                                  call.error_code is not None, details, call.at)
